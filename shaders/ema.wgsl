// Exponential moving average of the ITM teacher (spec §4.7 step 1), one thread per element:
//   T ← momentum · T + one_minus_momentum · S          (one_minus_momentum = 1 − μ from the host in float64)
// Bindings: 0 T (f32, n, read-write), 1 S (f32, n), 2 params. Dispatch: ceil(n / WG) workgroups (grid1d).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> T: array<f32>;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_workgroup(wid, nwg) * WG + lid;
  if (i >= params.n) { return; }
  T[i] = params.momentum * T[i] + params.one_minus_momentum * S[i];
}
