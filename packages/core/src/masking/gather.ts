// Picking and placing tokens by per-sample indices (lightly's get_at_index / MAE's gather along the
// token axis), and filling masked positions with a mask token. gatherTokens is a flat gather over
// [B*N, D] with indices offset by b*N, and its gradient is a scatterND (which sums repeated indices):
// tf.gather's own gradient needs the UnsortedSegmentSum kernel, which the wasm backend lacks, while
// GatherV2 and ScatterNd exist on every backend we run.
import * as tf from '@tensorflow/tfjs-core';

function checkIndices(fn: string, x: tf.Tensor, idx: tf.Tensor): void {
  if (x.rank !== 3) throw new Error(`${fn}: x must be [B, N, D], got shape [${x.shape}]`);
  if (idx.rank !== 2 || idx.shape[0] !== x.shape[0]) {
    throw new Error(`${fn}: indices must be [B = ${x.shape[0]}, K], got shape [${idx.shape}]`);
  }
  if (idx.dtype !== 'int32') throw new Error(`${fn}: indices must be int32, got ${idx.dtype}`);
}

/**
 * out[b, k, :] = x[b, idx[b, k], :]. x [B, N, D], idx [B, K] int32 with values in [0, N) (not checked:
 * that would need a readback) -> [B, K, D]. Differentiable w.r.t. x on every backend; a position
 * picked twice receives the sum of both gradients.
 */
export function gatherTokens(x: tf.Tensor3D, idx: tf.Tensor2D): tf.Tensor3D {
  checkIndices('gatherTokens', x, idx);
  const [b, n, d] = x.shape;
  const k = idx.shape[1];
  return tf.tidy(() => {
    const offsets = tf.tensor2d(Int32Array.from({ length: b }, (_, i) => i * n), [b, 1], 'int32');
    const flatIdx = tf.reshape(tf.add(idx, offsets), [b * k]);
    const gather = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [flat, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
      save([flatIdx]); // kept for the backward pass, which may run after this tidy has ended
      return {
        value: tf.gather(flat, flatIdx),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.scatterND(tf.reshape(saved[0]!, [b * k, 1]), dy, [b * n, d]),
      };
    });
    return tf.reshape(gather(tf.reshape(x, [b * n, d])), [b, k, d]);
  });
}

/**
 * Puts tokens laid out as concat(kept, masked) along the token axis (x [B, N', D]) back in token
 * order, with a TokenMask's `restore` [B, N], as `out[b, n] = x[b, restore[b, n]]`. A named gatherTokens.
 */
export function restoreTokens(x: tf.Tensor3D, restore: tf.Tensor2D): tf.Tensor3D {
  checkIndices('restoreTokens', x, restore);
  return gatherTokens(x, restore);
}

/**
 * x * (1 - mask) + token * mask, per position: mask [B, N] float (1 = masked) over x [B, N, D];
 * token [D] or [1, 1, D] (a learned mask token; any rank accepted by the type, checked at run time). Differentiable w.r.t. x and token.
 */
export function replaceMasked(x: tf.Tensor3D, mask: tf.Tensor2D, token: tf.Tensor): tf.Tensor3D {
  if (x.rank !== 3) throw new Error(`replaceMasked: x must be [B, N, D], got shape [${x.shape}]`);
  const [b, n, d] = x.shape;
  if (mask.rank !== 2 || mask.shape[0] !== b || mask.shape[1] !== n) {
    throw new Error(`replaceMasked: mask must be [${b}, ${n}], got shape [${mask.shape}]`);
  }
  const tokenOk = token.rank === 1 ? token.shape[0] === d : token.shape.join() === `1,1,${d}`;
  if (!tokenOk) throw new Error(`replaceMasked: token must be [${d}] or [1, 1, ${d}], got shape [${token.shape}]`);
  return tf.tidy(() => {
    const m = tf.expandDims(mask, 2);
    return tf.add(tf.mul(x, tf.sub(1, m)), tf.mul(tf.reshape(token, [1, 1, d]), m));
  });
}
