// Per-edge scaled dot product of a head row and a tail row (spec §3 F2, §5.2 step 1):
//
//   out[e] = mul·(U[h_e]·V[t_e]) + add,   e = (h_e, t_e),  t_e = colIdx[e],  h_e = colIdx[rev[e]]
//
// (the reverse edge of e = (h, t) is (t, h), whose tail is h). Used for
//   α_e = (1 + Ĉ_h·Ĉ_t)/2          (U = V = Ĉ, mul = add = ½)
//   γ_e = gY[h]·X[t] = ∂L/∂G_e     (U = gY, V = X, mul = 1, add = 0).
//
// Bindings: 0 colIdx (u32, nnz), 1 rev (u32, nnz), 2 U (n×d), 3 V (n×d), 4 out (nnz, written), 5 params.
// Dispatch: one thread per edge, grid1d(ceil(nnz / WG)).

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> colIdx: array<u32>;
@group(0) @binding(1) var<storage, read> rev: array<u32>;
@group(0) @binding(2) var<storage, read> U: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = flat_workgroup(wid, nwg) * WG + lid;
  if (e >= params.nnz) { return; }
  let d = params.d;
  let t = colIdx[e];
  let h = colIdx[rev[e]];
  var s = 0.0;
  for (var k = 0u; k < d; k = k + 1u) { s = s + U[h * d + k] * V[t * d + k]; }
  out[e] = params.mul * s + params.add;
}
