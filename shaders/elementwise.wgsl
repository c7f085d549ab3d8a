// Element-wise binary / ternary updates, one thread per element.
//
//   mode 0 (axpy):        Y_i = Y_i + alpha · X_i                       (addInto is alpha = 1)
//   mode 1 (mulOnePlus):  Y_i = X_i · (1 + N_i)  (+ Y_i if beta = 1)    (ssl multiplicative noise, spec §4.6,
//                                                                         and its backward with X = upstream grad)
// Bindings: 0 X (f32, n), 1 N (f32, n; X again in mode 0), 2 Y (f32, n, read-write), 3 params.
// Dispatch: ceil(n / WG) workgroups over a 1-D grid (grid1d). With mode 1 and beta = 0, Y is not read.

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> N: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_workgroup(wid, nwg) * WG + lid;
  if (i >= params.n) { return; }
  if (params.mode == 0u) {
    Y[i] = Y[i] + params.alpha * X[i];
  } else {
    var v = X[i] * (1.0 + N[i]);
    if (params.beta != 0u) { v = v + Y[i]; }
    Y[i] = v;
  }
}
