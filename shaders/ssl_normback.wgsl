// ssl_con, last step: gradient back through the hard normalisation v̂ = v / max(‖v‖, 1e-12):
//
//   ∂/∂v = (g − v̂ (v̂·g)) / ‖v‖      if ‖v‖ > 1e-12
//        = g / 1e-12                  otherwise (the denominator is the constant 1e-12 there)
//
// Bindings: 0 G (f32, rows×d: gradient w.r.t. v̂), 1 Vhat (f32, rows×d), 2 norms (f32, rows: ‖v‖),
//           3 Out (f32, rows×d, read-write), 4 params.
// Dispatch: one thread per row, WG threads a workgroup, 1-D grid (grid1d). beta = 1: Out += result;
// beta = 0: Out is overwritten and not read.

override WG: u32 = 128u;

@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> Vhat: array<f32>;
@group(0) @binding(2) var<storage, read> norms: array<f32>;
@group(0) @binding(3) var<storage, read_write> Out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = flat_workgroup(wid, nwg) * WG + lid;
  if (r >= params.rows) { return; }
  let d = params.d;
  let base = r * d;
  let nrm = norms[r];
  var proj = 0.0;   // v̂·g, used only on the ‖v‖ > 1e-12 branch
  var inv = 1e12;   // 1 / 1e-12
  if (nrm > 1e-12) {
    for (var c = 0u; c < d; c = c + 1u) { proj = proj + Vhat[base + c] * G[base + c]; }
    inv = 1.0 / nrm;
  }
  for (var c = 0u; c < d; c = c + 1u) {
    var v = (G[base + c] - Vhat[base + c] * proj) * inv;
    if (params.beta != 0u) { v = v + Out[base + c]; }
    Out[base + c] = v;
  }
}
