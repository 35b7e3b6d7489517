// A ring buffer of rows in a tensor: MoCo-style negative queues (MaskCo) and MOCA's online codebook
// write each step's new rows over the oldest ones at a pointer that wraps.
import * as tf from '@tensorflow/tfjs-core';

/**
 * buffer[pointer : pointer + n] = rows ([n, C] into [K, C]); returns the new buffer (a new tensor) and
 * the next pointer, (pointer + n) mod K. K must be a multiple of n so a write never wraps mid-way.
 *
 * @example
 * const next = ringWrite(queue, keys, pointer);
 * queueVariable.assign(next.buffer); pointer = next.pointer; next.buffer.dispose();
 */
export function ringWrite(buffer: tf.Tensor2D, rows: tf.Tensor2D, pointer: number): { buffer: tf.Tensor2D; pointer: number } {
  const [k, c] = buffer.shape;
  const n = rows.shape[0];
  if (rows.shape[1] !== c) throw new Error(`ringWrite: rows [${rows.shape}] for a buffer [${buffer.shape}]`);
  if (!Number.isInteger(pointer) || pointer < 0 || pointer + n > k) {
    throw new Error(`ringWrite: pointer ${pointer} + ${n} rows does not fit a buffer of ${k} (its size must be a multiple of the rows per write)`);
  }
  const out = tf.tidy(() => {
    const parts: tf.Tensor2D[] = [];
    if (pointer > 0) parts.push(tf.slice(buffer, [0, 0], [pointer, c]));
    parts.push(rows.clone());
    if (pointer + n < k) parts.push(tf.slice(buffer, [pointer + n, 0], [k - pointer - n, c]));
    return tf.concat(parts, 0);
  });
  return { buffer: out, pointer: (pointer + n) % k };
}
