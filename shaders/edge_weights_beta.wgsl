// Backward of the row normalisation G_e = ρ_h·α_e (spec §5.2 step 2), one thread per head node h:
//
//   β_e = ρ_h·(γ_e − Σ_{e'∈out(h)} γ_e'·G_e')     (= ∂L/∂α_e;  0 when ρ_h = 0)
//
// buf holds γ_e = ∂L/∂G_e on entry (from `edge_weights_dot.wgsl`) and β_e on exit.
//
// Bindings: 0 rowPtr (u32, n+1), 1 G (nnz), 2 rho (n), 3 buf (nnz, read-write), 4 params.
// Dispatch: one thread per node, grid1d(ceil(n / WG)).

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> rowPtr: array<u32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> rho: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let h = flat_workgroup(wid, nwg) * WG + lid;
  if (h >= params.n) { return; }
  let start = rowPtr[h];
  let end = rowPtr[h + 1u];
  let r = rho[h];
  if (r == 0.0) {
    for (var e = start; e < end; e = e + 1u) { buf[e] = 0.0; }
    return;
  }
  var s = 0.0;
  for (var e = start; e < end; e = e + 1u) { s = s + buf[e] * G[e]; }
  for (var e = start; e < end; e = e + 1u) { buf[e] = r * (buf[e] - s); }
}
