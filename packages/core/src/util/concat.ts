// Joining typed arrays built row by row on the JS side (masks, pooling rows) into one Float32Array,
// ready for tf.tensor2d.

/** The values of `parts`, one after another, as float32. */
export function concatFloat32(parts: readonly ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
