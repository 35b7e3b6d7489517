// The one Dataset interface every loader implements. Pixels stay on the JS side as uint8 until a batch
// is requested, so datasets hold no tensors and never leak; a batch comes as float32 in [0, 1], NHWC.
import * as tf from '@tensorflow/tfjs-core';

export interface Batch {
  /** [n, H, W, C] row-major, float32 in [0, 1]. */
  images: Float32Array;
  /** Class indices, or null for an unlabelled dataset. */
  labels: Int32Array | null;
  /** [n, H, W, C]. */
  shape: [number, number, number, number];
}

export interface Dataset {
  /** Human-readable, e.g. `fashion-mnist/train`. */
  readonly name: string;
  readonly length: number;
  /** [H, W, C] of every image. */
  readonly imageShape: [number, number, number];
  /** Number of classes (0 when unlabelled). */
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  readonly labelled: boolean;
  /** Images (and labels) at these indices, in this order. Throws on an out-of-range index. */
  getBatch(indices: ArrayLike<number>): Batch;
}

/** A batch as tensors; the caller disposes them. */
export function batchToTensors(batch: Batch): { images: tf.Tensor4D; labels: tf.Tensor1D | null } {
  return {
    images: tf.tensor4d(batch.images, batch.shape, 'float32'),
    labels: batch.labels ? tf.tensor1d(batch.labels, 'int32') : null,
  };
}
