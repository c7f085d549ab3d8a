// ssl_con, passes 2 and 3 (spec §4.6, §13.1): the gradient w.r.t. the raw rows, one kernel for both sweeps.
//
//   pass 2 (A = x̂, B = ŷ, row stats of the owner a = i):   ∂/∂x̂_i = g·Σ_j Γ_ij ŷ_j
//   pass 3 (A = ŷ, B = x̂, row stats of the other b = i):   ∂/∂ŷ_j = g·Σ_i Γ_ij x̂_i
//
// with Γ_ij = w_i·exp(s_ij − m_i) − κ_i·[i=j] (stats from ssl_rows) and g = scale/τ. In both sweeps the [i=j] term
// is −κ_a·B_a for the owner row a, so
//
//   G_a = g·( Σ_b p_ab·B_b − κ_a·B_a ),   p_ab = w_t·exp(A_a·B_b/τ − m_t),  t = a (pass 2) or b (pass 3),
//
// then back through the hard normalisation v̂ = v / max(‖v‖, 1e-12) of the owner rows:
//
//   Out_a (+)= (G_a − Â_a (Â_a·G_a)) / ‖v_a‖   if ‖v_a‖ > 1e-12,   G_a / 1e-12 otherwise.
//
// Inputs: x̂, ŷ from ssl_norm (row stride dp = 4·rv floats, zero-padded).
// Layout (d ≤ 64: dp = 4·DV, rv = DV = 8 or 16 vec4 per row, CHUNKED = false; see ssl_rows.wgsl): each
// invocation holds RH owner rows (a0 + lid + WG·r, r < RH) and their accumulators Σ_b p_ab·B_b in registers;
// the rows of B are staged TS = 256 / DV at a time in workgroup memory (with their stats in pass 3) and each vec4
// of B read feeds the logits and the accumulators of RH rows. Each tile's share is summed on its own and then
// added (blocked summation).
// The accumulators then go through workgroup memory (the owner-row staging) to a row-per-invocation epilogue.
// d > 64 (CHUNKED = true): one owner row per invocation, rows read from storage in rolled loops; one sweep per
// output chunk of cw = 8 vec4 (the logits are recomputed over the whole row); each output chunk is written as
// base + G·inv and, once Â·G is complete, corrected by − Â(Â·G)·inv (the same sum, in another order).
//
// Bindings: 0 A (vec4 view, n×dp), 1 B (vec4 view, n×dp), 2 stats (f32, n×4), 3 norms of the owner rows (f32, n),
//           4 Out (f32, n×d, read-write), 5 params. beta = 1: Out += result; beta = 0: Out is overwritten, not read.
// Dispatch: grid1d(ceil(n / (WG·RH))) workgroups of WG threads (RH = 1 when CHUNKED).

override WG: u32 = 64u;
override RH: u32 = 1u;           // owner rows per invocation (RH ≤ 16, RH·DV ≤ 128, WG·RH·DV ≤ 512)
override DV: u32 = 8u;           // vec4 per row when not CHUNKED (= rv, 8 or 16); vec4 per output chunk when CHUNKED
override CHUNKED: bool = false;  // rows wider than 64 columns
const TV: u32 = 256u;            // vec4 per staged tile: TS = TV / DV rows of B
const TS_MAX: u32 = 32u;         // TS for DV = 8

@group(0) @binding(0) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> norms: array<f32>;
@group(0) @binding(4) var<storage, read_write> Out: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<workgroup> sHeld: array<vec4<f32>, 512>;  // [WG·RH owner rows][DV]; later their Σ p·B
var<workgroup> sTile: array<vec4<f32>, TV>;   // [TS rows of B][DV]
var<workgroup> sM: array<f32, TS_MAX>;        // pass 3: m_b of the staged rows
var<workgroup> sW: array<f32, TS_MAX>;        // pass 3: w_b

// c + x·y, accumulated component by component.
fn dot_acc(x: vec4<f32>, y: vec4<f32>, c: f32) -> f32 {
  return fma(x.w, y.w, fma(x.z, y.z, fma(x.y, y.y, fma(x.x, y.x, c))));
}

// 1 / ‖v_a‖ of the backward through n, and whether the projection term applies (‖v_a‖ > 1e-12).
fn norm_inv(a: u32) -> vec2<f32> {
  let nrm = norms[a];
  if (nrm > 1e-12) { return vec2<f32>(1.0 / nrm, 1.0); }
  return vec2<f32>(1e12, 0.0);
}

// Rows wider than one chunk: one owner row per invocation, everything read from storage. The loops over the
// vec4 of a chunk run to cw = rv / nch (= DV, but not a compile-time constant): rolled, they keep this
// fallback small to compile.
fn main_chunked(lid: u32, a0: u32) {
  let n = params.n;
  let d = params.d;
  let other = params.other_stats != 0u;
  let rv = params.dp / 4u;
  let nch = rv / DV;
  let cw = rv / nch;
  let a = min(a0 + lid, n - 1u);
  let ab = a * rv;
  let live = a0 + lid < n;
  let mA = stats[4u * a];
  let wA = stats[4u * a + 1u];
  let kappa = stats[4u * a + 2u];
  let ni = norm_inv(a);
  var proj = 0.0;  // Â_a·G_a over the chunks done
  for (var oc = 0u; oc < nch; oc = oc + 1u) {
    let oo = oc * cw;
    var acc: array<vec4<f32>, 8>;
    for (var q = 0u; q < cw; q = q + 1u) { acc[q] = vec4<f32>(0.0); }
    for (var b = 0u; b < n; b = b + 1u) {
      var l = 0.0;
      for (var q = 0u; q < rv; q = q + 1u) { l = dot_acc(A[ab + q], B[b * rv + q], l); }
      var m = mA;
      var w = wA;
      if (other) {
        m = stats[4u * b];
        w = stats[4u * b + 1u];
      }
      let p = w * exp(l * params.inv_tau - m);
      for (var q = 0u; q < cw; q = q + 1u) { acc[q] = fma(vec4<f32>(p), B[b * rv + oo + q], acc[q]); }
    }
    for (var q = 0u; q < cw; q = q + 1u) {
      let gq = params.gscale * (acc[q] - kappa * B[ab + oo + q]);
      proj = proj + dot(A[ab + oo + q], gq);
      if (live) {
        for (var c = 0u; c < 4u; c = c + 1u) {
          let k = 4u * (oo + q) + c;
          if (k < d) {
            var x = gq[c] * ni.x;
            if (params.beta != 0u) { x = x + Out[a * d + k]; }
            Out[a * d + k] = x;
          }
        }
      }
    }
  }
  if (live) {
    let f = proj * ni.y * ni.x;
    for (var q = 0u; q < rv; q = q + 1u) {
      let v = A[ab + q] * f;
      for (var c = 0u; c < 4u; c = c + 1u) {
        let k = 4u * q + c;
        if (k < d) { Out[a * d + k] = Out[a * d + k] - v[c]; }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let n = params.n;
  let d = params.d;
  let inv_tau = params.inv_tau;
  let other = params.other_stats != 0u;
  let nHW = WG * RH;  // owner rows per workgroup
  let a0 = flat_workgroup(wid, nwg) * nHW;
  if (a0 >= n) { return; }
  if (CHUNKED) {
    main_chunked(lid, a0);
    return;
  }
  let rv = params.dp / 4u;  // = DV
  let TS = TV / DV;

  // Owner rows → workgroup memory (clamped to n − 1) → registers.
  for (var e = lid; e < nHW * DV; e = e + WG) { sHeld[e] = A[min(a0 + e / DV, n - 1u) * rv + e % DV]; }
  workgroupBarrier();
  // With RH > 1 the copies into and out of the register arrays run to nCopy = RH·rv, rv from params, so they
  // stay rolled: on CPU Vulkan every per-invocation access of workgroup memory expands into one per SIMD lane
  // and component, and unrolled copies make the shader slow to compile. With one row per invocation (GPUs)
  // they run to the constant DV and unroll, so the arrays can stay in registers.
  let nCopy = select(RH * rv, DV, RH == 1u);
  var h: array<vec4<f32>, 128>;    // [r][q]
  var acc: array<vec4<f32>, 128>;  // [r][q] Σ_b p_ab·B_b
  for (var e = 0u; e < nCopy; e = e + 1u) {
    let r = e / DV;
    let q = e % DV;
    h[r * DV + q] = sHeld[(lid + WG * r) * DV + q];
    acc[r * DV + q] = vec4<f32>(0.0);
  }
  var mOwn: array<f32, 16>;  // pass 2: the owner rows' m and w
  var wOwn: array<f32, 16>;
  for (var r = 0u; r < RH; r = r + 1u) {
    let a = min(a0 + lid + WG * r, n - 1u);
    mOwn[r] = stats[4u * a];
    wOwn[r] = stats[4u * a + 1u];
  }

  for (var b0 = 0u; b0 < n; b0 = b0 + TS) {
    let nT = min(TS, n - b0);
    workgroupBarrier();  // the previous tile is consumed
    for (var e = lid; e < nT * DV; e = e + WG) { sTile[e] = B[b0 * rv + e]; }
    if (other) {
      for (var e = lid; e < nT; e = e + WG) {
        sM[e] = stats[4u * (b0 + e)];
        sW[e] = stats[4u * (b0 + e) + 1u];
      }
    }
    workgroupBarrier();
    // This tile's share, summed on its own and then added (blocked summation).
    var tacc: array<vec4<f32>, 128>;
    for (var r = 0u; r < RH; r = r + 1u) {
      for (var q = 0u; q < DV; q = q + 1u) { tacc[r * DV + q] = vec4<f32>(0.0); }
    }
    for (var s = 0u; s < nT; s = s + 1u) {
      var l: array<f32, 16>;
      var bv: array<vec4<f32>, 16>;
      for (var r = 0u; r < RH; r = r + 1u) { l[r] = 0.0; }
      for (var q = 0u; q < DV; q = q + 1u) {
        bv[q] = sTile[s * DV + q];
        for (var r = 0u; r < RH; r = r + 1u) { l[r] = dot_acc(h[r * DV + q], bv[q], l[r]); }
      }
      var mB = 0.0;
      var wB = 0.0;
      if (other) {
        mB = sM[s];
        wB = sW[s];
      }
      var p: array<f32, 16>;
      for (var r = 0u; r < RH; r = r + 1u) {
        var m = mB;
        var w = wB;
        if (!other) {
          m = mOwn[r];
          w = wOwn[r];
        }
        p[r] = w * exp(l[r] * inv_tau - m);
      }
      for (var q = 0u; q < DV; q = q + 1u) {
        for (var r = 0u; r < RH; r = r + 1u) { tacc[r * DV + q] = fma(vec4<f32>(p[r]), bv[q], tacc[r * DV + q]); }
      }
    }
    for (var r = 0u; r < RH; r = r + 1u) {
      for (var q = 0u; q < DV; q = q + 1u) { acc[r * DV + q] = acc[r * DV + q] + tacc[r * DV + q]; }
    }
  }

  // Σ p·B → workgroup memory, then one owner row per invocation: G, Â·G, back through n.
  workgroupBarrier();
  for (var e = 0u; e < nCopy; e = e + 1u) {
    let r = e / DV;
    let q = e % DV;
    sHeld[(lid + WG * r) * DV + q] = acc[r * DV + q];
  }
  workgroupBarrier();
  for (var hl = lid; hl < nHW; hl = hl + WG) {
    let a = a0 + hl;
    if (a < n) {
      let ab = a * rv;
      let kappa = stats[4u * a + 2u];
      let ni = norm_inv(a);
      var proj = 0.0;
      for (var q = 0u; q < rv; q = q + 1u) {
        let gq = params.gscale * (sHeld[hl * DV + q] - kappa * B[ab + q]);
        sHeld[hl * DV + q] = gq;
        proj = proj + dot(A[ab + q], gq);
      }
      proj = proj * ni.y;
      for (var q = 0u; q < rv; q = q + 1u) {
        let v = (sHeld[hl * DV + q] - A[ab + q] * proj) * ni.x;
        for (var c = 0u; c < 4u; c = c + 1u) {
          let k = 4u * q + c;
          if (k < d) {
            var x = v[c];
            if (params.beta != 0u) { x = x + Out[a * d + k]; }
            Out[a * d + k] = x;
          }
        }
      }
    }
  }
}
