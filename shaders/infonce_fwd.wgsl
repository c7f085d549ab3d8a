// InfoNCE forward (spec §4.3): per-anchor log-sum-exp over all candidates, the per-row losses, and the
// gradient w.r.t. the raw positives. The B×M logits are never stored.
//
// Inputs are the soft-normalised rows of `infonce_norm.wgsl` (row stride dp = 4·rv floats, zero-padded): hat rows
// [0, B) = â, [B, 2B) = p̂, [2B, 2B + M) = ĉ, and their norms ν. With t = 1/τ and g = scale·t:
//
//   ℓ_bm       = t·â_b·ĉ_m
//   lse_b      = log Σ_m exp(ℓ_bm)     (stable: running max μ and S = Σ exp(ℓ − μ); μ' = max(μ, ℓ),
//                                        S' = S·e^{μ−μ'} + e^{ℓ−μ'})
//   rowLoss[b] = lse_b − t·â_b·p̂_b      (Φ = Σ_b rowLoss[b]; `infonce_sum.wgsl` adds scale·Φ to the slot)
//   ∂/∂p̂_b = −g·â_b, and through ñ (∂/∂v = (ĝ − v̂(v̂·ĝ))/ν):  gP[b] = −g·(â_b − p̂_b(â_b·p̂_b))/ν_p
//
// lse_b is written for the gradient sweeps (`infonce_sweep.wgsl`).
//
// Layout (d ≤ 64: dp = 4·DV, rv = DV = 8 or 16 vec4 per row, CHUNKED = false): each invocation holds RH anchors
// (rows w0 + lid + WG·r, r < RH) in registers; the candidates are staged TS = 256 / DV at a time in workgroup
// memory and
// every invocation walks them in the same order, so each candidate vec4 read feeds RH dot products. On CPU
// Vulkan (lavapipe: invocations are the lanes of a SIMD group and every storage or workgroup read is a
// per-lane load) this ratio, not the FLOP count, sets the speed: the host uses WG = 8 and RH = 64 / DV there,
// and RH = 1, WG = 512 / DV (the usual tiled layout) on GPUs.
// d > 64 (CHUNKED = true): one anchor per invocation, both rows read from storage in a rolled loop.
// Anchors past B are computed on row B − 1 and not written.
//
// Bindings: 0 hat (vec4 view), 1 nu (read), 2 lse (B, written), 3 rowLoss (B, written),
// 4 gP (B×d, read-write), 5 params. has_gp = 0: gP is some other buffer and is not touched; beta_p = 1
// adds into gP. Dispatch: grid1d(ceil(B / (WG·RH))) workgroups of WG threads (RH = 1 when CHUNKED).

override WG: u32 = 64u;
override RH: u32 = 1u;           // anchors per invocation (RH ≤ 16, RH·DV ≤ 128, WG·RH·DV ≤ 512)
override DV: u32 = 8u;           // vec4 per row when not CHUNKED (= rv, 8 or 16)
override CHUNKED: bool = false;  // rows wider than 64 columns
const TV: u32 = 256u;            // vec4 per staged tile: TS = TV / DV candidates
const NEG_BIG: f32 = -3.0e38;

@group(0) @binding(0) var<storage, read> hat: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> nu: array<f32>;
@group(0) @binding(2) var<storage, read_write> lseOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> rowLoss: array<f32>;
@group(0) @binding(4) var<storage, read_write> gP: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<workgroup> sHeld: array<vec4<f32>, 512>;  // [WG·RH anchors][DV]
var<workgroup> sTile: array<vec4<f32>, TV>;   // [TS candidates][DV]
var<workgroup> sSt: array<vec2<f32>, 128>;    // [WG·RH anchors] (μ, S)

// c + x·y, accumulated component by component.
fn dot_acc(x: vec4<f32>, y: vec4<f32>, c: f32) -> f32 {
  return fma(x.w, y.w, fma(x.z, y.z, fma(x.y, y.y, fma(x.x, y.x, c))));
}

// Push logit a into the running (max, Σ exp(· − max)) pair (mu, S).
fn lse_push(st: vec2<f32>, a: f32) -> vec2<f32> {
  let mu1 = max(st.x, a);
  return vec2<f32>(mu1, st.y * exp(st.x - mu1) + exp(a - mu1));
}

// lseOut, rowLoss and gP for anchor `row` (< B) from its (max, sum) pair.
fn finish_row(row: u32, st: vec2<f32>) {
  let B = params.B;
  let D = params.d;
  let t = params.inv_tau;
  let rv = params.dp / 4u;
  let lse = st.x + log(st.y);
  let ab = row * rv;
  let pb = (B + row) * rv;
  var ap = 0.0;  // â_b·p̂_b
  for (var q = 0u; q < rv; q = q + 1u) { ap = ap + dot(hat[ab + q], hat[pb + q]); }
  lseOut[row] = lse;
  rowLoss[row] = lse - ap * t;
  if (params.has_gp != 0u) {
    let g = params.scale * t;
    let inv = 1.0 / nu[B + row];
    for (var q = 0u; q < rv; q = q + 1u) {
      let v = -g * (hat[ab + q] - hat[pb + q] * ap) * inv;
      for (var c = 0u; c < 4u; c = c + 1u) {
        let k = 4u * q + c;
        if (k < D) {
          var x = v[c];
          if (params.beta_p != 0u) { x = x + gP[row * D + k]; }
          gP[row * D + k] = x;
        }
      }
    }
  }
}

// Rows wider than one chunk: one anchor per invocation, everything read from storage (a rolled loop over the
// rv vec4 of the rows: this fallback stays small to compile).
fn main_chunked(lid: u32, w0: u32) {
  let B = params.B;
  let M = params.M;
  let t = params.inv_tau;
  let rv = params.dp / 4u;
  let ab = min(w0 + lid, B - 1u) * rv;
  let c0 = 2u * B * rv;
  var st = vec2<f32>(NEG_BIG, 0.0);
  for (var m = 0u; m < M; m = m + 1u) {
    let cb = c0 + m * rv;
    var l = 0.0;
    for (var q = 0u; q < rv; q = q + 1u) { l = dot_acc(hat[ab + q], hat[cb + q], l); }
    st = lse_push(st, l * t);
  }
  if (w0 + lid < B) { finish_row(w0 + lid, st); }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let B = params.B;
  let M = params.M;
  let t = params.inv_tau;
  let nHW = WG * RH;  // anchors per workgroup
  let w0 = flat_workgroup(wid, nwg) * nHW;
  if (w0 >= B) { return; }
  if (CHUNKED) {
    main_chunked(lid, w0);
    return;
  }
  let rv = params.dp / 4u;  // = DV
  let c0 = 2u * B * rv;
  let TS = TV / DV;

  // Anchors → workgroup memory (rows clamped to B − 1) → registers.
  for (var e = lid; e < nHW * DV; e = e + WG) { sHeld[e] = hat[min(w0 + e / DV, B - 1u) * rv + e % DV]; }
  workgroupBarrier();
  // With RH > 1 the copy into the register array runs to nCopy = RH·rv, rv from params, so it stays rolled:
  // on CPU Vulkan every per-invocation read of workgroup memory expands into one load per SIMD lane and
  // component, and an unrolled copy makes the shader slow to compile. With one row per invocation (GPUs) it
  // runs to the constant DV and unrolls, so the array can stay in registers.
  let nCopy = select(RH * rv, DV, RH == 1u);
  var h: array<vec4<f32>, 128>;  // [r][q]
  for (var e = 0u; e < nCopy; e = e + 1u) {
    let r = e / DV;
    let q = e % DV;
    h[r * DV + q] = sHeld[(lid + WG * r) * DV + q];
  }
  var st: array<vec2<f32>, 16>;  // (μ, S) per anchor
  for (var r = 0u; r < RH; r = r + 1u) { st[r] = vec2<f32>(NEG_BIG, 0.0); }

  for (var m0 = 0u; m0 < M; m0 = m0 + TS) {
    let nT = min(TS, M - m0);
    workgroupBarrier();  // the previous tile is consumed
    for (var e = lid; e < nT * DV; e = e + WG) { sTile[e] = hat[c0 + m0 * rv + e]; }
    workgroupBarrier();
    for (var s = 0u; s < nT; s = s + 1u) {
      var l: array<f32, 16>;
      for (var r = 0u; r < RH; r = r + 1u) { l[r] = 0.0; }
      for (var q = 0u; q < DV; q = q + 1u) {
        let cv = sTile[s * DV + q];
        for (var r = 0u; r < RH; r = r + 1u) { l[r] = dot_acc(h[r * DV + q], cv, l[r]); }
      }
      for (var r = 0u; r < RH; r = r + 1u) { st[r] = lse_push(st[r], l[r] * t); }
    }
  }

  // (μ, S) → workgroup memory, then one anchor per invocation.
  for (var r = 0u; r < RH; r = r + 1u) { sSt[lid + WG * r] = st[r]; }
  workgroupBarrier();
  for (var hl = lid; hl < nHW; hl = hl + WG) {
    if (w0 + hl < B) { finish_row(w0 + hl, sSt[hl]); }
  }
}
