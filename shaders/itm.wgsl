// ITM momentum-distillation term (spec §4.7 steps 3–5) and its gradient, one workgroup per row.
// Needs row_reduce.wgsl prepended.
//
// For row i over its C columns:  p = softmax(z_i), q = softmax(t_i),
//   ROWLOSS[i] = Σ_c q_c · log p_c         with log p_c = (z_c − max z) − log Σ_k exp(z_k − max z)
//   GZ[i, c]  (+)= grad_scale · (p_c − q_c)   (only when has_grad = 1)
// The host then reduces ROWLOSS into the loss vector with the loss scale (reduce_sum.wgsl), which keeps
// the sum deterministic without float atomics. q_c = 0 (underflow) contributes 0 since log p_c is finite.
//
// Bindings: 0 Z (f32 R×C), 1 T (f32 R×C), 2 GZ (f32 R×C, read-write; a dummy when has_grad = 0),
//           3 ROWLOSS (f32 R, write), 4 params.
// Dispatch: R workgroups of WG threads over a 1-D grid (grid1d). beta = 0: GZ is not read.

@group(0) @binding(0) var<storage, read> Z: array<f32>;
@group(0) @binding(1) var<storage, read> T: array<f32>;
@group(0) @binding(2) var<storage, read_write> GZ: array<f32>;
@group(0) @binding(3) var<storage, read_write> ROWLOSS: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = flat_workgroup(wid, nwg);
  if (row >= params.rows) { return; } // workgroup-uniform
  let C = params.cols;
  let base = row * C;
  var m = vec2<f32>(F32_LOWEST, F32_LOWEST); // (max z, max t)
  for (var c = lid; c < C; c = c + WG) { m = max(m, vec2<f32>(Z[base + c], T[base + c])); }
  m = reduce_max2(lid, m);
  var s = vec2<f32>(0.0, 0.0); // (Σ exp(z − max z), Σ exp(t − max t))
  for (var c = lid; c < C; c = c + WG) { s = s + exp(vec2<f32>(Z[base + c], T[base + c]) - m); }
  s = reduce_sum2(lid, s);
  let log_sz = log(s.x);
  let inv = 1.0 / s;
  var acc = 0.0;
  for (var c = lid; c < C; c = c + WG) {
    let zc = Z[base + c] - m.x;
    let tc = T[base + c] - m.y;
    let q = exp(tc) * inv.y;
    acc = acc + q * (zc - log_sz);
    if (params.has_grad != 0u) {
      var g = params.grad_scale * (exp(zc) * inv.x - q);
      if (params.beta != 0u) { g = g + GZ[base + c]; }
      GZ[base + c] = g;
    }
  }
  acc = reduce_sum(lid, acc);
  if (lid == 0u) { ROWLOSS[row] = acc; }
}
