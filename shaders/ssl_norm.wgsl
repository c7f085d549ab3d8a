// ssl_con, step 0: hard row normalisation  v̂_r = v_r / max(‖v_r‖₂, 1e-12)  (spec §0, n(x)).
//
// Bindings: 0 V (f32, rows×d), 1 Vhat (f32, rows×d, written), 2 norms (f32, rows, written: ‖v_r‖₂, kept for the
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
  let base = r * d;
  var ss = 0.0;
  for (var c = 0u; c < d; c = c + 1u) {
    let v = V[base + c];
    ss = ss + v * v;
  }
  let nrm = sqrt(ss);
  let inv = 1.0 / max(nrm, 1e-12);
  for (var c = 0u; c < d; c = c + 1u) {
    Vhat[base + c] = V[base + c] * inv;
  }
  norms[r] = nrm;
}
