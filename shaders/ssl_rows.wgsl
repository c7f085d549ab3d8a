// ssl_con, pass 1 (spec §4.6, §13.1): per row i of x̂, over all j of ŷ (never materialising N×N),
//
//   s_ij = x̂_i·ŷ_j / τ,   m_i = max_j s_ij,   S'_i = Σ_j exp(s_ij − m_i)      (online max-shift, exact)
//   S_i + 1e-8 = e^{m_i}·D_i  with  D_i = S'_i + 1e-8·e^{−m_i}
//   r_i = a_i/(S_i + 1e-8) = exp(s_ii − m_i)/D_i,   κ_i = r_i/(r_i + 1e-8),   ℓ_i = −log(r_i + 1e-8)
//
// and stores stats[4i..4i+3] = (m_i, w_i = κ_i/D_i, κ_i, ℓ_i), so that the backward weights are
// Γ_ij = w_i·exp(s_ij − m_i) − κ_i·[i=j]. If e^{−m_i}·1e-8 overflows (m_i < −106), D_i = inf and r_i = 0,
// which is the exact limit.
//
// Bindings: 0 A = x̂ (f32, n×d), 1 B = ŷ (f32, n×d), 2 stats (f32, n×4, written), 3 params.
// Dispatch: one workgroup of 256 threads per TA = 32 rows of x̂, 1-D grid (grid1d). Each thread keeps a running
// (max, shifted sum) for its 2 rows over its 4 columns of every tile; the 16 partials of a row are merged at the end.

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> partM: array<f32, 512>;  // [TA][16] running maxima of the 16 threads sharing a row
var<workgroup> partS: array<f32, 512>;  // [TA][16] their shifted sums

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let a0 = flat_workgroup(wid, nwg) * TA;
  let n = params.n;
  let d = params.d;
  if (a0 >= n) { return; }
  let inv_tau = params.inv_tau;
  let ty = lid / 16u;
  let tx = lid % 16u;
  var m = array<f32, 2>(NEG_BIG, NEG_BIG);
  var s = array<f32, 2>(0.0, 0.0);
  for (var b0 = 0u; b0 < n; b0 = b0 + TB) {
    let acc = tile_dots(lid, a0, b0, n, d);
    for (var r = 0u; r < 2u; r = r + 1u) {
      var mt = m[r];
      for (var c = 0u; c < 4u; c = c + 1u) {
        if (b0 + tx + 16u * c < n) { mt = max(mt, acc[4u * r + c] * inv_tau); }
      }
      var st = s[r] * exp(m[r] - mt);
      for (var c = 0u; c < 4u; c = c + 1u) {
        if (b0 + tx + 16u * c < n) { st = st + exp(acc[4u * r + c] * inv_tau - mt); }
      }
      m[r] = mt;
      s[r] = st;
    }
  }
  for (var r = 0u; r < 2u; r = r + 1u) {
    partM[(ty + 16u * r) * 16u + tx] = m[r];
    partS[(ty + 16u * r) * 16u + tx] = s[r];
  }
  workgroupBarrier();
  if (lid < TA && a0 + lid < n) {
    let i = a0 + lid;
    var mi = NEG_BIG;
    for (var t = 0u; t < 16u; t = t + 1u) { mi = max(mi, partM[lid * 16u + t]); }
    var si = 0.0;
    for (var t = 0u; t < 16u; t = t + 1u) { si = si + partS[lid * 16u + t] * exp(partM[lid * 16u + t] - mi); }
    var dot = 0.0;
    for (var k = 0u; k < d; k = k + 1u) { dot = dot + A[i * d + k] * B[i * d + k]; }
    let sii = dot * inv_tau;
    // 1e-8·e^{−m} = exp(−m + ln 1e-8)
    let den = si + exp(-mi - 18.420680743952367);
    let ri = exp(sii - mi) / den;
    let kappa = ri / (ri + 1e-8);
    stats[4u * i] = mi;
    stats[4u * i + 1u] = kappa / den;
    stats[4u * i + 2u] = kappa;
    stats[4u * i + 3u] = -log(ri + 1e-8);
  }
}
