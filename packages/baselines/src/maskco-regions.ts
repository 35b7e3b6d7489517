// MaskCo's region geometry (see maskco.ts for the method): where a view's pixels come from in the
// source image, the overlap of two views, the region R sampled inside it (snapped to the query view's
// token grid), R mapped into the key view (a fractional box of key tokens), and the token-level
// "RoIAlign" that pools a region as a weighted mean of patch tokens (one row of the pooling matrix A).
//
// Coordinates are continuous, pixel edges at integers: a pixel (y, x) covers [y, y + 1) x [x, x + 1),
// token (i, j) of patch size P covers [iP, (i + 1)P) x [jP, (j + 1)P) of its view. A view is a crop
// box of the source resized to height x width (core's resizedCrop samples output pixel y at source
// row top + (y + 0.5) * crop.height / height - 0.5, i.e. view coordinate v maps to top + v * scale),
// then mirrored left-right when `flip` (view column x <-> width - x).
import { sampleResizedCropBox, type CropBox, type Rng } from '@maskedssl/core';

/** A rectangle in continuous coordinates: rows [y0, y1), columns [x0, x1) (pixels or tokens). */
export interface Rect {
  y0: number;
  x0: number;
  y1: number;
  x1: number;
}

/** How a view was made: its crop box in source pixels, a left-right flip after the resize, its size. */
export interface ViewGeometry {
  crop: CropBox;
  flip: boolean;
  height: number;
  width: number;
}

/** An integer box of tokens: rows [top, top + height), columns [left, left + width). */
export interface TokenBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** Slack for float round-off when snapping to the token grid and checking containment. */
const EPS = 1e-6;

/** A rectangle of view coordinates in source coordinates (undoes the flip, then the crop and resize). */
export function viewToSource(r: Rect, g: ViewGeometry): Rect {
  const sy = g.crop.height / g.height;
  const sx = g.crop.width / g.width;
  const [a, b] = g.flip ? [g.width - r.x1, g.width - r.x0] : [r.x0, r.x1];
  return { y0: g.crop.top + r.y0 * sy, y1: g.crop.top + r.y1 * sy, x0: g.crop.left + a * sx, x1: g.crop.left + b * sx };
}

/** A rectangle of source coordinates in view coordinates (crop and resize, then the flip). */
export function sourceToView(r: Rect, g: ViewGeometry): Rect {
  const sy = g.height / g.crop.height;
  const sx = g.width / g.crop.width;
  const a = (r.x0 - g.crop.left) * sx;
  const b = (r.x1 - g.crop.left) * sx;
  const [x0, x1] = g.flip ? [g.width - b, g.width - a] : [a, b];
  return { y0: (r.y0 - g.crop.top) * sy, y1: (r.y1 - g.crop.top) * sy, x0, x1 };
}

/** The intersection of two crop boxes in source pixels, or null when they do not overlap. */
export function cropOverlap(a: CropBox, b: CropBox): Rect | null {
  const r = {
    y0: Math.max(a.top, b.top),
    x0: Math.max(a.left, b.left),
    y1: Math.min(a.top + a.height, b.top + b.height),
    x1: Math.min(a.left + a.width, b.left + b.width),
  };
  return r.y1 > r.y0 && r.x1 > r.x0 ? r : null;
}

/** The whole tokens of a `grid` x `grid` view (patch size `patch`) lying inside `r` (view pixels). */
export function tokensInside(r: Rect, patch: number, grid: number): { top: number; left: number; rows: number; cols: number } {
  const top = Math.max(0, Math.ceil(r.y0 / patch - EPS));
  const left = Math.max(0, Math.ceil(r.x0 / patch - EPS));
  const bottom = Math.min(grid, Math.floor(r.y1 / patch + EPS));
  const right = Math.min(grid, Math.floor(r.x1 / patch + EPS));
  return { top, left, rows: Math.max(0, bottom - top), cols: Math.max(0, right - left) };
}

/**
 * An integer token box inside `r` (view pixels): height and width uniform in [lo, min(hi, room)],
 * then a uniform position (4 draws). Null (no draw) when fewer than lo tokens fit either way.
 */
export function sampleTokenBox(rng: Rng, r: Rect, patch: number, grid: number, size: readonly [number, number]): TokenBox | null {
  const [lo, hi] = size;
  const room = tokensInside(r, patch, grid);
  if (room.rows < lo || room.cols < lo) return null;
  const height = lo + rng.int(Math.min(hi, room.rows) - lo + 1);
  const width = lo + rng.int(Math.min(hi, room.cols) - lo + 1);
  return { top: room.top + rng.int(room.rows - height + 1), left: room.left + rng.int(room.cols - width + 1), height, width };
}

/** A token box as a rectangle of view pixels. */
export function tokenBoxPixels(box: TokenBox, patch: number): Rect {
  return { y0: box.top * patch, x0: box.left * patch, y1: (box.top + box.height) * patch, x1: (box.left + box.width) * patch };
}

/**
 * A token box of view `from` as a (generally fractional) box of tokens of view `to`: from tokens ->
 * from pixels -> source pixels -> to pixels -> to tokens, clamped to the `to` grid (only round-off
 * can leave it when the box lies in both crops).
 */
export function mapTokenBox(box: TokenBox, from: ViewGeometry, to: ViewGeometry, patch: number): Rect {
  const r = sourceToView(viewToSource(tokenBoxPixels(box, patch), from), to);
  const gy = to.height / patch;
  const gx = to.width / patch;
  const c = (v: number, max: number) => Math.min(max, Math.max(0, v / patch));
  return { y0: c(r.y0, gy), x0: c(r.x0, gx), y1: c(r.y1, gy), x1: c(r.x1, gx) };
}

/** One image's pair of views and its region(s). */
export interface RegionPair {
  /** View a (the query of the main direction). */
  a: ViewGeometry;
  /** View b (the key of the main direction). */
  b: ViewGeometry;
  /** R on view a's token grid (masked in a; its key is pooled from b). */
  regionA: TokenBox;
  /** The symmetric direction's region on view b's grid (masked in b, key from a); only when asked. */
  regionB?: TokenBox;
  /** True when no pair of crops in `maxTries` left room for a region and b took a's crop. */
  fallback: boolean;
}

export interface RegionPairOptions {
  /** Source (and view) height and width in pixels; views are resized back to this size. */
  height: number;
  width: number;
  patch: number;
  /** Crop area fraction range and aspect ratio range (RandomResizedCrop's). */
  scale: readonly [number, number];
  ratio: readonly [number, number];
  /** Region side range [lo, hi] in tokens. */
  regionSize: readonly [number, number];
  /** Also sample a region on view b's grid (for the symmetrised loss). */
  symmetric: boolean;
  /** Crop pairs tried before falling back to identical crops (default 10). */
  maxTries?: number;
}

/**
 * Draws, for one image: the two flips (one rng.next() each, flip when < 0.5), then up to `maxTries`
 * pairs of crops (sampleResizedCropBox) until their overlap holds at least lo x lo whole tokens of
 * view a (and of view b when symmetric), else b takes a's last crop; then the region(s).
 */
export function sampleRegionPair(rng: Rng, o: RegionPairOptions): RegionPair {
  const { height, width, patch } = o;
  if (height % patch !== 0 || width % patch !== 0) throw new Error(`sampleRegionPair: ${height}x${width} is not divisible by the patch size ${patch}`);
  const grid = height / patch;
  const flipA = rng.next() < 0.5;
  const flipB = rng.next() < 0.5;
  const geom = (crop: CropBox, flip: boolean): ViewGeometry => ({ crop, flip, height, width });
  const fits = (r: Rect, g: ViewGeometry) => {
    const t = tokensInside(sourceToView(r, g), patch, grid);
    return t.rows >= o.regionSize[0] && t.cols >= o.regionSize[0];
  };
  let a: ViewGeometry | null = null;
  let b: ViewGeometry | null = null;
  let overlap: Rect | null = null;
  const tries = o.maxTries ?? 10;
  for (let t = 0; t < tries; t++) {
    a = geom(sampleResizedCropBox(rng, height, width, o.scale, o.ratio), flipA);
    b = geom(sampleResizedCropBox(rng, height, width, o.scale, o.ratio), flipB);
    overlap = cropOverlap(a.crop, b.crop);
    if (overlap && fits(overlap, a) && (!o.symmetric || fits(overlap, b))) break;
    overlap = null;
  }
  const fallback = overlap === null;
  if (fallback) {
    a ??= geom(sampleResizedCropBox(rng, height, width, o.scale, o.ratio), flipA);
    b = geom(a.crop, flipB);
    overlap = cropOverlap(a.crop, b.crop)!;
  }
  const region = (g: ViewGeometry) => {
    const box = sampleTokenBox(rng, sourceToView(overlap!, g), patch, grid, o.regionSize);
    if (!box) throw new Error(`sampleRegionPair: no ${o.regionSize[0]}x${o.regionSize[0]} token region fits a ${grid}x${grid} grid`);
    return box;
  };
  const regionA = region(a!);
  return { a: a!, b: b!, regionA, ...(o.symmetric && { regionB: region(b!) }), fallback };
}

/** Pooling weights (length grid^2, row-major) that average the tokens of `box` uniformly. */
export function uniformPoolingRow(box: TokenBox, grid: number): Float32Array {
  const row = new Float32Array(grid * grid);
  const w = 1 / (box.height * box.width);
  for (let i = box.top; i < box.top + box.height; i++) row.fill(w, i * grid + box.left, i * grid + box.left + box.width);
  return row;
}

/**
 * Token-level RoIAlign + average: `samples` x `samples` points at the bin centres of the fractional
 * token box `box`, each bilinearly interpolated from the token centres (j + 0.5, i + 0.5) with the
 * coordinates clamped to the centres of the border tokens; the mean of their coefficients (sums to 1).
 */
export function bilinearPoolingRow(box: Rect, grid: number, samples: number): Float32Array {
  const row = new Float32Array(grid * grid);
  const lattice = (lo: number, hi: number) =>
    Array.from({ length: samples }, (_, k) => {
      const t = Math.min(grid - 1, Math.max(0, lo + ((k + 0.5) * (hi - lo)) / samples - 0.5));
      const i0 = Math.floor(t);
      return { i0, i1: Math.min(i0 + 1, grid - 1), f: t - i0 };
    });
  const ys = lattice(box.y0, box.y1);
  const xs = lattice(box.x0, box.x1);
  const n = samples * samples;
  for (const y of ys) {
    for (const x of xs) {
      row[y.i0 * grid + x.i0]! += ((1 - y.f) * (1 - x.f)) / n;
      row[y.i0 * grid + x.i1]! += ((1 - y.f) * x.f) / n;
      row[y.i1 * grid + x.i0]! += (y.f * (1 - x.f)) / n;
      row[y.i1 * grid + x.i1]! += (y.f * x.f) / n;
    }
  }
  return row;
}
