// Frozen feature extraction for the evaluation protocols: a feature function (images -> [B, D]) run
// over a Dataset in fixed-size batches, in order, each batch inside tf.tidy (nothing outlives it but
// the feature tensor, which is read back asynchronously and disposed), so extraction leaks no tensors
// and is deterministic. Features land on the JS side as one row-major Float32Array [N, D] with labels.
// Also the `pixels` baseline feature (flattened raw pixels) and the ViT feature function (average-
// pooled patch tokens or the class token, after an optional per-channel normalisation).
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../data/dataset.js';
import type { ParamTree } from '../nn/params.js';
import type { VitConfig } from '../vit/config.js';
import { vitForward, vitFeatures } from '../vit/vit.js';
import { yieldToEventLoop } from '../util/yield.js';
import { assertWebGpuHealthy } from '../backend/webgpu.js';

/**
 * Frozen features of a batch: images [B, H, W, C] float32 in [0, 1] -> [B, D]. It must be a pure
 * function of its input (no randomness, no state); tensors it creates are cleaned up by the caller's
 * tf.tidy, and it must not dispose its input.
 */
export type FeatureFn = (images: tf.Tensor4D) => tf.Tensor2D;

/** Features of N examples, row-major, with their labels (null for an unlabelled dataset). */
export interface FeatureSet {
  /** [n, dim] row-major. */
  features: Float32Array;
  /** [n] class indices, or null. */
  labels: Int32Array | null;
  n: number;
  dim: number;
  /** Number of classes of the source dataset (0 when unknown or unlabelled). */
  numClasses: number;
}

/** A FeatureSet whose labels are known (what every protocol needs). */
export interface LabelledFeatures extends FeatureSet {
  labels: Int32Array;
}

export interface ExtractOptions {
  /** Images per forward pass (default 256). Results do not depend on it beyond float rounding. */
  batchSize?: number;
  /** Only these dataset indices, in this order (default: all, 0..length-1). */
  indices?: ArrayLike<number>;
  /** Called after each batch with (examples done, total). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Runs `featureFn` over the dataset in batches and gathers the features on the JS side. No gradient is
 * recorded (the forward runs outside any gradient scope and the features are read back as plain
 * arrays). Throws if the feature function returns a wrong shape or a non-finite value, naming the row.
 */
export async function extractFeatures(dataset: Dataset, featureFn: FeatureFn, options: ExtractOptions = {}): Promise<FeatureSet> {
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`extractFeatures: batchSize must be a positive integer, got ${batchSize}`);
  const n = options.indices ? options.indices.length : dataset.length;
  const labels = dataset.labelled ? new Int32Array(n) : null;
  let features: Float32Array | null = null;
  let dim = 0;
  const order = new Int32Array(batchSize);
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const idx = count === batchSize ? order : new Int32Array(count);
    for (let i = 0; i < count; i++) idx[i] = options.indices ? options.indices[start + i]! : start + i;
    await yieldToEventLoop();
    const batch = dataset.getBatch(idx);
    if (batch.shape[0] !== count) throw new Error(`extractFeatures: ${dataset.name} returned ${batch.shape[0]} images for ${count} indices`);
    const out = tf.tidy(() => {
      const images = tf.tensor4d(batch.images, batch.shape, 'float32');
      const f = featureFn(images);
      if (f.rank !== 2 || f.shape[0] !== count) {
        throw new Error(`extractFeatures: the feature function returned shape [${f.shape}] for a batch of ${count}; expected [${count}, D]`);
      }
      return f.dtype === 'float32' ? f : tf.cast(f, 'float32');
    });
    let values: Float32Array;
    try {
      values = (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
    if (features === null) {
      dim = out.shape[1]!;
      features = new Float32Array(n * dim);
    } else if (out.shape[1] !== dim) {
      throw new Error(`extractFeatures: feature dimension changed from ${dim} to ${out.shape[1]} at example ${start}`);
    }
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) {
        throw new Error(`extractFeatures: non-finite feature (${values[i]}) for example ${start + Math.floor(i / dim)} of ${dataset.name}`);
      }
    }
    features.set(values, start * dim);
    if (labels) {
      if (!batch.labels) throw new Error(`extractFeatures: ${dataset.name} is labelled but returned no labels`);
      labels.set(batch.labels, start);
    }
    options.onProgress?.(start + count, n);
  }
  assertWebGpuHealthy(`while extracting features of ${dataset.name}`);
  return { features: features ?? new Float32Array(0), labels, n, dim, numClasses: dataset.labelled ? dataset.numClasses : 0 };
}

/** Narrows a FeatureSet to a labelled one, or throws. */
export function requireLabels(set: FeatureSet, what = 'features'): LabelledFeatures {
  if (!set.labels) throw new Error(`${what}: labels are required`);
  if (set.labels.length !== set.n || set.features.length !== set.n * set.dim) {
    throw new Error(`${what}: inconsistent sizes (n=${set.n}, dim=${set.dim}, ${set.features.length} values, ${set.labels.length} labels)`);
  }
  return set as LabelledFeatures;
}

/** The `pixels` baseline: every image flattened to its raw [0, 1] values, [B, H*W*C]. */
export const pixelFeatures: FeatureFn = (images) => tf.reshape(images, [images.shape[0], -1]) as tf.Tensor2D;

export interface VitFeatureOptions {
  /** 'avg' (mean of the final patch tokens, the default) or 'cls' (the class token). */
  pool?: 'avg' | 'cls';
  /** Applied first, to the [0, 1] images (e.g. the resize used in pretraining). */
  preprocess?: (images: tf.Tensor4D) => tf.Tensor4D;
  /** Per-channel normalisation (x - mean[c]) / std[c] after `preprocess`, as in pretraining. */
  normalize?: { mean: readonly number[]; std: readonly number[] };
}

/**
 * A frozen ViT as a feature function: the final-norm tokens of `vitForward` (all tokens, no mask,
 * `inference: true`: fused ops on the native backend), pooled by `vitFeatures`. The parameters are
 * only read, never updated.
 */
export function vitFeatureFn(config: VitConfig, params: ParamTree, options: VitFeatureOptions = {}): FeatureFn {
  const pool = options.pool ?? 'avg';
  const norm = options.normalize;
  if (norm) {
    const c = config.inChannels;
    if (norm.mean.length !== c || norm.std.length !== c) {
      throw new Error(`vitFeatureFn: normalize needs ${c} means and stds, got ${norm.mean.length} and ${norm.std.length}`);
    }
    if (norm.std.some((s) => !(s > 0))) throw new Error('vitFeatureFn: normalize.std must be positive');
  }
  return (images) => {
    let x = options.preprocess ? options.preprocess(images) : images;
    if (norm) {
      x = tf.div(tf.sub(x, tf.tensor1d(norm.mean as number[], 'float32')), tf.tensor1d(norm.std as number[], 'float32')) as tf.Tensor4D;
    }
    const { tokens } = vitForward(config, params, x, { inference: true });
    return vitFeatures(config, tokens, pool);
  };
}
