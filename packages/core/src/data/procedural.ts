// A small, fast, seeded synthetic labelled dataset for tests and CLI smoke runs. Class k of K is a bar at
// orientation k*180/K degrees; every image jitters that orientation (within +-45% of the gap between
// classes) and draws the bar's position, length, width, brightness and colour, a class-independent
// distractor blob, a background level and per-pixel noise. Orientation is the only class signal, so
// raw-pixel k-NN is well above chance but far from perfect and a learned representation has room to
// do better (1-NN on raw pixels, 2000 train / 500 test at 16x16: about 65%). Image i gets label i % K
// (balanced) and depends only on the seed and i (not on the count).
import { Rng } from '../util/rng.js';
import { Uint8Dataset } from './uint8-dataset.js';

export interface ProceduralOptions {
  count: number;
  seed: number;
  /** Default 10. */
  numClasses?: number;
  /** Side length in pixels; default 16. */
  size?: number;
  /** Default 1. */
  channels?: 1 | 3;
  /** Default `procedural-<seed>`. */
  name?: string;
}

export function proceduralDataset(opts: ProceduralOptions): Uint8Dataset {
  const { count, seed } = opts;
  const numClasses = opts.numClasses ?? 10;
  const size = opts.size ?? 16;
  const channels = opts.channels ?? 1;
  if (!Number.isInteger(count) || count < 1) throw new Error(`proceduralDataset: count must be a positive integer, got ${count}`);
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new Error(`proceduralDataset: numClasses must be an integer >= 2, got ${numClasses}`);
  if (!Number.isInteger(size) || size < 4) throw new Error(`proceduralDataset: size must be an integer >= 4, got ${size}`);
  if (channels !== 1 && channels !== 3) throw new Error(`proceduralDataset: channels must be 1 or 3, got ${channels}`);

  const rng = new Rng(seed);
  const imageBytes = size * size * channels;
  const pixels = new Uint8Array(count * imageBytes);
  const labels = new Int32Array(count);
  const gap = Math.PI / numClasses;
  const colour = () => (channels === 1 ? [1] : [rng.uniform(0.3, 1), rng.uniform(0.3, 1), rng.uniform(0.3, 1)]);

  for (let i = 0; i < count; i++) {
    const label = i % numClasses;
    labels[i] = label;
    // Everything is in normalised coordinates, [-1, 1] across the image.
    const theta = label * gap + rng.uniform(-0.45, 0.45) * gap;
    const cos = Math.cos(theta);
    const sin = Math.sin(theta);
    const cx = rng.uniform(-0.5, 0.5);
    const cy = rng.uniform(-0.5, 0.5);
    const halfLength = rng.uniform(0.5, 0.9);
    const width = rng.uniform(0.1, 0.2);
    const barAmp = rng.uniform(0.55, 1);
    const barColour = colour();
    const bx = rng.uniform(-0.8, 0.8);
    const by = rng.uniform(-0.8, 0.8);
    const blobRadius = rng.uniform(0.15, 0.3);
    const blobAmp = rng.uniform(0.4, 0.9);
    const blobColour = colour();
    const background = rng.uniform(0, 0.2);

    const base = i * imageBytes;
    for (let y = 0; y < size; y++) {
      const v = ((y + 0.5) / size) * 2 - 1;
      for (let x = 0; x < size; x++) {
        const u = ((x + 0.5) / size) * 2 - 1;
        const along = Math.abs((u - cx) * cos + (v - cy) * sin);
        const across = (-(u - cx) * sin + (v - cy) * cos) / width;
        const beyond = Math.max(0, along - halfLength) / width;
        const bar = barAmp * Math.exp(-0.5 * (across * across + beyond * beyond));
        const r2 = ((u - bx) ** 2 + (v - by) ** 2) / (blobRadius * blobRadius);
        const blob = blobAmp * Math.exp(-0.5 * r2);
        for (let c = 0; c < channels; c++) {
          const value = background + bar * barColour[c]! + blob * blobColour[c]! + rng.normal(0, 0.06);
          pixels[base + (y * size + x) * channels + c] = Math.round(255 * Math.min(1, Math.max(0, value)));
        }
      }
    }
  }

  return new Uint8Dataset({
    name: opts.name ?? `procedural-${seed}`,
    imageShape: [size, size, channels],
    pixels,
    labels,
    numClasses,
    classNames: Array.from({ length: numClasses }, (_, k) => `bar-${Math.round((k * 180) / numClasses)}deg`),
  });
}
