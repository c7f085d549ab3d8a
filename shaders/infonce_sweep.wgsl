// InfoNCE gradients w.r.t. the raw anchors (mode 0) or the raw candidates (mode 1) (spec §4.3), as a
// sweep of "held" rows against all "streamed" rows. The B×M weights are never stored.
//
// Inputs: the soft-normalised rows of `infonce_norm.wgsl` (row stride dp = 4·rv floats, zero-padded; hat rows
// [0, B) = â, [B, 2B) = p̂, [2B, 2B + M) = ĉ), their norms ν, and lse_b from `infonce_fwd.wgsl`. With
// t = 1/τ, g = scale·t and
//   π_bm = exp(t·â_b·ĉ_m − lse_b)          (≤ 1 since lse_b ≥ max_m ℓ_bm: never overflows)
// mode 0 (held = anchors b, streamed = candidates m):  ĝ_b = g·(Σ_m π_bm ĉ_m − p̂_b)
// mode 1 (held = candidates m, streamed = anchors b):  ĝ_m = g·Σ_b π_bm â_b
// then through ñ (v̂ = v/ν):  out[row] (+)= (ĝ − v̂(v̂·ĝ))/ν.
//
// Layout (d ≤ 64: dp = 4·DV, rv = DV = 8 or 16 vec4 per row, CHUNKED = false; see `infonce_fwd.wgsl`): each
// invocation holds RH rows (w0 + lid + WG·r, r < RH) and their accumulators Σ π·streamed in registers; the
// streamed rows are staged TS = 256 / DV at a time in workgroup memory and each streamed vec4 read feeds the
// logits and the accumulators of RH rows. Each tile's share is summed on its own and then added (blocked
// summation: long sums round like the earlier tiled kernel's). The accumulators then go through workgroup memory (the
// held-row staging) to a row-per-invocation epilogue.
// d > 64 (CHUNKED = true): one held row per invocation, rows read from storage in rolled loops; one sweep per
// output chunk of cw = 8 vec4 (the logits are recomputed over the whole row); each output chunk is written as
// base + ĝ/ν and, once v̂·ĝ is complete, corrected by − v̂(v̂·ĝ)/ν (the same sum, in another order).
//
// Bindings: 0 hat (vec4 view), 1 nu, 2 lse (read), 3 out (rows × d, read-write), 4 params.
// beta = 1 adds into out. Dispatch: grid1d(ceil(held rows / (WG·RH))) workgroups of WG threads.

override WG: u32 = 64u;
override RH: u32 = 1u;           // held rows per invocation (RH ≤ 16, RH·DV ≤ 128, WG·RH·DV ≤ 512)
override DV: u32 = 8u;           // vec4 per row when not CHUNKED (= rv, 8 or 16); vec4 per output chunk when CHUNKED
override CHUNKED: bool = false;  // rows wider than 64 columns
const TV: u32 = 256u;            // vec4 per staged tile: TS = TV / DV streamed rows
const TS_MAX: u32 = 32u;         // TS for DV = 8

@group(0) @binding(0) var<storage, read> hat: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> nu: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> sHeld: array<vec4<f32>, 512>;  // [WG·RH held rows][DV]; later their ĝ
var<workgroup> sTile: array<vec4<f32>, TV>;   // [TS streamed rows][DV]
var<workgroup> sLse: array<f32, TS_MAX>;      // mode 1: lse of the streamed anchors

// c + x·y, accumulated component by component.
fn dot_acc(x: vec4<f32>, y: vec4<f32>, c: f32) -> f32 {
  return fma(x.w, y.w, fma(x.z, y.z, fma(x.y, y.y, fma(x.x, y.x, c))));
}

struct Roles {
  nHeld: u32,
  heldRow0: u32,   // first held row in hat
  nStream: u32,
  streamRow0: u32, // first streamed row in hat
}

fn roles() -> Roles {
  let B = params.B;
  if (params.mode == 0u) { return Roles(B, 0u, params.M, 2u * B); }
  return Roles(params.M, 2u * B, B, 0u);
}

// Rows wider than one chunk: one held row per invocation, everything read from storage. The loops over the
// vec4 of a chunk run to cw = rv / nch (= DV, but not a compile-time constant): rolled, they keep this
// fallback small to compile.
fn main_chunked(lid: u32, w0: u32) {
  let B = params.B;
  let D = params.d;
  let t = params.inv_tau;
  let g = params.scale * t;
  let modeA = params.mode == 0u;
  let ro = roles();
  let rv = params.dp / 4u;
  let nch = rv / DV;
  let cw = rv / nch;
  let hr = min(w0 + lid, ro.nHeld - 1u);
  let hb = (ro.heldRow0 + hr) * rv;
  let live = w0 + lid < ro.nHeld;
  var lseHeld = 0.0;
  if (modeA) { lseHeld = lse[hr]; }
  let inv = 1.0 / nu[ro.heldRow0 + hr];
  var vg = 0.0;  // v̂·ĝ over the chunks done
  for (var oc = 0u; oc < nch; oc = oc + 1u) {
    let oo = oc * cw;
    var acc: array<vec4<f32>, 8>;
    for (var q = 0u; q < cw; q = q + 1u) { acc[q] = vec4<f32>(0.0); }
    for (var s = 0u; s < ro.nStream; s = s + 1u) {
      let sb = (ro.streamRow0 + s) * rv;
      var l = 0.0;
      for (var q = 0u; q < rv; q = q + 1u) { l = dot_acc(hat[hb + q], hat[sb + q], l); }
      var sub = lseHeld;
      if (!modeA) { sub = lse[s]; }
      let p = exp(l * t - sub);
      for (var q = 0u; q < cw; q = q + 1u) { acc[q] = fma(vec4<f32>(p), hat[sb + oo + q], acc[q]); }
    }
    for (var q = 0u; q < cw; q = q + 1u) {
      var v = g * acc[q];
      if (modeA) { v = v - g * hat[(B + hr) * rv + oo + q]; }
      vg = vg + dot(hat[hb + oo + q], v);
      if (live) {
        for (var c = 0u; c < 4u; c = c + 1u) {
          let k = 4u * (oo + q) + c;
          if (k < D) {
            var x = v[c] * inv;
            if (params.beta != 0u) { x = x + out[hr * D + k]; }
            out[hr * D + k] = x;
          }
        }
      }
    }
  }
  if (live) {
    for (var q = 0u; q < rv; q = q + 1u) {
      let v = hat[hb + q] * (vg * inv);
      for (var c = 0u; c < 4u; c = c + 1u) {
        let k = 4u * q + c;
        if (k < D) { out[hr * D + k] = out[hr * D + k] - v[c]; }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let B = params.B;
  let D = params.d;
  let t = params.inv_tau;
  let g = params.scale * t;
  let modeA = params.mode == 0u;
  let ro = roles();
  let nHW = WG * RH;  // held rows per workgroup
  let w0 = flat_workgroup(wid, nwg) * nHW;
  if (w0 >= ro.nHeld) { return; }
  if (CHUNKED) {
    main_chunked(lid, w0);
    return;
  }
  let rv = params.dp / 4u;  // = DV
  let hv0 = ro.heldRow0 * rv;
  let sv0 = ro.streamRow0 * rv;
  let TS = TV / DV;

  // Held rows → workgroup memory (rows clamped to nHeld − 1) → registers.
  for (var e = lid; e < nHW * DV; e = e + WG) { sHeld[e] = hat[hv0 + min(w0 + e / DV, ro.nHeld - 1u) * rv + e % DV]; }
  workgroupBarrier();
  // With RH > 1 the copies into and out of the register arrays run to nCopy = RH·rv, rv from params, so they
  // stay rolled: on CPU Vulkan every per-invocation access of workgroup memory expands into one per SIMD lane
  // and component, and unrolled copies make the shader slow to compile. With one row per invocation (GPUs)
  // they run to the constant DV and unroll, so the arrays can stay in registers.
  let nCopy = select(RH * rv, DV, RH == 1u);
  var h: array<vec4<f32>, 128>;    // [r][q]
  var acc: array<vec4<f32>, 128>;  // [r][q] Σ π·streamed
  var lseHeld: array<f32, 16>;
  for (var e = 0u; e < nCopy; e = e + 1u) {
    let r = e / DV;
    let q = e % DV;
    h[r * DV + q] = sHeld[(lid + WG * r) * DV + q];
    acc[r * DV + q] = vec4<f32>(0.0);
  }
  for (var r = 0u; r < RH; r = r + 1u) {
    lseHeld[r] = 0.0;
    if (modeA) { lseHeld[r] = lse[min(w0 + lid + WG * r, ro.nHeld - 1u)]; }
  }

  for (var s0 = 0u; s0 < ro.nStream; s0 = s0 + TS) {
    let nT = min(TS, ro.nStream - s0);
    workgroupBarrier();  // the previous tile is consumed
    for (var e = lid; e < nT * DV; e = e + WG) { sTile[e] = hat[sv0 + s0 * rv + e]; }
    if (!modeA) {
      for (var e = lid; e < nT; e = e + WG) { sLse[e] = lse[s0 + e]; }
    }
    workgroupBarrier();
    // This tile's share, summed on its own and then added (blocked summation).
    var tacc: array<vec4<f32>, 128>;
    for (var r = 0u; r < RH; r = r + 1u) {
      for (var q = 0u; q < DV; q = q + 1u) { tacc[r * DV + q] = vec4<f32>(0.0); }
    }
    for (var s = 0u; s < nT; s = s + 1u) {
      var l: array<f32, 16>;
      var cv: array<vec4<f32>, 16>;
      for (var r = 0u; r < RH; r = r + 1u) { l[r] = 0.0; }
      for (var q = 0u; q < DV; q = q + 1u) {
        cv[q] = sTile[s * DV + q];
        for (var r = 0u; r < RH; r = r + 1u) { l[r] = dot_acc(h[r * DV + q], cv[q], l[r]); }
      }
      var sub = 0.0;
      if (!modeA) { sub = sLse[s]; }
      var p: array<f32, 16>;
      for (var r = 0u; r < RH; r = r + 1u) {
        var u = sub;
        if (modeA) { u = lseHeld[r]; }
        p[r] = exp(l[r] * t - u);
      }
      for (var q = 0u; q < DV; q = q + 1u) {
        for (var r = 0u; r < RH; r = r + 1u) { tacc[r * DV + q] = fma(vec4<f32>(p[r]), cv[q], tacc[r * DV + q]); }
      }
    }
    for (var r = 0u; r < RH; r = r + 1u) {
      for (var q = 0u; q < DV; q = q + 1u) { acc[r * DV + q] = acc[r * DV + q] + tacc[r * DV + q]; }
    }
  }

  // Σ π·streamed → workgroup memory, then one held row per invocation: ĝ, v̂·ĝ, back through ñ.
  workgroupBarrier();
  for (var e = 0u; e < nCopy; e = e + 1u) {
    let r = e / DV;
    let q = e % DV;
    sHeld[(lid + WG * r) * DV + q] = acc[r * DV + q];
  }
  workgroupBarrier();
  for (var hl = lid; hl < nHW; hl = hl + WG) {
    let row = w0 + hl;
    if (row < ro.nHeld) {
      let hb = (ro.heldRow0 + row) * rv;
      var vg = 0.0;
      for (var q = 0u; q < rv; q = q + 1u) {
        var v = g * sHeld[hl * DV + q];
        if (modeA) { v = v - g * hat[(B + row) * rv + q]; }  // − g·p̂_b
        sHeld[hl * DV + q] = v;
        vg = vg + dot(hat[hb + q], v);
      }
      let inv = 1.0 / nu[ro.heldRow0 + row];
      for (var q = 0u; q < rv; q = q + 1u) {
        let v = (sHeld[hl * DV + q] - hat[hb + q] * vg) * inv;
        for (var c = 0u; c < 4u; c = c + 1u) {
          let k = 4u * q + c;
          if (k < D) {
            var x = v[c];
            if (params.beta != 0u) { x = x + out[row * D + k]; }
            out[row * D + k] = x;
          }
        }
      }
    }
  }
}
