// One Adam step (spec §6), dense, one thread per element, with the L2 gradient fused (spec §4.2):
//   g' = G + l2x2 · P                                 (l2x2 = 2λ; 0 without fused L2)
//   M ← beta1·M + one_minus_beta1·g'
//   V ← beta2·V + one_minus_beta2·g'²
//   P ← P − lr · (M / bias1) / (sqrt(V / bias2) + eps)
// with the bias corrections bias1 = 1 − beta1^t and bias2 = 1 − beta2^t computed on the host in float64.
//
// Bindings: 0 P (f32, n, read-write), 1 G (f32, n), 2 M (f32, n, read-write), 3 V (f32, n, read-write),
//           4 params. Dispatch: ceil(n / WG) workgroups, 1-D grid (grid1d).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> P: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> M: array<f32>;
@group(0) @binding(3) var<storage, read_write> V: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_workgroup(wid, nwg) * WG + lid;
  if (i >= params.n) { return; }
  let p = P[i];
  let g = G[i] + params.l2x2 * p;
  let m = params.beta1 * M[i] + params.one_minus_beta1 * g;
  let v = params.beta2 * V[i] + params.one_minus_beta2 * g * g;
  M[i] = m;
  V[i] = v;
  P[i] = p - params.lr * (m / params.bias1) / (sqrt(v / params.bias2) + params.eps);
}
