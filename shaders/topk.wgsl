// Per-row top-k (spec §8: masked scores −1e8, ties → lower column id first), optionally fused with the scores
// s_rc = U_r·I_c so that the R×n score matrix is never stored.
//
// Order: entry (v, c) precedes (w, e) iff v > w, or v == w and c < e (a strict total order on distinct
// columns). NaN scores count as −inf. Masked columns (in row r of the exclusion CSR) get mask_value, or are
// skipped when drop_masked = 1; rows with fewer than k candidates are padded with (−inf, 0xFFFFFFFF), which is
// exactly the sentinel every list starts from (it ranks below any real column, even one scoring −inf).
//
// Bindings: 0 scores (f32, rows×n; unused when fused), 1 U (f32, rows×d), 2 I (f32, n×d) (both unused unless
//           fused), 3 exRowPtr (u32, rows+1), 4 exCol (u32) (unused unless has_exclude),
//           5 outIds (u32, rows×k, written), 6 outVals (f32, rows×k, written), 7 params.
// Dispatch: one workgroup of WG = 64 threads per row, 1-D grid (grid1d).
// Phase 1: thread t scans columns t, t + WG, … (increasing) keeping a sorted list of its k best in private memory.
// Exclusions are marked in a workgroup bitmap, CH columns at a time (any order, duplicates allowed).
// Phase 2: k rounds; each round a tree reduction over the threads' list heads picks the best, whose owner advances.

const WG: u32 = 64u;
const KMAX: u32 = 100u;
const NONE: u32 = 0xffffffffu;
const CH: u32 = 32768u;       // columns per bitmap chunk
const CH_WORDS: u32 = 1024u;  // CH / 32

@group(0) @binding(0) var<storage, read> scores: array<f32>;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read> I: array<f32>;
@group(0) @binding(3) var<storage, read> exRowPtr: array<u32>;
@group(0) @binding(4) var<storage, read> exCol: array<u32>;
@group(0) @binding(5) var<storage, read_write> outIds: array<u32>;
@group(0) @binding(6) var<storage, read_write> outVals: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

var<workgroup> excluded: array<atomic<u32>, CH_WORDS>;
var<workgroup> redV: array<f32, WG>;
var<workgroup> redI: array<u32, WG>;
var<workgroup> redT: array<u32, WG>;

fn precedes(v: f32, c: u32, w: f32, e: u32) -> bool {
  return v > w || (v == w && c < e);
}

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = flat_workgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let n = params.n;
  let k = params.k;
  let d = params.d;
  // −inf comes in as a parameter: a constant −inf is not representable in WGSL.
  let neg_inf = params.neg_inf;
  let has_ex = params.has_exclude != 0u;

  var lv: array<f32, KMAX>;
  var li: array<u32, KMAX>;
  for (var t = 0u; t < k; t = t + 1u) {
    lv[t] = neg_inf;
    li[t] = NONE;
  }
  let last = k - 1u;

  var ex0 = 0u;
  var ex1 = 0u;
  if (has_ex) {
    ex0 = exRowPtr[row];
    ex1 = exRowPtr[row + 1u];
  }
  for (var c0 = 0u; c0 < n; c0 = c0 + CH) {
    let c1 = min(n, c0 + CH);
    if (has_ex) {
      workgroupBarrier();  // the previous chunk's reads are done
      for (var w = lid; w < CH_WORDS; w = w + WG) { atomicStore(&excluded[w], 0u); }
      workgroupBarrier();
      for (var e = ex0 + lid; e < ex1; e = e + WG) {
        let col = exCol[e];
        if (col >= c0 && col < c1) {
          let o = col - c0;
          atomicOr(&excluded[o >> 5u], 1u << (o & 31u));
        }
      }
      workgroupBarrier();
    }
    for (var c = c0 + lid; c < c1; c = c + WG) {
      var v: f32;
      if (params.fused != 0u) {
        v = 0.0;
        let ub = row * d;
        let ib = c * d;
        for (var t = 0u; t < d; t = t + 1u) { v = v + U[ub + t] * I[ib + t]; }
      } else {
        v = scores[row * n + c];
      }
      if (is_nan(v)) { v = neg_inf; }
      if (has_ex) {
        let o = c - c0;
        if (((atomicLoad(&excluded[o >> 5u]) >> (o & 31u)) & 1u) != 0u) {
          if (params.drop_masked != 0u) { continue; }
          v = params.mask_value;
        }
      }
      if (precedes(v, c, lv[last], li[last])) {
        // insertion: shift the entries that v does not precede one place down
        var p = last;
        loop {
          if (p == 0u) { break; }
          if (!precedes(v, c, lv[p - 1u], li[p - 1u])) { break; }
          lv[p] = lv[p - 1u];
          li[p] = li[p - 1u];
          p = p - 1u;
        }
        lv[p] = v;
        li[p] = c;
      }
    }
  }

  // Merge: k rounds of "best head among the WG lists".
  var head = 0u;
  let obase = row * k;
  for (var r = 0u; r < k; r = r + 1u) {
    var hv = neg_inf;
    var hi = NONE;
    if (head < k) {
      hv = lv[head];
      hi = li[head];
    }
    redV[lid] = hv;
    redI[lid] = hi;
    redT[lid] = lid;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
      if (lid < s) {
        if (precedes(redV[lid + s], redI[lid + s], redV[lid], redI[lid])) {
          redV[lid] = redV[lid + s];
          redI[lid] = redI[lid + s];
          redT[lid] = redT[lid + s];
        }
      }
      workgroupBarrier();
    }
    let bestI = redI[0];
    if (lid == 0u) {
      outIds[obase + r] = bestI;
      outVals[obase + r] = redV[0];
    }
    if (lid == redT[0] && bestI != NONE) { head = head + 1u; }
    workgroupBarrier();  // everyone has read redV/redI/redT[0] before the next round overwrites them
  }
}
