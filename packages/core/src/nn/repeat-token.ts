// repeatToken: a learned token ([1, 1, D] or [D]) repeated as a [B, N, D] block (class tokens, mask
// tokens). It broadcasts with an add rather than tf.tile: tfjs's Tile gradient is one slice and one
// add per copy (B * N pairs of ops), the add's is a single sum over the copies.
import * as tf from '@tensorflow/tfjs-core';

export function repeatToken(token: tf.Tensor, batch: number, count: number): tf.Tensor3D {
  const d = token.shape[token.rank - 1]!;
  if (token.size !== d) throw new Error(`repeatToken: token must be [D] or [1, 1, D], got shape [${token.shape}]`);
  return tf.tidy(() => tf.add(tf.zeros([batch, count, d]), token.rank === 3 ? token : tf.reshape(token, [1, 1, d])) as tf.Tensor3D);
}
