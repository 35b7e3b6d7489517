// An independent plain-JS (float64, loops) implementation of the ViT pieces, used as the reference
// the tfjs code is tested against. Written from the definitions, sharing no code with src/.

export type Mat = number[][]; // [rows][cols]

export function erf(x: number): number {
  // Abramowitz & Stegun 7.1.26 is only 1.5e-7; use the series / continued fraction for ~1e-12.
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    let sum = ax;
    let term = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc continued fraction (Lentz), accurate for |x| >= 3
    let f = ax;
    for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

export function matmul(a: Mat, w: Mat, bias?: number[]): Mat {
  return a.map((row) =>
    w[0]!.map((_, j) => row.reduce((s, v, k) => s + v * w[k]![j]!, bias ? bias[j]! : 0)),
  );
}

export function layerNorm(x: Mat, g: number[], b: number[], eps: number): Mat {
  return x.map((row) => {
    const mean = row.reduce((s, v) => s + v, 0) / row.length;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / row.length;
    return row.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * g[i]! + b[i]!);
  });
}

export function softmax(row: number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
}

/** Self-attention over one sequence x [N][D]; qkv weight [D][3D] with columns q|k|v, heads inside each. */
export function attention(x: Mat, qkvW: Mat, qkvB: number[], projW: Mat, projB: number[], heads: number): Mat {
  const d = x[0]!.length;
  const hd = d / heads;
  const qkv = matmul(x, qkvW, qkvB);
  const out: Mat = x.map(() => new Array<number>(d).fill(0));
  for (let h = 0; h < heads; h++) {
    const q = qkv.map((r) => r.slice(h * hd, (h + 1) * hd));
    const k = qkv.map((r) => r.slice(d + h * hd, d + (h + 1) * hd));
    const v = qkv.map((r) => r.slice(2 * d + h * hd, 2 * d + (h + 1) * hd));
    for (let i = 0; i < x.length; i++) {
      const p = softmax(k.map((kr) => kr.reduce((s, kv, t) => s + kv * q[i]![t]!, 0) / Math.sqrt(hd)));
      for (let t = 0; t < hd; t++) out[i]![h * hd + t] = p.reduce((s, pj, j) => s + pj * v[j]![t]!, 0);
    }
  }
  return matmul(out, projW, projB);
}

export interface BlockWeights {
  n1g: number[]; n1b: number[]; qkvW: Mat; qkvB: number[]; projW: Mat; projB: number[];
  n2g: number[]; n2b: number[]; fc1W: Mat; fc1B: number[]; fc2W: Mat; fc2B: number[];
}

export function block(x: Mat, w: BlockWeights, heads: number, eps = 1e-6): Mat {
  const a = attention(layerNorm(x, w.n1g, w.n1b, eps), w.qkvW, w.qkvB, w.projW, w.projB, heads);
  const h = x.map((r, i) => r.map((v, j) => v + a[i]![j]!));
  const m = matmul(matmul(layerNorm(h, w.n2g, w.n2b, eps), w.fc1W, w.fc1B).map((r) => r.map(gelu)), w.fc2W, w.fc2B);
  return h.map((r, i) => r.map((v, j) => v + m[i]![j]!));
}

/** Reshape a flat row-major array into a matrix. */
export function toMat(flat: ArrayLike<number>, rows: number, cols: number): Mat {
  return Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => flat[r * cols + c]!));
}
