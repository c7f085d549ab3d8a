// Standard normal noise: OUT[i] = hash_normal(hash_u32(seed), i)  (needs random.wgsl prepended).
// Used for the ssl noise Ξ1, Ξ2 (spec §4.6).
// Bindings: 0 OUT (f32, n, write), 1 params. Dispatch: ceil(n / WG) workgroups, 1-D grid (grid1d).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_workgroup(wid, nwg) * WG + lid;
  if (i >= params.n) { return; }
  OUT[i] = hash_normal(params.seed_hash, i);
}
