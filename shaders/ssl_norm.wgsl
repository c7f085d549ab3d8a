// ssl_con, step 0: hard row normalisation  v̂_r = v_r / max(‖v_r‖₂, 1e-12)  (spec §0, n(x)).
//
// Vhat rows have stride dp = 32·ceil(d/32) ≥ d (the sweeps read them as vec4, 8 at a time); the columns [d, dp) are
// written as 0, so padded columns add nothing to any dot product.
//
// Bindings: 0 V (f32, rows×d), 1 Vhat (f32, rows×dp, written), 2 norms (f32, rows, written: ‖v_r‖₂, kept for the
//           backward, which branches on ‖v_r‖ > 1e-12), 3 params.
// Dispatch: one thread per row, WG threads a workgroup, 1-D grid (grid1d).

override WG: u32 = 128u;

@group(0) @binding(0) var<storage, read> V: array<f32>;
@group(0) @binding(1) var<storage, read_write> Vhat: array<f32>;
@group(0) @binding(2) var<storage, read_write> norms: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = flat_workgroup(wid, nwg) * WG + lid;
  if (r >= params.rows) { return; }
  let d = params.d;
  let dp = params.dp;
  let base = r * d;
  var ss = 0.0;
  for (var c = 0u; c < d; c = c + 1u) {
    let v = V[base + c];
    ss = ss + v * v;
  }
  let nrm = sqrt(ss);
  let inv = 1.0 / max(nrm, 1e-12);
  for (var c = 0u; c < d; c = c + 1u) {
    Vhat[r * dp + c] = V[base + c] * inv;
  }
  for (var c = d; c < dp; c = c + 1u) { Vhat[r * dp + c] = 0.0; }
  norms[r] = nrm;
}
