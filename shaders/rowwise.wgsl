// Row-wise kernels over a dense R×C row-major matrix: one workgroup (WG threads) per row, a 1-D grid of
// R workgroups flattened with grid1d / flat_workgroup. Needs row_reduce.wgsl prepended.
//
// Every entry point has the same bindings: 0 A (f32, read), 1 B (f32, read), 2 OUT (f32, read-write),
// 3 params. Entry points that need one input bind it as both A and B.
//
//   softmax_forward    A = x,          OUT = y:   y_c = exp(x_c − max x) / Σ_k exp(x_k − max x)
//   softmax_backward   A = y, B = gY,  OUT = gX:  gX_c (+)= y_c·(gY_c − Σ_k y_k gY_k)
//   normalize_forward  A = x,          OUT = y:   y = x / ν,  ν = max(‖x‖, 1e-12) (mode 0, "hard" n)
//                                                            ν = sqrt(1e-8 + ‖x‖²) (mode 1, "soft" ñ)
//   normalize_backward A = x, B = g,   OUT = gX:  gX (+)= (g − ŷ(ŷ·g))/ν  with ŷ = x/ν   (ν as above; the
//                                                 hard mode below the 1e-12 floor has ν constant: gX = g/1e-12)
//   row_dots           A = a, B = b,   OUT = out (R entries): out_r = a_r·b_r
//
// beta ∈ {0, 1}: with beta = 0, OUT is not read (it may hold garbage).

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const NORM_FLOOR: f32 = 1e-12;
const SOFT_EPS: f32 = 1e-8;

fn store(i: u32, v: f32) {
  var r = v;
  if (params.beta != 0u) { r = r + OUT[i]; }
  OUT[i] = r;
}

@compute @workgroup_size(WG)
fn softmax_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let row = flat_workgroup(wid, nwg);
  if (row >= params.rows) { return; } // workgroup-uniform
  let C = params.cols;
  let base = row * C;
  var m = F32_LOWEST;
  for (var c = lid; c < C; c = c + WG) { m = max(m, A[base + c]); }
  m = reduce_max(lid, m);
  var s = 0.0;
  for (var c = lid; c < C; c = c + WG) { s = s + exp(A[base + c] - m); }
  s = reduce_sum(lid, s);
  let inv = 1.0 / s;
  for (var c = lid; c < C; c = c + WG) { store(base + c, exp(A[base + c] - m) * inv); }
}

@compute @workgroup_size(WG)
fn softmax_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let row = flat_workgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let C = params.cols;
  let base = row * C;
  var s = 0.0;
  for (var c = lid; c < C; c = c + WG) { s = s + A[base + c] * B[base + c]; }
  s = reduce_sum(lid, s);
  for (var c = lid; c < C; c = c + WG) { store(base + c, A[base + c] * (B[base + c] - s)); }
}

// ν for ‖x‖² = ss in the kernel's mode.
fn norm_denominator(ss: f32) -> f32 {
  if (params.mode == 0u) { return max(sqrt(ss), NORM_FLOOR); }
  return sqrt(SOFT_EPS + ss);
}

@compute @workgroup_size(WG)
fn normalize_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let row = flat_workgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let C = params.cols;
  let base = row * C;
  var ss = 0.0;
  for (var c = lid; c < C; c = c + WG) { let x = A[base + c]; ss = ss + x * x; }
  ss = reduce_sum(lid, ss);
  let inv = 1.0 / norm_denominator(ss);
  for (var c = lid; c < C; c = c + WG) { store(base + c, A[base + c] * inv); }
}

@compute @workgroup_size(WG)
fn normalize_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let row = flat_workgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let C = params.cols;
  let base = row * C;
  var acc = vec2<f32>(0.0, 0.0); // (‖x‖², x·g)
  for (var c = lid; c < C; c = c + WG) {
    let x = A[base + c];
    acc = acc + vec2<f32>(x * x, x * B[base + c]);
  }
  acc = reduce_sum2(lid, acc);
  let nu = norm_denominator(acc.x);
  // Hard mode at or below the floor: y = x / 1e-12 is linear, so gX = g / 1e-12.
  let linear = params.mode == 0u && !(sqrt(acc.x) > NORM_FLOOR);
  let inv = 1.0 / nu;
  let dot = acc.y * inv; // ŷ·g
  for (var c = lid; c < C; c = c + WG) {
    let g = B[base + c];
    var v = g * inv;
    if (!linear) { v = (g - A[base + c] * inv * dot) * inv; }
    store(base + c, v);
  }
}

@compute @workgroup_size(WG)
fn row_dots(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let row = flat_workgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let C = params.cols;
  let base = row * C;
  var s = 0.0;
  for (var c = lid; c < C; c = c + WG) { s = s + A[base + c] * B[base + c]; }
  s = reduce_sum(lid, s);
  if (lid == 0u) { OUT[row] = s; }
}
