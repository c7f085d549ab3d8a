// Counter-based random numbers, bit-identical to src/util/random.ts (prepended to random_normal.wgsl and
// dropout_values.wgsl; no bindings here). u32 arithmetic wraps modulo 2^32 exactly like Math.imul / >>> 0.
//
//   hash_u32(x)            PCG-style output permutation of one LCG step
//   hash_bits(sh, i)       = hash_u32(sh ^ i) >> 8, 24 random bits, where sh = hash_u32(seed) comes from the host
//   hash_uniform(sh, i)    = hash_bits / 2^24 ∈ [0, 1), exact in f32
//   hash_normal(sh, i)     = sqrt(−2 log(1 − U(2i))) · cos(2π U(2i+1))   (Box–Muller)
// cos(2πu) is evaluated as −cos(2π(u − ½)) so that its argument lies in [−π, π), where WGSL guarantees
// cos to 2^-11 absolute and real implementations do much better; u − ½ is exact in f32.

const TWO_PI: f32 = 6.283185307179586;

fn hash_u32(x: u32) -> u32 {
  let s = x * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

fn hash_bits(seed_hash: u32, index: u32) -> u32 {
  return hash_u32(seed_hash ^ index) >> 8u;
}

fn hash_uniform(seed_hash: u32, index: u32) -> f32 {
  return f32(hash_bits(seed_hash, index)) / 16777216.0;
}

fn hash_normal(seed_hash: u32, index: u32) -> f32 {
  let u1 = 1.0 - hash_uniform(seed_hash, 2u * index); // in [2^-24, 1]: the log is finite
  let u2 = hash_uniform(seed_hash, 2u * index + 1u);
  return -(sqrt(-2.0 * log(u1)) * cos(TWO_PI * (u2 - 0.5)));
}
