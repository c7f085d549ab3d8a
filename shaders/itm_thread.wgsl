// ITM momentum-distillation term and its gradient (the maths, bindings and outputs of itm.wgsl, see its
// header), one invocation per row with serial loops instead of workgroup reductions: the layout used on
// software adapters, where workgroup barriers are expensive (see rowwise_thread.wgsl).
//
// Element type: the host declares XT (vec4<f32> when C % 4 == 0, else f32) and hsum / hmax before this file,
// as for rowwise_thread.wgsl; params.cols is the row length W in XT elements.
// Bindings: 0 Z (XT, R×W), 1 T (XT, R×W), 2 GZ (XT, R×W, read-write; a dummy when has_grad = 0),
//           3 ROWLOSS (f32 R, write), 4 params.
// Dispatch: ceil(R / WG) workgroups over a 1-D grid (grid1d); invocation t owns row t. beta = 0: GZ is not read.

override WG: u32 = 32u;
// Most negative finite f32: the identity of max (WGSL has no infinity literal).
const F32_LOWEST: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<storage, read> Z: array<XT>;
@group(0) @binding(1) var<storage, read> T: array<XT>;
@group(0) @binding(2) var<storage, read_write> GZ: array<XT>;
@group(0) @binding(3) var<storage, read_write> ROWLOSS: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = flat_workgroup(wid, nwg) * WG + lid;
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let end = base + params.cols;
  var mz = XT(F32_LOWEST);
  var mt = XT(F32_LOWEST);
  for (var i = base; i < end; i = i + 1u) {
    mz = max(mz, Z[i]);
    mt = max(mt, T[i]);
  }
  let max_z = XT(hmax(mz));
  let max_t = XT(hmax(mt));
  var sz = XT(0.0); // Σ exp(z − max z)
  var st = XT(0.0); // Σ exp(t − max t)
  for (var i = base; i < end; i = i + 1u) {
    sz = sz + exp(Z[i] - max_z);
    st = st + exp(T[i] - max_t);
  }
  let sum_z = hsum(sz);
  let log_sz = XT(log(sum_z));
  let inv_z = 1.0 / sum_z;
  let inv_t = 1.0 / hsum(st);
  var acc = XT(0.0);
  for (var i = base; i < end; i = i + 1u) {
    let zc = Z[i] - max_z;
    let q = exp(T[i] - max_t) * inv_t;
    acc = acc + q * (zc - log_sz);
    if (params.has_grad != 0u) {
      var g = params.grad_scale * (exp(zc) * inv_z - q);
      if (params.beta != 0u) { g = g + GZ[i]; }
      GZ[i] = g;
    }
  }
  ROWLOSS[row] = hsum(acc);
}
