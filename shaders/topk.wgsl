// Per-row top-k selection (spec §8: masked scores −1e8, ties → lower column id first). This is the selection
// core; a scores prelude is prepended (`topk_scores.wgsl` / `topk_scores4.wgsl`: rows of a score matrix;
// `topk_fused.wgsl` / `topk_fused4.wgsl`: s_rc = U_r·I_c computed here, so the R×n matrix is never stored).
// The prelude declares bindings 0..2, `fn score_at(row, c) -> f32` and `fn score4_at(row, c) -> vec4<f32>`
// (columns c … c+3, c a multiple of 4).
//
// Order: entry (v, c) precedes (w, e) iff v > w, or v == w and c < e (a strict total order on distinct
// columns; −0 == 0 ties). NaN scores count as −inf. Masked columns (in row r of the exclusion CSR) get
// mask_value, or are skipped when drop_masked = 1; rows with fewer than k candidates are padded with
// (−inf, 0xFFFFFFFF), the sentinel that ranks below any real column, even one scoring −inf.
//
// Bindings (declared in `topk_common.wgsl`): 0..2 see the prelude, 3 exRowPtr (u32, rows+1), 4 exCol (u32) (unused unless has_exclude),
//           5 outIds (u32, rows×k, written), 6 outVals (f32, rows×k, written), 7 params.
// Dispatch: one workgroup of WG threads per row (override: 16 for k ≤ 24, else 32; fewer threads per row are
//           faster on lavapipe, where a barrier costs per SIMD vector of the workgroup), 1-D grid (grid1d) over
//           rows row0 … rows − 1 (a block of a score matrix holds rows row0 …).
//
// Two phases, no per-thread arrays (they spill to memory on software adapters):
//  1. thread t scans the groups of 4 columns 4t, 4t + 4·WG, … keeping its M = 8 best in registers (an unrolled
//     insertion), with no barrier. The lists go to a workgroup buffer of CAP = WG·M entries and are
//     bitonic-sorted (each list is already a sorted run, so the sort starts at runs of M; rows shorter than
//     WG columns sort only their threads' runs); τ = the k-th entry. This is exact unless some thread dropped
//     an entry that could precede τ, i.e. its list is full and its M-th entry precedes τ: then (rare on
//     random scores while k ≪ WG·M, i.e. unless one thread's slice holds more than M of the top k)
//  2. rescan with τ as a threshold: every entry that does not rank below τ is appended to the buffer (atomic
//     counter); when the buffer could overflow on the next chunk of WG·P columns it is sorted and cut to its
//     best k, and τ becomes its k-th entry. τ is always the k-th best of a subset of the row, so it never
//     ranks above the row's true k-th best: every entry of the true top k is kept (exact). P = (CAP − k) / WG
//     leaves room for a chunk. At the end the buffer is sorted once more.
// Either way the first k buffer entries are written; slots past the count hold the sentinel, which is exactly
// the padding. Exclusions are marked in a workgroup bitmap, CH columns at a time (any order, duplicates
// allowed). Workgroup memory: 2 × 4 KiB bitmap (atomic, plain copy) + 8·CAP bytes of buffer (≤ 2 KiB).

override WG: u32 = 32u;       // threads per row; CAP − k ≥ WG is required (k ≤ 24 for 16, k ≤ 100 for 32)
const M: u32 = 8u;            // register list length of phase 1
override CAP: u32 = WG * M;   // candidate buffer entries (a power of two)
const CH: u32 = 32768u;       // columns per bitmap chunk
const CH_WORDS: u32 = 1024u;  // CH / 32
// Bindings, the candidate buffer, the bitmap and the shared helpers: `topk_common.wgsl`.

var<workgroup> thrV: f32;
var<workgroup> thrI: u32;
var<workgroup> overflowFlag: atomic<u32>;
var<workgroup> overflowShared: u32;

// Phase 1's per-thread list, best first (private scalars stay in registers; a private array would not).
var<private> l0v: f32;
var<private> l1v: f32;
var<private> l2v: f32;
var<private> l3v: f32;
var<private> l4v: f32;
var<private> l5v: f32;
var<private> l6v: f32;
var<private> l7v: f32;
var<private> l0i: u32;
var<private> l1i: u32;
var<private> l2i: u32;
var<private> l3i: u32;
var<private> l4i: u32;
var<private> l5i: u32;
var<private> l6i: u32;
var<private> l7i: u32;

// Insert (v, c) into the register list if it ranks among its M best.
fn reg_insert(v: f32, c: u32) {
  if (!precedes(v, c, l7v, l7i)) { return; }
  if (!precedes(v, c, l6v, l6i)) { l7v = v; l7i = c; return; }
  l7v = l6v; l7i = l6i;
  if (!precedes(v, c, l5v, l5i)) { l6v = v; l6i = c; return; }
  l6v = l5v; l6i = l5i;
  if (!precedes(v, c, l4v, l4i)) { l5v = v; l5i = c; return; }
  l5v = l4v; l5i = l4i;
  if (!precedes(v, c, l3v, l3i)) { l4v = v; l4i = c; return; }
  l4v = l3v; l4i = l3i;
  if (!precedes(v, c, l2v, l2i)) { l3v = v; l3i = c; return; }
  l3v = l2v; l3i = l2i;
  if (!precedes(v, c, l1v, l1i)) { l2v = v; l2i = c; return; }
  l2v = l1v; l2i = l1i;
  if (!precedes(v, c, l0v, l0i)) { l1v = v; l1i = c; return; }
  l1v = l0v; l1i = l0i;
  l0v = v; l0i = c;
}

// Rank r of the register list into the buffer: thread t's run is slots t·M …, best first for even t and
// worst first for odd t (the alternating sorted runs the bitonic stage for blocks of 2M expects).
fn put_reg(lid: u32, r: u32, v: f32, c: u32) {
  var o = r;
  if ((lid & 1u) != 0u) { o = M - 1u - r; }
  candV[lid * M + o] = v;
  candI[lid * M + o] = c;
}

fn masked_score(row: u32, c: u32, b0: u32, has_ex: bool) -> Scored {
  return masked(score_at(row, c), c, b0, has_ex);
}

fn reg_consider(raw: f32, c: u32, b0: u32, has_ex: bool) {
  let v = masked(raw, c, b0, has_ex);
  if (v.ok) { reg_insert(v.v, c); }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = params.row0 + flat_workgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let n = params.n;
  let k = params.k;
  // −inf comes in as a parameter: a constant −inf is not representable in WGSL.
  let neg_inf = params.neg_inf;
  let has_ex = params.has_exclude != 0u;
  let per_thread = max(1u, (CAP - k) / WG);
  let chunk = WG * per_thread;

  var ex0 = 0u;
  var ex1 = 0u;
  if (has_ex) {
    ex0 = exRowPtr[row];
    ex1 = exRowPtr[row + 1u];
  }

  // Phase 1: per-thread register lists, then one sort of their union.
  l0v = neg_inf; l1v = neg_inf; l2v = neg_inf; l3v = neg_inf; l4v = neg_inf; l5v = neg_inf; l6v = neg_inf; l7v = neg_inf;
  l0i = NONE; l1i = NONE; l2i = NONE; l3i = NONE; l4i = NONE; l5i = NONE; l6i = NONE; l7i = NONE;
  for (var b0 = 0u; b0 < n; b0 = b0 + CH) {
    let b1 = min(n, b0 + CH);
    if (has_ex) { load_bitmap(row, b0, b1, ex0, ex1, lid); }
    // Groups of 4 columns (b0 is a multiple of 4; only the row's last group may be partial). One call
    // site of the insertion keeps the shader small (compile time on software adapters).
    for (var c = b0 + 4u * lid; c < b1; c = c + 4u * WG) {
      let cnt = min(4u, b1 - c);
      var s4: vec4<f32>;
      if (cnt == 4u) {
        s4 = score4_at(row, c);
      } else {
        for (var j = 0u; j < cnt; j = j + 1u) { s4[j] = score_at(row, c + j); }
      }
      for (var j = 0u; j < cnt; j = j + 1u) { reg_consider(s4[j], c + j, b0, has_ex); }
    }
  }
  put_reg(lid, 0u, l0v, l0i);
  put_reg(lid, 1u, l1v, l1i);
  put_reg(lid, 2u, l2v, l2i);
  put_reg(lid, 3u, l3v, l3i);
  put_reg(lid, 4u, l4v, l4i);
  put_reg(lid, 5u, l5v, l5i);
  put_reg(lid, 6u, l6v, l6i);
  put_reg(lid, 7u, l7v, l7i);
  if (lid == 0u) { atomicStore(&overflowFlag, 0u); }
  workgroupBarrier();
  // Threads t ≥ n hold no column: sort only the runs of the others (short rows sort a short buffer).
  let union_size = next_pow2(min(n, WG) * M);
  sort_candidates(union_size, union_size, 2u * M, lid, neg_inf);
  var tv = candV[k - 1u];
  var ti = candI[k - 1u];
  // A full list whose last entry precedes τ may have dropped an entry of the true top k.
  if (l7i != NONE && precedes(l7v, l7i, tv, ti)) { atomicStore(&overflowFlag, 1u); }
  workgroupBarrier();
  if (lid == 0u) { overflowShared = atomicLoad(&overflowFlag); }
  let overflow = workgroupUniformLoad(&overflowShared);

  if (overflow != 0u) {
    // Phase 2: threshold rescan into the buffer (τ from phase 1, raised at each compaction).
    if (lid == 0u) { atomicStore(&candCount, 0u); }
    for (var b0 = 0u; b0 < n; b0 = b0 + CH) {
      let b1 = min(n, b0 + CH);
      if (has_ex && n > CH) { load_bitmap(row, b0, b1, ex0, ex1, lid); }
      for (var c0 = b0; c0 < b1; c0 = c0 + chunk) {
        workgroupBarrier();  // the counter reset / previous compaction is visible
        let c1 = min(b1, c0 + chunk);
        for (var c = c0 + lid; c < c1; c = c + WG) {
          let v = masked_score(row, c, b0, has_ex);
          // (v, c) does not rank below τ (τ itself is a real entry and is kept)
          if (v.ok && !precedes(tv, ti, v.v, c)) {
            let slot = atomicAdd(&candCount, 1u);
            candV[slot] = v.v;
            candI[slot] = c;
          }
        }
        // Room for the next chunk? Otherwise keep the best k and raise τ to the k-th. After the row's last
        // chunk: the final sort (one call site keeps the shader small: compile time on software adapters).
        let count = shared_count(lid);
        let last = c0 + chunk >= b1 && b1 == n;
        if (last || count > CAP - chunk) {
          sort_candidates(count, next_pow2(max(count, k)), 2u, lid, neg_inf);
          if (!last) {
            if (lid == 0u) {
              atomicStore(&candCount, k);
              thrV = candV[k - 1u];
              thrI = candI[k - 1u];
            }
            workgroupBarrier();
            tv = thrV;
            ti = thrI;
          }
        }
      }
    }
  }

  let obase = row * k;
  for (var t = lid; t < k; t = t + WG) {
    outIds[obase + t] = candI[t];
    outVals[obase + t] = candV[t];
  }
}
