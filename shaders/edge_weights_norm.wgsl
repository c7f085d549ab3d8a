// Row-normalise the edge weights in place (spec §3 F2), one thread per head node h:
//
//   D_h = Σ_{e∈out(h)} α_e,   ρ_h = 1/D_h (0 if D_h = 0 or 1/D_h is not finite),   G_e = ρ_h·α_e
//
// G holds α on entry (from `edge_weights_dot.wgsl`) and G on exit. Isolated nodes get ρ = 0.
//
// Bindings: 0 rowPtr (u32, n+1), 1 G (nnz, read-write), 2 rho (n, written), 3 params.
// Dispatch: one thread per node, grid1d(ceil(n / WG)).

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> rowPtr: array<u32>;
@group(0) @binding(1) var<storage, read_write> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> rho: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// Exponent bits all ones ⇔ ±Inf or NaN (bit test: immune to fast-math assumptions).
fn is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let h = flat_workgroup(wid, nwg) * WG + lid;
  if (h >= params.n) { return; }
  let start = rowPtr[h];
  let end = rowPtr[h + 1u];
  var deg = 0.0;
  for (var e = start; e < end; e = e + 1u) { deg = deg + G[e]; }
  var r = 0.0;
  if (deg != 0.0 && is_finite(deg)) {
    r = 1.0 / deg;
    if (!is_finite(r)) { r = 0.0; }
  }
  rho[h] = r;
  for (var e = start; e < end; e = e + 1u) { G[e] = r * G[e]; }
}
