// ssl_con, passes 2 and 3 (spec §4.6, §13.1): the gradient w.r.t. the normalised rows, one kernel for both sweeps.
//
//   pass 2 (A = x̂, B = ŷ, row stats of the owner a = i):   ∂/∂x̂_i = g·Σ_j Γ_ij ŷ_j
//   pass 3 (A = ŷ, B = x̂, row stats of the other b = i):   ∂/∂ŷ_j = g·Σ_i Γ_ij x̂_i
//
// with Γ_ij = w_i·exp(s_ij − m_i) − κ_i·[i=j] (stats from ssl_rows) and g = scale/τ. In both sweeps the [i=j] term
// is −κ_a·B_a for the owner row a, so
//
//   G_a = g·( Σ_b p_ab·B_b − κ_a·B_a ),   p_ab = w_t·exp(A_a·B_b/τ − m_t),  t = a (pass 2) or b (pass 3).
//
// Bindings: 0 A (f32, n×d), 1 B (f32, n×d), 2 stats (f32, n×4), 3 G (f32, n×d, written), 4 params.
// Dispatch: grid1d over blocks of TA = 32 owner rows in x/y; z = output-column chunk of 64 (of d).
// Per tile of TB = 64 other rows: the 32×64 weights p go to workgroup memory, then each thread accumulates
// Σ_b p_ab·B_b for one owner row (lid % 32) and 2 columns per 16-column slice of its 64-column chunk.

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> G: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

const OC: u32 = 64u;  // output columns per workgroup

var<workgroup> Ps: array<f32, 2048>;  // [TB][TA] weights p_ab of the current tile
var<workgroup> Ms: array<f32, 64>;    // m_t of the rows whose stats p uses
var<workgroup> Ws: array<f32, 64>;    // w_t of those rows

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let a0 = flat_workgroup(wid, nwg) * TA;
  let n = params.n;
  let d = params.d;
  if (a0 >= n) { return; }
  let inv_tau = params.inv_tau;
  let other = params.other_stats != 0u;
  let c0 = wid.z * OC;
  let c1 = min(d, c0 + OC);
  let ty = lid / 16u;
  let tx = lid % 16u;
  let oa = lid % TA;        // owner row of this thread in the gather
  let dl = lid / TA;        // its column inside a 16-column slice: dl and dl + 8

  if (!other && lid < TA) {
    var mv = 0.0;
    var wv = 0.0;
    if (a0 + lid < n) { mv = stats[4u * (a0 + lid)]; wv = stats[4u * (a0 + lid) + 1u]; }
    Ms[lid] = mv;
    Ws[lid] = wv;
  }
  var out: array<f32, 8>;   // [slice q < 4][2]
  for (var b0 = 0u; b0 < n; b0 = b0 + TB) {
    if (other && lid < TB) {
      var mv = 0.0;
      var wv = 0.0;
      if (b0 + lid < n) { mv = stats[4u * (b0 + lid)]; wv = stats[4u * (b0 + lid) + 1u]; }
      Ms[lid] = mv;
      Ws[lid] = wv;
    }
    // tile_dots starts with a barrier-protected staging step, which also publishes Ms / Ws.
    let acc = tile_dots(lid, a0, b0, n, d);
    for (var r = 0u; r < 2u; r = r + 1u) {
      let a = ty + 16u * r;
      for (var c = 0u; c < 4u; c = c + 1u) {
        let b = tx + 16u * c;
        var t = a;
        if (other) { t = b; }
        var p = 0.0;
        if (b0 + b < n) { p = Ws[t] * exp(acc[4u * r + c] * inv_tau - Ms[t]); }
        Ps[b * TA + a] = p;
      }
    }
    for (var q = 0u; q < 4u; q = q + 1u) {
      let k0 = c0 + q * KC;
      if (k0 < c1) {
        workgroupBarrier();  // Ps complete; previous slice's reads of Bs done
        // Bs as [TB][KC]: rows b0.. of B, columns k0..k0+15
        for (var e4 = 0u; e4 < 4u; e4 = e4 + 1u) {
          let e = lid + e4 * WG;
          let b = e / KC;
          let kk = e % KC;
          var v = 0.0;
          if (b0 + b < n && k0 + kk < c1) { v = B[(b0 + b) * d + k0 + kk]; }
          Bs[b * KC + kk] = v;
        }
        workgroupBarrier();
        var g0 = out[2u * q];
        var g1 = out[2u * q + 1u];
        for (var b = 0u; b < TB; b = b + 1u) {
          let p = Ps[b * TA + oa];
          g0 = g0 + p * Bs[b * KC + dl];
          g1 = g1 + p * Bs[b * KC + dl + 8u];
        }
        out[2u * q] = g0;
        out[2u * q + 1u] = g1;
      }
    }
    workgroupBarrier();  // before the next tile overwrites As, Bs, Ps, Ms, Ws
  }
  let a = a0 + oa;
  if (a < n) {
    let kappa = stats[4u * a + 2u];
    for (var q = 0u; q < 4u; q = q + 1u) {
      for (var h = 0u; h < 2u; h = h + 1u) {
        let col = c0 + q * KC + dl + 8u * h;
        if (col < c1) {
          G[a * d + col] = params.gscale * (out[2u * q + h] - kappa * B[a * d + col]);
        }
      }
    }
  }
}
