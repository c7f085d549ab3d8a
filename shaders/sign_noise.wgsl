// SimGCL's perturbation (backbones spec §3.3), in place on a freshly propagated N×d layer H:
//   R[r, c] = hash_uniform(hash_u32(seed), r·d + c)                      (fresh uniforms in [0, 1))
//   H[r, c] += eps · R[r, c] / max(‖R[r, ·]‖, 1e-12) · sign(H[r, c])      (sign(0) = 0: zeros stay zero)
// The uniforms are regenerated for the norm and for the update, so nothing is stored; the backward treats
// the noise as a constant (sign has derivative 0). Needs random.wgsl prepended.
// Bindings: 0 H (f32, rows·d, read_write), 1 params. Dispatch: ceil(rows / WG) workgroups (grid1d), one row
// per invocation.

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> H: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = flat_workgroup(wid, nwg) * WG + lid;
  if (r >= params.rows) { return; }
  let d = params.d;
  let base = r * d;
  var sq = 0.0;
  for (var c = 0u; c < d; c++) {
    let u = hash_uniform(params.seed_hash, base + c);
    sq += u * u;
  }
  let k = params.eps / max(sqrt(sq), 1e-12);
  for (var c = 0u; c < d; c++) {
    let h = H[base + c];
    H[base + c] = h + k * hash_uniform(params.seed_hash, base + c) * sign(h);
  }
}
