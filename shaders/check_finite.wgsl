// Non-finite detector: FLAG[0] = 1 if any X_i is NaN or ±Inf; otherwise FLAG is left as it was (the
// caller zeroes it). Threads that see one all store the same value, so the plain store is race-free in
// effect. The test is on the bit pattern (exponent all ones) because WGSL implementations may assume
// floats are finite and fold `x != x` away.
//
// Bindings: 0 X (f32, n), 1 FLAG (u32, ≥ 1, read-write), 2 params.
// Dispatch: ceil(n / WG) workgroups, 1-D grid (grid1d).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> FLAG: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

const EXPONENT_MASK: u32 = 0x7f800000u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_workgroup(wid, nwg) * WG + lid;
  if (i >= params.n) { return; }
  if ((bitcast<u32>(X[i]) & EXPONENT_MASK) == EXPONENT_MASK) { FLAG[0] = 1u; }
}
