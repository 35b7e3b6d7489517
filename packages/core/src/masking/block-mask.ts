// Block-wise token masking, as BEiT's MaskingGenerator: per sample, random rectangles of patches are
// added until the target count is reached. Each block draws an area uniformly in [minBlock, remaining]
// (remaining capped at maxBlock) and an aspect ratio log-uniformly in [minAspect, maxAspect]; a block is
// accepted if it fits strictly inside the grid and adds between 1 and `remaining` new patches, with
// `attempts` tries per block. Randomness comes from the seeded Rng, so a seed gives the same mask on
// every backend. Returns the same TokenMask as randomTokenMask.
import type { Rng } from '../util/rng.js';
import { checkBatch, maskedCount, tokenMaskFromIndices, type MaskAmount, type TokenMask } from './random-mask.js';

export interface BlockMaskOptions {
  /** Smallest block area drawn (BEiT's min_num_patches), default 4. */
  minBlock?: number;
  /** Largest block area drawn (BEiT's max_num_patches), default: no cap beyond the remaining count. */
  maxBlock?: number;
  /** Aspect-ratio range (h / w), default [0.3, 1 / 0.3]. */
  minAspect?: number;
  maxAspect?: number;
  /** Tries per block before giving up on blocks, default 10 (BEiT's fixed value). */
  attempts?: number;
}

/**
 * Block-wise masking of a `gridSize` = [height, width] patch grid (tokens in row-major order) for
 * each of `batchSize` samples, drawn in sample order. `amount` is a ratio (MAE rounding, see
 * maskedCount) or `{ numMasked }`. Exactly numMasked positions are masked per sample. Returns new
 * tensors the caller disposes.
 */
export function blockTokenMask(
  rng: Rng,
  batchSize: number,
  gridSize: readonly [number, number],
  amount: MaskAmount,
  options: BlockMaskOptions = {},
): TokenMask {
  const [height, width] = gridSize;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new Error(`blockTokenMask: gridSize must be two integers >= 1, got [${gridSize}]`);
  }
  const n = height * width;
  checkBatch(batchSize, n);
  const target = maskedCount(n, amount);
  const minBlock = options.minBlock ?? 4;
  const maxBlock = options.maxBlock ?? n;
  const minAspect = options.minAspect ?? 0.3;
  const maxAspect = options.maxAspect ?? 1 / minAspect;
  const attempts = options.attempts ?? 10;
  if (!(minBlock >= 1)) throw new Error(`blockTokenMask: minBlock must be >= 1, got ${minBlock}`);
  if (!(maxBlock >= 1)) throw new Error(`blockTokenMask: maxBlock must be >= 1, got ${maxBlock}`);
  if (!(minAspect > 0 && maxAspect >= minAspect)) {
    throw new Error(`blockTokenMask: need 0 < minAspect <= maxAspect, got minAspect ${minAspect}, maxAspect ${maxAspect}`);
  }
  if (!Number.isInteger(attempts) || attempts < 1) throw new Error(`blockTokenMask: attempts must be an integer >= 1, got ${attempts}`);
  const logAspect = [Math.log(minAspect), Math.log(maxAspect)] as const;

  const keep = new Int32Array(batchSize * (n - target));
  const masked = new Int32Array(batchSize * target);
  const grid = new Uint8Array(n);
  for (let b = 0; b < batchSize; b++) {
    grid.fill(0);
    let count = 0;
    // One block: BEiT's `_mask`. Returns how many new positions it masked (0 if all tries failed).
    const addBlock = (maxNew: number): number => {
      for (let attempt = 0; attempt < attempts; attempt++) {
        const area = rng.uniform(minBlock, maxNew);
        const aspect = Math.exp(rng.uniform(logAspect[0], logAspect[1]));
        const h = Math.round(Math.sqrt(area * aspect));
        const w = Math.round(Math.sqrt(area / aspect));
        if (w >= width || h >= height) continue;
        const top = rng.int(height - h + 1);
        const left = rng.int(width - w + 1);
        let already = 0;
        for (let i = top; i < top + h; i++) for (let j = left; j < left + w; j++) already += grid[i * width + j]!;
        const fresh = h * w - already;
        if (fresh > 0 && fresh <= maxNew) {
          for (let i = top; i < top + h; i++) for (let j = left; j < left + w; j++) grid[i * width + j] = 1;
          return fresh;
        }
      }
      return 0;
    };
    while (count < target) {
      const added = addBlock(Math.min(target - count, maxBlock));
      if (added === 0) break;
      count += added;
    }
    // BEiT never overshoots (a block is accepted only if its new positions fit in what remains) but
    // can stop short when every try fails; top up with uniformly random unmasked positions so that
    // exactly `target` are masked.
    if (count < target) {
      const free: number[] = [];
      for (let p = 0; p < n; p++) if (grid[p] === 0) free.push(p);
      const order = rng.permutation(free.length);
      for (let i = 0; i < target - count; i++) grid[free[order[i]!]!] = 1;
    }
    let k = b * (n - target);
    let m = b * target;
    for (let p = 0; p < n; p++) {
      if (grid[p] === 1) masked[m++] = p;
      else keep[k++] = p;
    }
  }
  return tokenMaskFromIndices(batchSize, n, keep, masked);
}
