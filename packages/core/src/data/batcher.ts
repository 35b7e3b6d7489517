// Batches over a Dataset. `Batcher`: shuffled, epoch by epoch, each epoch's order a permutation drawn
// from the Rng it owns; resumable, since getState() holds the position and the Rng state from just
// before the current epoch's permutation was drawn, so setState() redraws the same permutation and a
// resumed run sees exactly the batches the original run would have. `sequentialBatches`: in order, for
// evaluation.
//
// Prefetch, honestly: right after next() hands out a batch, the next one's typed arrays are assembled
// in a setImmediate callback (a 0 ms timer in browsers). That is still JavaScript on Node's one main thread, so it overlaps only
// with time the training loop spends waiting on the event loop (awaiting a backend's async data() or
// file I/O such as checkpoint writes, logging). A step that runs synchronously to completion (the cpu
// and wasm backends, tfjs-node's synchronous kernels, dataSync) does not overlap with it at all; the
// work then simply happens between steps instead of inside next(). If next() is called before the
// callback has run, the callback is cancelled and the batch is assembled there and then.
import type { Rng, RngState } from '../util/rng.js';
import type { Batch, Dataset } from './dataset.js';
import { onNextTurn } from '../util/yield.js';

export interface BatcherOptions {
  batchSize: number;
  /** Owned by the batcher from here on (nothing else may draw from it); e.g. `rng.fork()`. */
  rng: Rng;
  /** Drop each epoch's last, smaller batch (default true: every batch has batchSize items). */
  dropLast?: boolean;
  /** Assemble the next batch in a setImmediate after each next() (default true; see the header). */
  prefetch?: boolean;
}

export interface BatcherItem {
  batch: Batch;
  /** Dataset indices of the batch's items, in order. */
  indices: Int32Array;
  /** Epoch the batch belongs to, from 0. */
  epoch: number;
  /** Offset of the batch's first item within the epoch's order. */
  position: number;
}

/** JSON-serialisable; `length`, `batchSize` and `dropLast` are checked on setState. */
export interface BatcherState {
  epoch: number;
  position: number;
  /** The Rng state just before this epoch's permutation was drawn. */
  rng: { words: RngState; spareNormal: number | null };
  length: number;
  batchSize: number;
  dropLast: boolean;
}

export class Batcher {
  readonly batchSize: number;
  readonly dropLast: boolean;
  /** Batches per epoch. */
  readonly stepsPerEpoch: number;
  private readonly prefetch: boolean;
  private readonly rng: Rng;
  private epoch = 0;
  private position = 0;
  private epochStartRng: BatcherState['rng'];
  private order: Int32Array;
  private pending: { epoch: number; position: number; batch: Batch } | null = null;
  private cancelPending: (() => void) | null = null;

  constructor(
    private readonly dataset: Dataset,
    opts: BatcherOptions,
  ) {
    const { batchSize } = opts;
    this.dropLast = opts.dropLast ?? true;
    this.prefetch = opts.prefetch ?? true;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`Batcher: batchSize must be a positive integer, got ${batchSize}`);
    if (dataset.length === 0) throw new Error(`Batcher: ${dataset.name} is empty`);
    if (this.dropLast && batchSize > dataset.length) {
      throw new Error(`Batcher: batchSize ${batchSize} exceeds the ${dataset.length} images of ${dataset.name} with dropLast`);
    }
    this.batchSize = batchSize;
    this.stepsPerEpoch = this.dropLast ? Math.floor(dataset.length / batchSize) : Math.ceil(dataset.length / batchSize);
    this.rng = opts.rng;
    this.epochStartRng = this.rng.getState();
    this.order = this.rng.permutation(dataset.length);
  }

  /** The next batch; rolls over to a new epoch (and a new permutation) when this one is used up. */
  next(): BatcherItem {
    const { epoch, position } = this;
    const indices = this.currentIndices();
    let batch: Batch;
    if (this.pending && this.pending.epoch === epoch && this.pending.position === position) {
      batch = this.pending.batch;
    } else {
      this.cancelPrefetch();
      batch = this.dataset.getBatch(indices);
    }
    this.pending = null;
    this.position += indices.length;
    const remaining = this.dataset.length - this.position;
    if (remaining === 0 || (this.dropLast && remaining < this.batchSize)) this.startEpoch(this.epoch + 1);
    if (this.prefetch) this.schedulePrefetch();
    return { batch, indices: Int32Array.from(indices), epoch, position };
  }

  getState(): BatcherState {
    return {
      epoch: this.epoch,
      position: this.position,
      rng: { words: [...this.epochStartRng.words], spareNormal: this.epochStartRng.spareNormal },
      length: this.dataset.length,
      batchSize: this.batchSize,
      dropLast: this.dropLast,
    };
  }

  setState(state: BatcherState): void {
    for (const key of ['length', 'batchSize', 'dropLast'] as const) {
      const mine = key === 'length' ? this.dataset.length : this[key];
      if (state[key] !== mine) throw new Error(`Batcher.setState: saved ${key} ${state[key]} differs from this batcher's ${mine}`);
    }
    if (!Number.isInteger(state.epoch) || state.epoch < 0) throw new Error(`Batcher.setState: bad epoch ${state.epoch}`);
    if (!Number.isInteger(state.position) || state.position < 0 || state.position + (this.dropLast ? this.batchSize : 1) > this.dataset.length) {
      throw new Error(`Batcher.setState: bad position ${state.position} for ${this.dataset.length} images`);
    }
    this.cancelPrefetch();
    this.rng.setState(state.rng);
    this.startEpoch(state.epoch);
    this.position = state.position;
  }

  /** Cancels a scheduled prefetch (the batcher stays usable). */
  cancelPrefetch(): void {
    this.cancelPending?.();
    this.cancelPending = null;
    this.pending = null;
  }

  private startEpoch(epoch: number): void {
    this.epoch = epoch;
    this.position = 0;
    this.epochStartRng = this.rng.getState();
    this.order = this.rng.permutation(this.dataset.length);
  }

  private currentIndices(): Int32Array {
    return this.order.subarray(this.position, Math.min(this.position + this.batchSize, this.dataset.length));
  }

  private schedulePrefetch(): void {
    this.cancelPrefetch();
    const { epoch, position } = this;
    const indices = this.currentIndices();
    this.cancelPending = onNextTurn(() => {
      this.cancelPending = null;
      // A failure here is left for next() to raise, when it assembles the batch itself.
      try {
        this.pending = { epoch, position, batch: this.dataset.getBatch(indices) };
      } catch {
        this.pending = null;
      }
    });
  }
}

/** The dataset in order, in batches of batchSize (the last may be smaller). */
export function* sequentialBatches(
  dataset: Dataset,
  batchSize: number,
): Generator<{ batch: Batch; indices: Int32Array; start: number }> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`sequentialBatches: batchSize must be a positive integer, got ${batchSize}`);
  for (let start = 0; start < dataset.length; start += batchSize) {
    const indices = new Int32Array(Math.min(batchSize, dataset.length - start));
    for (let k = 0; k < indices.length; k++) indices[k] = start + k;
    yield { batch: dataset.getBatch(indices), indices, start };
  }
}
