// In-place element-wise updates of one tensor, one thread per element.
//
//   mode 0 (fill):  Y_i = value      (Y is not read: pooled buffers may hold NaN garbage, 0·NaN = NaN)
//   mode 1 (scale): Y_i = value · Y_i
// Bindings: 0 Y (f32, n, read-write), 1 params. Dispatch: ceil(n / WG) workgroups, 1-D grid (grid1d).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> Y: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_workgroup(wid, nwg) * WG + lid;
  if (i >= params.n) { return; }
  if (params.mode == 0u) {
    Y[i] = params.value;
  } else {
    Y[i] = params.value * Y[i];
  }
}
