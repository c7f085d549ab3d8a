// InfoNCE gradients w.r.t. the raw anchors (mode 0) or the raw candidates (mode 1) (spec §4.3), as a
// sweep of "held" rows against all "streamed" rows. The B×M weights are never stored.
//
// Inputs: the soft-normalised rows of `infonce_norm.wgsl` (hat rows [0, B) = â, [B, 2B) = p̂,
// [2B, 2B + M) = ĉ), their norms ν, and lse_b from `infonce_fwd.wgsl`. With t = 1/τ, g = scale·t and
//   π_bm = exp(t·â_b·ĉ_m − lse_b)          (≤ 1 since lse_b ≥ max_m ℓ_bm: never overflows)
// mode 0 (held = anchors b, streamed = candidates m):  ĝ_b = g·(Σ_m π_bm ĉ_m − p̂_b)
// mode 1 (held = candidates m, streamed = anchors b):  ĝ_m = g·Σ_b π_bm â_b
// then through ñ (v̂ = v/ν):  out[row] (+)= (ĝ − v̂(v̂·ĝ))/ν.
//
// Workgroup: RH held rows × L = 16 lanes (WG = 16·RH threads). Per tile of TS = 64 streamed rows, thread
// (h, j) computes the weights of streamed rows j, j + L, j + 2L, j + 3L (4 dot products reuse each held
// value) into sW; then the workgroup adds Σ_t sW[h][t]·stream[t][k] into the accumulators sAcc[h][k].
// The width is staged DC = 32 columns at a time (row stride 33: no bank conflicts); sAcc holds RH·d ≤ 1024
// floats (the host picks RH so: d ≤ 128 → RH = 8, …, d ≤ 1024 → RH = 1).
//
// Bindings: 0 hat, 1 nu, 2 lse (read), 3 out (rows × d, read-write), 4 params. beta = 1 adds into out.
// Dispatch: grid1d(ceil(held rows / RH)) workgroups of WG threads.

override RH: u32 = 8u;
override WG: u32 = 128u; // 16·RH
const L: u32 = 16u;
const TS: u32 = 64u;     // 4·L
const DC: u32 = 32u;
const ST: u32 = 33u;     // DC + 1
const WS: u32 = 65u;     // TS + 1

@group(0) @binding(0) var<storage, read> hat: array<f32>;
@group(0) @binding(1) var<storage, read> nu: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> sH: array<f32, 264>;    // 8·ST: held columns [k0, k0 + DC)
var<workgroup> sS: array<f32, 2112>;   // TS·ST: streamed tile columns [k0, k0 + DC)
var<workgroup> sW: array<f32, 520>;    // 8·WS: weights π of the tile
var<workgroup> sAcc: array<f32, 1024>; // RH·d accumulators, later ĝ
var<workgroup> sDot: array<f32, 8>;    // v̂·ĝ

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let B = params.B;
  let D = params.d;
  let t = params.inv_tau;
  let modeA = params.mode == 0u;
  var nHeldAll = params.M;
  var heldRow0 = 2u * B;
  var nStream = B;
  var streamRow0 = 0u;
  if (modeA) {
    nHeldAll = B;
    heldRow0 = 0u;
    nStream = params.M;
    streamRow0 = 2u * B;
  }
  let h0 = flat_workgroup(wid, nwg) * RH;
  if (h0 >= nHeldAll) { return; }
  let nH = min(RH, nHeldAll - h0);
  let oneChunk = D <= DC;
  let h = lid / L;
  let j = lid % L;
  var lseHeld = 0.0;
  if (modeA && h < nH) { lseHeld = lse[h0 + h]; }
  for (var o = lid; o < RH * D; o = o + WG) { sAcc[o] = 0.0; }

  for (var s0 = 0u; s0 < nStream; s0 = s0 + TS) {
    let nT = min(TS, nStream - s0);
    var d0 = 0.0;
    var d1 = 0.0;
    var d2 = 0.0;
    var d3 = 0.0;
    for (var k0 = 0u; k0 < D; k0 = k0 + DC) {
      let kc = min(DC, D - k0);
      workgroupBarrier(); // the previous readers of sH / sS / sW are done
      if (s0 == 0u || !oneChunk) {
        for (var o = lid; o < RH * DC; o = o + WG) {
          let r = o / DC;
          let k = o % DC;
          var v = 0.0;
          if (r < nH && k < kc) { v = hat[(heldRow0 + h0 + r) * D + k0 + k]; }
          sH[r * ST + k] = v;
        }
      }
      for (var o = lid; o < TS * DC; o = o + WG) {
        let r = o / DC;
        let k = o % DC;
        var v = 0.0;
        if (r < nT && k < kc) { v = hat[(streamRow0 + s0 + r) * D + k0 + k]; }
        sS[r * ST + k] = v;
      }
      workgroupBarrier();
      for (var k = 0u; k < kc; k = k + 1u) {
        let hv = sH[h * ST + k];
        d0 = d0 + hv * sS[j * ST + k];
        d1 = d1 + hv * sS[(j + L) * ST + k];
        d2 = d2 + hv * sS[(j + 2u * L) * ST + k];
        d3 = d3 + hv * sS[(j + 3u * L) * ST + k];
      }
    }
    // π for the 4 streamed rows of this thread (0 outside the tile or for missing held rows).
    var dots = array<f32, 4>(d0, d1, d2, d3);
    for (var i = 0u; i < 4u; i = i + 1u) {
      let r = j + i * L;
      var w = 0.0;
      if (r < nT && h < nH) {
        var sub = lseHeld;
        if (!modeA) { sub = lse[s0 + r]; }
        w = exp(dots[i] * t - sub);
      }
      sW[h * WS + r] = w;
    }
    for (var k0 = 0u; k0 < D; k0 = k0 + DC) {
      let kc = min(DC, D - k0);
      if (!oneChunk) {
        workgroupBarrier(); // the logit phase is done with sS
        for (var o = lid; o < TS * DC; o = o + WG) {
          let r = o / DC;
          let k = o % DC;
          var v = 0.0;
          if (r < nT && k < kc) { v = hat[(streamRow0 + s0 + r) * D + k0 + k]; }
          sS[r * ST + k] = v;
        }
      }
      workgroupBarrier(); // sW (and sS) complete
      // RH·DC = 2·WG outputs of this chunk: thread lid owns lid and lid + WG. When WG is a multiple of DC
      // (RH ≥ 2) both share the column k, so each streamed value is loaded once for two rows.
      let r1 = lid / DC;
      let k1 = lid % DC;
      let r2 = (lid + WG) / DC;
      let k2 = select((lid + WG) % DC, k1, WG % DC == 0u);
      var acc1 = 0.0;
      var acc2 = 0.0;
      for (var q = 0u; q < nT; q = q + 1u) {
        acc1 = acc1 + sW[r1 * WS + q] * sS[q * ST + k1];
        acc2 = acc2 + sW[r2 * WS + q] * sS[q * ST + k2];
      }
      if (k1 < kc) { sAcc[r1 * D + k0 + k1] = sAcc[r1 * D + k0 + k1] + acc1; }
      if (k2 < kc) { sAcc[r2 * D + k0 + k2] = sAcc[r2 * D + k0 + k2] + acc2; }
    }
  }
  workgroupBarrier();

  let g = params.scale * t;
  for (var o = lid; o < nH * D; o = o + WG) {
    var v = g * sAcc[o];
    if (modeA) { v = v - g * hat[(B + h0) * D + o]; } // − g·p̂_b
    sAcc[o] = v;
  }
  workgroupBarrier();
  if (lid < nH) {
    var s = 0.0;
    for (var k = 0u; k < D; k = k + 1u) { s = s + hat[(heldRow0 + h0 + lid) * D + k] * sAcc[lid * D + k]; }
    sDot[lid] = s;
  }
  workgroupBarrier();
  for (var o = lid; o < nH * D; o = o + WG) {
    let r = o / D;
    let i = h0 * D + o;
    var v = (sAcc[o] - hat[heldRow0 * D + i] * sDot[r]) / nu[heldRow0 + h0 + r];
    if (params.beta != 0u) { v = v + out[i]; }
    out[i] = v;
  }
}
