// Seeded, serialisable pseudo-random numbers (sfc32 core). Everything random in maskedssl that must be
// reproducible across backends and resumable from a checkpoint (initialisation, masks, shuffles) draws
// from an Rng, on the JS side, so no backend's RNG is involved.

export type RngState = [number, number, number, number];

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Second value of the last Box-Muller pair, or null. Part of the state. */
  private spareNormal: number | null = null;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    // Spread the seed over the 128-bit state with splitmix32, then warm up.
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = (this.b ^ (this.b >>> 9)) >>> 0;
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!(n >= 1)) throw new Error(`Rng.int: n must be >= 1, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  uniformArray(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(lo, hi);
    return out;
  }

  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** Normal truncated to [lo, hi] by redrawing (as timm's trunc_normal_ does in effect). */
  truncatedNormalArray(n: number, mean: number, std: number, lo: number, hi: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let v = this.normal(mean, std);
      while (v < lo || v > hi) v = this.normal(mean, std);
      out[i] = v;
    }
    return out;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }

  /** The full state, for checkpoints. */
  getState(): { words: RngState; spareNormal: number | null } {
    return { words: [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0], spareNormal: this.spareNormal };
  }

  setState(state: { words: RngState; spareNormal: number | null }): void {
    const w = state.words;
    if (!Array.isArray(w) || w.length !== 4 || w.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) {
      throw new Error('Rng.setState: words must be four unsigned 32-bit integers');
    }
    [this.a, this.b, this.c, this.d] = w;
    this.spareNormal = state.spareNormal;
  }

  /** An independent generator derived from this one (advances this one by 4 draws). */
  fork(): Rng {
    const child = new Rng(0);
    child.setState({ words: [this.nextUint32(), this.nextUint32(), this.nextUint32(), (this.nextUint32() | 1) >>> 0], spareNormal: null });
    return child;
  }
}
