// Per-row top-k selection for large k (TOPK_FAST_MAX_K < k ≤ CAP = 1024): the same contract as `topk.wgsl`
// (same bindings, parameters, score preludes, order, masking, padding and output), by radix selection.
//
// Every candidate entry (v, c) gets a 64-bit key (hi, lo): hi = the f32 bits of v mapped so that unsigned
// order is numeric order (−0 as +0; NaN already −inf), lo = ~c (a lower column ranks higher). Key order is the
// kernel's strict total order. A pass over the row counts, in a 256-bin histogram, the next 8 bits of the keys
// that share the f bits fixed so far (the bucket); the bin holding the k-th best key is fixed next (its
// entries stay in the bucket, the bins above are selected: `gt`). Passes stop as soon as the selected entries
// and the bucket fit the CAP-entry buffer (after 8 passes the bucket is one key). A last pass appends the
// selected entries and the bucket to the buffer; one bitonic sort; its first k entries are written (slots past
// the count hold the sentinel, i.e. the padding). A row with at most CAP candidates needs one counting pass.
// Scores are recomputed by every pass (same code, same value): fused rows never store the R×n matrix.
//
// Bindings: as `topk.wgsl` (0..2 the prelude, 3 exRowPtr, 4 exCol, 5 outIds, 6 outVals, 7 params; declared in
// `topk_common.wgsl`).
// Dispatch: one workgroup of WG threads per row, 1-D grid (grid1d) over rows row0 … rows − 1.
// Workgroup memory: 2 × 1 KiB bitmap + 1 KiB histogram + 8 KiB buffer (within the 16 KiB WebGPU minimum).

override WG: u32 = 64u;
const CAP: u32 = 1024u;       // buffer entries; k ≤ CAP
const CH: u32 = 8192u;        // columns per bitmap chunk
const CH_WORDS: u32 = 256u;   // CH / 32
// Bindings, the candidate buffer, the bitmap and the shared helpers: `topk_common.wgsl`.

var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> selShared: vec4<u32>;  // chosen digit, entries in the bins above it, its entries, all entries

// Unsigned key whose order is the numeric order of v (not NaN); −0 and +0 share a key.
fn key_hi(v: f32) -> u32 {
  if (v == 0.0) { return 0x80000000u; }
  let b = bitcast<u32>(v);
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}

// Masks of the top f bits (0 ≤ f ≤ 64) of the key (hi, lo).
fn top_masks(f: u32) -> vec2<u32> {
  var mh = 0xffffffffu;
  var ml = 0u;
  if (f < 32u) {
    mh = 0u;
    if (f > 0u) { mh = 0xffffffffu << (32u - f); }
  } else if (f > 32u) {
    ml = 0xffffffffu << (64u - f);
  }
  return vec2<u32>(mh, ml);
}

// What the passes share: the row's range of exclusions and the bucket (top f bits equal to prefix).
struct Pass {
  has_ex: bool,
  f: u32,
  prefix: vec2<u32>,
  collect: bool,  // false: count the bucket's next digit; true: append the selected entries and the bucket
}

// One entry of the row: score raw at column c, b0 the bitmap chunk's first column.
fn visit(raw: f32, c: u32, b0: u32, p: Pass) {
  let s = masked(raw, c, b0, p.has_ex);
  if (!s.ok) { return; }
  let v = s.v;
  let kh = key_hi(v);
  let kl = ~c;
  let m = top_masks(p.f);
  let mh = kh & m.x;
  let ml = kl & m.y;
  let in_bucket = mh == p.prefix.x && ml == p.prefix.y;
  if (p.collect) {
    if (in_bucket || mh > p.prefix.x || (mh == p.prefix.x && ml > p.prefix.y)) {
      let slot = atomicAdd(&candCount, 1u);
      if (slot < CAP) {
        candV[slot] = v;
        candI[slot] = c;
      }
    }
  } else if (in_bucket) {
    var digit: u32;
    if (p.f < 32u) { digit = (kh >> (24u - p.f)) & 255u; } else { digit = (kl >> (56u - p.f)) & 255u; }
    atomicAdd(&hist[digit], 1u);
  }
}

// One pass over the row's columns (groups of 4 as in `topk.wgsl`: the preludes' vec4 reads).
fn scan_row(row: u32, n: u32, ex0: u32, ex1: u32, lid: u32, p: Pass) {
  for (var b0 = 0u; b0 < n; b0 = b0 + CH) {
    let b1 = min(n, b0 + CH);
    if (p.has_ex) { load_bitmap(row, b0, b1, ex0, ex1, lid); }
    for (var c = b0 + 4u * lid; c < b1; c = c + 4u * WG) {
      let cnt = min(4u, b1 - c);
      var s4: vec4<f32>;
      if (cnt == 4u) {
        s4 = score4_at(row, c);
      } else {
        for (var j = 0u; j < cnt; j = j + 1u) { s4[j] = score_at(row, c + j); }
      }
      for (var j = 0u; j < cnt; j = j + 1u) { visit(s4[j], c + j, b0, p); }
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = params.row0 + flat_workgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let n = params.n;
  let k = params.k;
  let neg_inf = params.neg_inf;
  let has_ex = params.has_exclude != 0u;
  var ex0 = 0u;
  var ex1 = 0u;
  if (has_ex) {
    ex0 = exRowPtr[row];
    ex1 = exRowPtr[row + 1u];
  }

  var p = Pass(has_ex, 0u, vec2<u32>(0u, 0u), false);
  var gt = 0u;      // entries above the bucket (all selected)
  var want = k;     // entries still to select from the bucket
  loop {
    for (var b = lid; b < 256u; b = b + WG) { atomicStore(&hist[b], 0u); }
    workgroupBarrier();
    scan_row(row, n, ex0, ex1, lid, p);
    if (lid == 0u) {
      var total = 0u;
      for (var b = 0u; b < 256u; b = b + 1u) { total = total + atomicLoad(&hist[b]); }
      // the highest bin whose entries, with those of the bins above, reach `want`
      var above = 0u;
      var digit = 0u;
      for (var b = 256u; b > 0u; b = b - 1u) {
        let h = atomicLoad(&hist[b - 1u]);
        digit = b - 1u;
        if (above + h >= want) { break; }
        above = above + h;
      }
      selShared = vec4<u32>(digit, above, atomicLoad(&hist[digit]), total);
    }
    let s = workgroupUniformLoad(&selShared);
    // The whole row fits the buffer (or has at most k candidates): the bucket is everything.
    if (p.f == 0u && s.w <= CAP) { break; }
    if (p.f < 32u) { p.prefix.x = p.prefix.x | (s.x << (24u - p.f)); } else { p.prefix.y = p.prefix.y | (s.x << (56u - p.f)); }
    p.f = p.f + 8u;
    gt = gt + s.y;
    want = want - s.y;
    if (gt + s.z <= CAP || p.f == 64u) { break; }
  }

  if (lid == 0u) { atomicStore(&candCount, 0u); }
  workgroupBarrier();
  p.collect = true;
  scan_row(row, n, ex0, ex1, lid, p);
  let count = min(shared_count(lid), CAP);
  sort_candidates(count, next_pow2(max(count, k)), 2u, lid, neg_inf);

  let obase = row * k;
  for (var t = lid; t < k; t = t + WG) {
    outIds[obase + t] = candI[t];
    outVals[obase + t] = candV[t];
  }
}
