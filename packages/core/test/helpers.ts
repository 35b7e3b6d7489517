// Shared test set-up: one backend per test file (native TensorFlow when built, else wasm), silent.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendInfo } from '../src/backend/init-backend.js';

export async function useBackend(): Promise<BackendInfo> {
  return initBackend({ log: null });
}

/** Max |a-b| / max(|b|, floor) over two arrays. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  let scale = floor;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
  return worst;
}

export function toArray(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}
