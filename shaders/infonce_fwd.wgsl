// InfoNCE forward (spec §4.3): per-anchor log-sum-exp over all candidates, the per-row losses, and the
// gradient w.r.t. the raw positives. Tiled over the candidates; the B×M logits are never stored.
//
// Inputs are the soft-normalised rows of `infonce_norm.wgsl`: hat rows [0, B) = â, [B, 2B) = p̂,
// [2B, 2B + M) = ĉ, and their norms ν. With t = 1/τ and g = scale·t:
//
//   ℓ_bm       = t·â_b·ĉ_m
//   lse_b      = log Σ_m exp(ℓ_bm)     (stable: online running max μ and sum S = Σ exp(ℓ − μ) per lane,
//                                        the lanes merged at the end as μ = max μ_l, S = Σ S_l·exp(μ_l − μ))
//   rowLoss[b] = lse_b − t·â_b·p̂_b      (Φ = Σ_b rowLoss[b]; `infonce_sum.wgsl` adds scale·Φ to the slot)
//   ∂/∂p̂_b = −g·â_b, and through ñ (∂/∂v = (ĝ − v̂(v̂·ĝ))/ν):  gP[b] = −g·(â_b − p̂_b(â_b·p̂_b))/ν_p
//
// lse_b is written for the gradient sweeps (`infonce_sweep.wgsl`).
//
// Workgroup: RA = 16 anchors × L = 16 lanes = 256 threads. Thread (a, j) owns anchor a and candidates
// j, j + L, j + 2L, j + 3L of each tile of TM = 64 candidates (4 dot products reuse each anchor value).
// The width is staged DC = 32 columns at a time (row stride 33: no bank conflicts), so any d works; when
// d ≤ DC the anchors are loaded once.
//
// Bindings: 0 hat, 1 nu (read), 2 lse (B, written), 3 rowLoss (B, written), 4 gP (B×d, read-write), 5 params.
// has_gp = 0: gP is some other buffer and is not touched; beta_p = 1 adds into gP.
// Dispatch: grid1d(ceil(B / RA)) workgroups.

const RA: u32 = 16u;
const L: u32 = 16u;
const WG: u32 = 256u;  // RA·L
const TM: u32 = 64u;   // 4·L
const DC: u32 = 32u;
const ST: u32 = 33u;   // DC + 1
const NEG_BIG: f32 = -3.0e38;

@group(0) @binding(0) var<storage, read> hat: array<f32>;
@group(0) @binding(1) var<storage, read> nu: array<f32>;
@group(0) @binding(2) var<storage, read_write> lseOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> rowLoss: array<f32>;
@group(0) @binding(4) var<storage, read_write> gP: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<workgroup> sA: array<f32, 528>;   // RA·ST: anchor columns [k0, k0 + DC)
var<workgroup> sC: array<f32, 2112>;  // TM·ST: candidate tile columns [k0, k0 + DC)
var<workgroup> sRed: array<f32, 512>; // 2·WG: per-lane (μ, S)
var<workgroup> sAP: array<f32, 16>;   // RA: â·p̂

// Push logit l into a running (max, Σ exp(· − max)) pair.
fn lse_push(st: vec2<f32>, l: f32) -> vec2<f32> {
  if (l > st.x) { return vec2<f32>(l, st.y * exp(st.x - l) + 1.0); }
  return vec2<f32>(st.x, st.y + exp(l - st.x));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let B = params.B;
  let M = params.M;
  let D = params.d;
  let t = params.inv_tau;
  let b0 = flat_workgroup(wid, nwg) * RA;
  if (b0 >= B) { return; }
  let nA = min(RA, B - b0);
  let c0 = 2u * B; // first candidate row in hat
  let oneChunk = D <= DC;
  let a = lid / L;
  let j = lid % L;
  var st = vec2<f32>(NEG_BIG, 0.0);

  for (var m0 = 0u; m0 < M; m0 = m0 + TM) {
    let nT = min(TM, M - m0);
    var d0 = 0.0;
    var d1 = 0.0;
    var d2 = 0.0;
    var d3 = 0.0;
    for (var k0 = 0u; k0 < D; k0 = k0 + DC) {
      let kc = min(DC, D - k0);
      workgroupBarrier(); // the previous readers of sA / sC are done
      if (m0 == 0u || !oneChunk) {
        for (var o = lid; o < RA * DC; o = o + WG) {
          let r = o / DC;
          let k = o % DC;
          var v = 0.0;
          if (r < nA && k < kc) { v = hat[(b0 + r) * D + k0 + k]; }
          sA[r * ST + k] = v;
        }
      }
      for (var o = lid; o < TM * DC; o = o + WG) {
        let r = o / DC;
        let k = o % DC;
        var v = 0.0;
        if (r < nT && k < kc) { v = hat[(c0 + m0 + r) * D + k0 + k]; }
        sC[r * ST + k] = v;
      }
      workgroupBarrier();
      for (var k = 0u; k < kc; k = k + 1u) {
        let av = sA[a * ST + k];
        d0 = d0 + av * sC[j * ST + k];
        d1 = d1 + av * sC[(j + L) * ST + k];
        d2 = d2 + av * sC[(j + 2u * L) * ST + k];
        d3 = d3 + av * sC[(j + 3u * L) * ST + k];
      }
    }
    if (j < nT) { st = lse_push(st, d0 * t); }
    if (j + L < nT) { st = lse_push(st, d1 * t); }
    if (j + 2u * L < nT) { st = lse_push(st, d2 * t); }
    if (j + 3u * L < nT) { st = lse_push(st, d3 * t); }
  }

  sRed[lid] = st.x;
  sRed[WG + lid] = st.y;
  workgroupBarrier();
  if (lid < nA) {
    var mu = NEG_BIG;
    for (var l = 0u; l < L; l = l + 1u) { mu = max(mu, sRed[lid * L + l]); }
    var s = 0.0;
    for (var l = 0u; l < L; l = l + 1u) { s = s + sRed[WG + lid * L + l] * exp(sRed[lid * L + l] - mu); }
    let lse = mu + log(s);
    let b = b0 + lid;
    lseOut[b] = lse;
    var ap = 0.0;
    for (var k = 0u; k < D; k = k + 1u) { ap = ap + hat[b * D + k] * hat[(B + b) * D + k]; }
    sAP[lid] = ap;
    rowLoss[b] = lse - ap * t;
  }
  workgroupBarrier();

  if (params.has_gp != 0u) {
    let g = params.scale * t;
    for (var o = lid; o < nA * D; o = o + WG) {
      let r = o / D;
      let i = b0 * D + o;
      var v = -g * (hat[i] - hat[B * D + i] * sAP[r]) / nu[B + b0 + r];
      if (params.beta_p != 0u) { v = v + gP[i]; }
      gP[i] = v;
    }
  }
}
