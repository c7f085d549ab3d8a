// BPR over gathered batch rows (spec §4.1), one thread per batch row b:
//
//   x_b = u_b·p_b,  y_b = u_b·q_b,  z_b = y_b − x_b
//   rowLoss[b] = softplus(z_b) = max(z_b, 0) + log1p(exp(−|z_b|))      (stable: exp never overflows)
//   s_b = scale·σ(z_b)
//   gU[b] = s_b·(q_b − p_b),  gP[b] = −s_b·u_b,  gQ[b] = s_b·u_b       (when has_gu / has_gp / has_gq)
//
// The batch sum Σ_b rowLoss[b]·scale is added to the loss slot by `infonce_sum.wgsl` (second dispatch).
//
// Bindings: 0 U (B×d), 1 P (B×d), 2 Q (B×d), 3 rowLoss (B, written), 4 gU, 5 gP, 6 gQ (B×d, read-write), 7 params.
// Unused gradient bindings hold some other writable buffer; their flag is 0 and they are not touched.
// Dispatch: grid1d(ceil(B / WG)) workgroups of WG threads. beta = 1 adds into the gradients (accumulate).

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> U: array<f32>;
@group(0) @binding(1) var<storage, read> P: array<f32>;
@group(0) @binding(2) var<storage, read> Q: array<f32>;
@group(0) @binding(3) var<storage, read_write> rowLoss: array<f32>;
@group(0) @binding(4) var<storage, read_write> gU: array<f32>;
@group(0) @binding(5) var<storage, read_write> gP: array<f32>;
@group(0) @binding(6) var<storage, read_write> gQ: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

// log(1 + x) for x ≥ 0, accurate when x is tiny (where 1 + x rounds to 1): the classic correction
// log(u)·x/(u − 1) with u = 1 + x.
fn log1p_pos(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  return log(u) * (x / (u - 1.0));
}

fn softplus(z: f32) -> f32 { return max(z, 0.0) + log1p_pos(exp(-abs(z))); }

// σ(z) without overflow: exp of a non-positive number only.
fn sigmoid(z: f32) -> f32 {
  let e = exp(-abs(z));
  if (z >= 0.0) { return 1.0 / (1.0 + e); }
  return e / (1.0 + e);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let b = flat_workgroup(wid, nwg) * WG + lid;
  if (b >= params.B) { return; }
  let d = params.d;
  let base = b * d;
  var x = 0.0;
  var y = 0.0;
  for (var k = 0u; k < d; k = k + 1u) {
    let uk = U[base + k];
    x = x + uk * P[base + k];
    y = y + uk * Q[base + k];
  }
  let z = y - x;
  rowLoss[b] = softplus(z);
  let s = params.scale * sigmoid(z);
  let acc = params.beta != 0u;
  if (params.has_gu != 0u) {
    for (var k = 0u; k < d; k = k + 1u) {
      var v = s * (Q[base + k] - P[base + k]);
      if (acc) { v = v + gU[base + k]; }
      gU[base + k] = v;
    }
  }
  if (params.has_gp != 0u) {
    for (var k = 0u; k < d; k = k + 1u) {
      var v = -s * U[base + k];
      if (acc) { v = v + gP[base + k]; }
      gP[base + k] = v;
    }
  }
  if (params.has_gq != 0u) {
    for (var k = 0u; k < d; k = k + 1u) {
      var v = s * U[base + k];
      if (acc) { v = v + gQ[base + k]; }
      gQ[base + k] = v;
    }
  }
}
