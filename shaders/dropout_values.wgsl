// Edge dropout of Â's non-zeros (spec §1.7): OUT[e] = VALUES[e] if hash_uniform(seed, e) < keep_rate else 0,
// no rescaling (needs random.wgsl prepended). The comparison is done on the integer bits:
//   bits/2^24 < keep_rate  ⇔  bits < threshold = ceil(keep_rate · 2^24)   (computed on the host in float64)
// so the GPU mask equals the CPU mask exactly, whatever f32 rounding keep_rate would suffer.
// Bindings: 0 VALUES (f32, n), 1 OUT (f32, n, write), 2 params. Dispatch: ceil(n / WG) workgroups (grid1d).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> VALUES: array<f32>;
@group(0) @binding(1) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_workgroup(wid, nwg) * WG + lid;
  if (i >= params.n) { return; }
  var v = 0.0;
  if (hash_bits(params.seed_hash, i) < params.threshold) { v = VALUES[i]; }
  OUT[i] = v;
}
