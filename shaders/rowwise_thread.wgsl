// Row-wise kernels, one invocation per row: the same maths and bindings as rowwise.wgsl (see its header),
// without workgroup reductions. Used on software adapters (lavapipe, SwiftShader): they run a workgroup's
// invocations as SIMD lanes of a CPU thread, so every workgroupBarrier of a tree reduction switches between
// the lanes' coroutines, which costs far more than a serial loop over a row of a few hundred floats.
//
// Element type: the host declares, before this file,
//   alias XT = vec4<f32> (row length C % 4 == 0; a row is then W = C/4 vec4s) or f32 (W = C),
//   fn hsum(v: XT) -> f32 and fn hmax(v: XT) -> f32: the sum / maximum of v's components,
// so every loop below reads 16 bytes per load when it can.
//
// Bindings: 0 A (XT, read), 1 B (XT, read), 2 OUT (XT, read-write), 3 params (params.cols = W, the row length
// in XT elements). Dispatch: ceil(R / WG) workgroups over a 1-D grid (grid1d); invocation t owns row t.
// beta ∈ {0, 1}: with beta = 0, OUT is not read (it may hold garbage). softmax_forward writes OUT twice
// (exp, then the scaled exp) and never reads what was there before.

override WG: u32 = 32u;

@group(0) @binding(0) var<storage, read> A: array<XT>;
@group(0) @binding(1) var<storage, read> B: array<XT>;
@group(0) @binding(2) var<storage, read_write> OUT: array<XT>;
@group(0) @binding(3) var<uniform> params: Params;

const NORM_FLOOR: f32 = 1e-12;
const SOFT_EPS: f32 = 1e-8;
// Most negative finite f32: the identity of max (WGSL has no infinity literal).
const F32_LOWEST: f32 = -3.4028234663852886e38;

fn store(i: u32, v: XT) {
  var r = v;
  if (params.beta != 0u) { r = r + OUT[i]; }
  OUT[i] = r;
}

// The row owned by this invocation (≥ params.rows past the end of the grid).
fn this_row(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return flat_workgroup(wid, nwg) * WG + lid;
}

// y = exp(x − max x) / Σ exp(x − max x): exps are written to OUT, summed, then scaled in place.
@compute @workgroup_size(WG)
fn softmax_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let row = this_row(wid, nwg, lid);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let end = base + params.cols;
  var mv = XT(F32_LOWEST);
  for (var i = base; i < end; i = i + 1u) { mv = max(mv, A[i]); }
  let m = XT(hmax(mv));
  var sv = XT(0.0);
  for (var i = base; i < end; i = i + 1u) {
    let ex = exp(A[i] - m);
    OUT[i] = ex;
    sv = sv + ex;
  }
  let inv = 1.0 / hsum(sv);
  for (var i = base; i < end; i = i + 1u) { OUT[i] = OUT[i] * inv; }
}

// gX (+)= y ⊙ (gY − Σ_k y_k gY_k)   (A = y, B = gY)
@compute @workgroup_size(WG)
fn softmax_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let row = this_row(wid, nwg, lid);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let end = base + params.cols;
  var sv = XT(0.0);
  for (var i = base; i < end; i = i + 1u) { sv = sv + A[i] * B[i]; }
  let s = XT(hsum(sv));
  for (var i = base; i < end; i = i + 1u) { store(i, A[i] * (B[i] - s)); }
}

// ν for ‖x‖² = ss in the kernel's mode: max(‖x‖, 1e-12) (hard, mode 0) or sqrt(1e-8 + ‖x‖²) (soft, mode 1).
fn norm_denominator(ss: f32) -> f32 {
  if (params.mode == 0u) { return max(sqrt(ss), NORM_FLOOR); }
  return sqrt(SOFT_EPS + ss);
}

// y = x / ν
@compute @workgroup_size(WG)
fn normalize_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let row = this_row(wid, nwg, lid);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let end = base + params.cols;
  var ssv = XT(0.0);
  for (var i = base; i < end; i = i + 1u) { let x = A[i]; ssv = ssv + x * x; }
  let inv = 1.0 / norm_denominator(hsum(ssv));
  for (var i = base; i < end; i = i + 1u) { store(i, A[i] * inv); }
}

// gX (+)= (g − ŷ(ŷ·g))/ν with ŷ = x/ν (A = x, B = g); hard mode at or below the floor: gX = g/1e-12.
@compute @workgroup_size(WG)
fn normalize_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let row = this_row(wid, nwg, lid);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let end = base + params.cols;
  var ssv = XT(0.0);
  var xgv = XT(0.0);
  for (var i = base; i < end; i = i + 1u) {
    let x = A[i];
    ssv = ssv + x * x;
    xgv = xgv + x * B[i];
  }
  let ss = hsum(ssv);
  let nu = norm_denominator(ss);
  let linear = params.mode == 0u && !(sqrt(ss) > NORM_FLOOR);
  let inv = 1.0 / nu;
  let dot = hsum(xgv) * inv; // ŷ·g
  for (var i = base; i < end; i = i + 1u) {
    let g = B[i];
    var v = g * inv;
    if (!linear) { v = (g - A[i] * inv * dot) * inv; }
    store(i, v);
  }
}
