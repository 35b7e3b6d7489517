// The IDX file format of MNIST and Fashion-MNIST (gzip-compressed or plain, told apart by magic bytes),
// read and validated: magic 0x00 0x00 <type> <ndims>, then ndims big-endian uint32 sizes, then exactly
// prod(sizes) elements. Only type 0x08 (unsigned byte) is supported, which is what both datasets use.
// Every error names the file and what is wrong with it. Reading files is Node's (node/idx-files.ts);
// here: bytes (e.g. files a page was given) to arrays and to a dataset.
import { Uint8Dataset } from './uint8-dataset.js';

const IDX_TYPES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

export interface IdxArray {
  /** Sizes of each dimension, outermost first. */
  dims: number[];
  /** prod(dims) unsigned bytes, row-major. */
  data: Uint8Array;
}

/** True when the bytes start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decodes an (uncompressed) IDX file; `source` names it in errors. */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  if (bytes.length < 4) throw new Error(`${source}: too short for an IDX file (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const hex = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(`${source}: not an IDX file (magic bytes ${hex}, expected 00 00 <type> <dims>)`);
  }
  const type = bytes[2]!;
  if (type !== 0x08) {
    const known = IDX_TYPES[type];
    throw new Error(
      `${source}: unsupported IDX data type 0x${type.toString(16).padStart(2, '0')}` +
        `${known ? ` (${known})` : ' (unknown)'}; only 0x08 (unsigned byte) is supported`,
    );
  }
  const ndims = bytes[3]!;
  if (ndims === 0) throw new Error(`${source}: IDX header declares 0 dimensions`);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new Error(`${source}: file ends inside the IDX header (${bytes.length} bytes, header needs ${headerBytes})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const found = bytes.length - headerBytes;
  if (found !== expected) {
    const what = ndims === 3 ? 'image data' : ndims === 1 ? 'label data' : 'data';
    throw new Error(
      `${source}: expected ${expected} bytes of ${what} (${dims.join(' x ')}), found ${found}` +
        (found < expected ? ' (truncated?)' : ` (${found - expected} trailing bytes)`),
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Gunzips (when the bytes start with the gzip magic) and decodes IDX bytes, with the platform's DecompressionStream. */
export async function decodeIdx(bytes: Uint8Array, source: string): Promise<IdxArray> {
  if (!isGzip(bytes)) return parseIdx(bytes, source);
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return parseIdx(new Uint8Array(await new Response(stream).arrayBuffer()), source);
  } catch (e) {
    throw new Error(`${source}: corrupt gzip data (${(e as Error).message})`);
  }
}

export interface IdxDatasetOptions {
  name: string;
  /** When given, also fixes numClasses (and every label must be below it); else numClasses = max label + 1. */
  classNames?: readonly string[];
  /** How the images and labels are named in errors (file names). */
  imagesSource?: string;
  labelsSource?: string;
}

/** An images array [n, H, W] and a labels array [n] as a single-channel labelled dataset. */
export function idxDataset(images: IdxArray, labels: IdxArray, opts: IdxDatasetOptions): Uint8Dataset {
  const imagesSource = opts.imagesSource ?? `${opts.name} images`;
  const labelsSource = opts.labelsSource ?? `${opts.name} labels`;
  if (images.dims.length !== 3) {
    throw new Error(`${imagesSource}: expected 3 dimensions [n, height, width], found [${images.dims.join(', ')}]`);
  }
  if (labels.dims.length !== 1) {
    throw new Error(`${labelsSource}: expected 1 dimension [n], found [${labels.dims.join(', ')}]`);
  }
  const [n, h, w] = images.dims as [number, number, number];
  if (labels.dims[0] !== n) {
    throw new Error(`${labelsSource}: ${labels.dims[0]} labels but ${imagesSource} has ${n} images`);
  }
  let maxLabel = -1;
  for (const l of labels.data) maxLabel = Math.max(maxLabel, l);
  const numClasses = opts.classNames ? opts.classNames.length : maxLabel + 1;
  if (maxLabel >= numClasses) {
    throw new Error(`${labelsSource}: label ${maxLabel} is outside 0..${numClasses - 1} (${numClasses} classes)`);
  }
  return new Uint8Dataset({
    name: opts.name,
    imageShape: [h, w, 1],
    pixels: images.data,
    labels: labels.data,
    numClasses,
    ...(opts.classNames ? { classNames: opts.classNames } : {}),
  });
}
