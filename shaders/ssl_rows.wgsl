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
// Inputs: x̂ and ŷ from ssl_norm, row stride dp = 4·rv floats (zero-padded).
// Layout (d ≤ 64: dp = 4·DV, rv = DV = 8 or 16 vec4 per row, CHUNKED = false): each invocation holds RH rows
// of x̂ (a0 + lid + WG·r, r < RH) in registers with a running (max, shifted sum) each; the rows of ŷ are staged
// TS = 256 / DV at a time in workgroup memory and every invocation walks them in the same order, so each vec4 of
// ŷ read feeds RH dot products. On CPU Vulkan (lavapipe: invocations are the lanes of a SIMD group and every
// storage or workgroup read is a per-lane load) this ratio, not the FLOP count, sets the speed: the host uses
// WG = 8, RH = 64 / DV there, and RH = 1, WG = 512 / DV (the usual tiled layout) on GPUs.
// d > 64 (CHUNKED = true): one row per invocation, both rows read from storage in a rolled loop.
// Rows past n are computed on row n − 1 and not written.
//
// Bindings: 0 A = x̂ (vec4 view, n×dp), 1 B = ŷ (vec4 view, n×dp), 2 stats (f32, n×4, written), 3 params.
// Dispatch: grid1d(ceil(n / (WG·RH))) workgroups of WG threads (RH = 1 when CHUNKED).

override WG: u32 = 64u;
override RH: u32 = 1u;           // rows per invocation (RH ≤ 16, RH·DV ≤ 128, WG·RH·DV ≤ 512)
override DV: u32 = 8u;           // vec4 per row when not CHUNKED (= rv, 8 or 16)
override CHUNKED: bool = false;  // rows wider than 64 columns
const TV: u32 = 256u;            // vec4 per staged tile: TS = TV / DV rows of ŷ
// Start value of running maxima: finite, so that exp(m_old − m_new) never sees inf − inf.
const NEG_BIG: f32 = -3.0e38;

@group(0) @binding(0) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> sHeld: array<vec4<f32>, 512>;  // [WG·RH rows of x̂][DV]
var<workgroup> sTile: array<vec4<f32>, TV>;   // [TS rows of ŷ][DV]
var<workgroup> sSt: array<vec2<f32>, 128>;    // [WG·RH rows] (m, S')

// c + x·y, accumulated component by component.
fn dot_acc(x: vec4<f32>, y: vec4<f32>, c: f32) -> f32 {
  return fma(x.w, y.w, fma(x.z, y.z, fma(x.y, y.y, fma(x.x, y.x, c))));
}

// Push logit a into the running (max, Σ exp(· − max)) pair.
fn lse_push(st: vec2<f32>, a: f32) -> vec2<f32> {
  let m1 = max(st.x, a);
  return vec2<f32>(m1, st.y * exp(st.x - m1) + exp(a - m1));
}

// stats of row i (< n) from its (m_i, S'_i).
fn finish_row(i: u32, st: vec2<f32>) {
  let rv = params.dp / 4u;
  let mi = st.x;
  let si = st.y;
  var dot = 0.0;
  for (var q = 0u; q < rv; q = q + 1u) { dot = dot_acc(A[i * rv + q], B[i * rv + q], dot); }
  let sii = dot * params.inv_tau;
  // 1e-8·e^{−m} = exp(−m + ln 1e-8)
  let den = si + exp(-mi - 18.420680743952367);
  let ri = exp(sii - mi) / den;
  let kappa = ri / (ri + 1e-8);
  stats[4u * i] = mi;
  stats[4u * i + 1u] = kappa / den;
  stats[4u * i + 2u] = kappa;
  stats[4u * i + 3u] = -log(ri + 1e-8);
}

// Rows wider than one chunk: one row per invocation, everything read from storage (a rolled loop over the rv
// vec4 of the rows: this fallback stays small to compile).
fn main_chunked(lid: u32, a0: u32) {
  let n = params.n;
  let rv = params.dp / 4u;
  let ab = min(a0 + lid, n - 1u) * rv;
  var st = vec2<f32>(NEG_BIG, 0.0);
  for (var j = 0u; j < n; j = j + 1u) {
    var l = 0.0;
    for (var q = 0u; q < rv; q = q + 1u) { l = dot_acc(A[ab + q], B[j * rv + q], l); }
    st = lse_push(st, l * params.inv_tau);
  }
  if (a0 + lid < n) { finish_row(a0 + lid, st); }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let n = params.n;
  let inv_tau = params.inv_tau;
  let nHW = WG * RH;  // rows per workgroup
  let a0 = flat_workgroup(wid, nwg) * nHW;
  if (a0 >= n) { return; }
  if (CHUNKED) {
    main_chunked(lid, a0);
    return;
  }
  let rv = params.dp / 4u;  // = DV
  let TS = TV / DV;

  // Rows of x̂ → workgroup memory (clamped to n − 1) → registers.
  for (var e = lid; e < nHW * DV; e = e + WG) { sHeld[e] = A[min(a0 + e / DV, n - 1u) * rv + e % DV]; }
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
  var st: array<vec2<f32>, 16>;  // (m, S') per row
  for (var r = 0u; r < RH; r = r + 1u) { st[r] = vec2<f32>(NEG_BIG, 0.0); }

  for (var b0 = 0u; b0 < n; b0 = b0 + TS) {
    let nT = min(TS, n - b0);
    workgroupBarrier();  // the previous tile is consumed
    for (var e = lid; e < nT * DV; e = e + WG) { sTile[e] = B[b0 * rv + e]; }
    workgroupBarrier();
    for (var s = 0u; s < nT; s = s + 1u) {
      var l: array<f32, 16>;
      for (var r = 0u; r < RH; r = r + 1u) { l[r] = 0.0; }
      for (var q = 0u; q < DV; q = q + 1u) {
        let bv = sTile[s * DV + q];
        for (var r = 0u; r < RH; r = r + 1u) { l[r] = dot_acc(h[r * DV + q], bv, l[r]); }
      }
      for (var r = 0u; r < RH; r = r + 1u) { st[r] = lse_push(st[r], l[r] * inv_tau); }
    }
  }

  // (m, S') → workgroup memory, then one row per invocation.
  for (var r = 0u; r < RH; r = r + 1u) { sSt[lid + WG * r] = st[r]; }
  workgroupBarrier();
  for (var hl = lid; hl < nHW; hl = hl + WG) {
    if (a0 + hl < n) { finish_row(a0 + hl, sSt[hl]); }
  }
}
