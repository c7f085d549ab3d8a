/**
 * Seeded random numbers. `Rng` (mulberry32 stream) drives everything sampled on the host: negative
 * sampling, shuffles, initialisation, synthetic data. `hashUniform`/`hashNormal` are counter-based (a
 * stateless hash of (seed, stream, index)), computed identically by the WGSL kernels that draw noise
 * and dropout masks on the GPU, so both backends see the same random numbers.
 */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Current state (for checkpoints). */
  get state(): number {
    return this.s;
  }
  set state(v: number) {
    this.s = v >>> 0;
  }
  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u1 = 1 - this.next();
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

/** PCG-style 32-bit hash (the same arithmetic as `hash_u32` in shaders/random.wgsl). */
export function hashU32(x: number): number {
  let s = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul((s >>> ((s >>> 28) + 4)) ^ s, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** Uniform in [0, 1) from (seed, index): 24 random bits, exactly representable in f32. */
export function hashUniform(seed: number, index: number): number {
  return (hashU32((hashU32(seed >>> 0) ^ (index >>> 0)) >>> 0) >>> 8) / 16777216;
}

/** Standard normal from (seed, index) by Box–Muller on two hashed uniforms (indices 2i, 2i+1). */
export function hashNormal(seed: number, index: number): number {
  const u1 = 1 - hashUniform(seed, 2 * index);
  const u2 = hashUniform(seed, 2 * index + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
