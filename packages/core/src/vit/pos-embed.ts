// Fixed 2-D sine-cosine position embedding (MAE's get_2d_sincos_pos_embed). For the token at grid row i,
// column j the first D/2 channels encode j and the last D/2 encode i; each half is
// [sin(pos * w_k) for k < D/4, cos(pos * w_k) for k < D/4] with w_k = 10000^(-k / (D/4)).
// An optional all-zero row is prepended for the class token.

export function sinCos1d(dim: number, pos: number, out: Float32Array, offset: number): void {
  const quarter = dim / 2;
  for (let k = 0; k < quarter; k++) {
    const omega = 1 / Math.pow(10000, k / quarter);
    out[offset + k] = Math.sin(pos * omega);
    out[offset + quarter + k] = Math.cos(pos * omega);
  }
}

/** [(clsToken ? 1 : 0) + gridH*gridW, dim] as a flat Float32Array (row-major). */
export function sinCos2dPosEmbed(dim: number, gridH: number, gridW: number, clsToken: boolean): Float32Array {
  if (dim % 4 !== 0) throw new Error(`sin-cos position embedding needs a dimension divisible by 4, got ${dim}`);
  const offset = clsToken ? 1 : 0;
  const out = new Float32Array((offset + gridH * gridW) * dim);
  for (let i = 0; i < gridH; i++) {
    for (let j = 0; j < gridW; j++) {
      const row = (offset + i * gridW + j) * dim;
      sinCos1d(dim / 2, j, out, row);
      sinCos1d(dim / 2, i, out, row + dim / 2);
    }
  }
  return out;
}
