// Shared by the top-k selection cores `topk.wgsl` (k ≤ 100) and `topk_large.wgsl` (larger k), placed between
// a scores prelude and the core. The core declares WG (threads per row), CAP (candidate buffer entries) and
// CH_WORDS (words of the exclusion bitmap chunk).
// Order: (v, c) precedes (w, e) iff v > w, or v == w and c < e; the sentinel (−inf, NONE) ranks last.

const NONE: u32 = 0xffffffffu;

@group(0) @binding(3) var<storage, read> exRowPtr: array<u32>;
@group(0) @binding(4) var<storage, read> exCol: array<u32>;
@group(0) @binding(5) var<storage, read_write> outIds: array<u32>;
@group(0) @binding(6) var<storage, read_write> outVals: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

var<workgroup> excludedBits: array<atomic<u32>, CH_WORDS>;  // built with atomicOr
var<workgroup> excluded: array<u32, CH_WORDS>;               // a plain copy: atomic loads are slow on lavapipe
var<workgroup> candV: array<f32, CAP>;
var<workgroup> candI: array<u32, CAP>;
var<workgroup> candCount: atomic<u32>;
var<workgroup> countShared: u32;

fn precedes(v: f32, c: u32, w: f32, e: u32) -> bool {
  return v > w || (v == w && c < e);
}

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn next_pow2(x: u32) -> u32 {
  var p = 1u;
  while (p < x) { p = p << 1u; }
  return p;
}

// Sort candV/candI[0..size) best-first (size a power of two, uniform); entries [count, size) are first set to
// the sentinel. Bitonic network from blocks of first_blk (the runs of first_blk / 2 must already be sorted,
// alternately best-first and worst-first; first_blk = 2 sorts anything); every step ends with a barrier.
fn sort_candidates(count: u32, size: u32, first_blk: u32, lid: u32, neg_inf: f32) {
  for (var i = count + lid; i < size; i = i + WG) {
    candV[i] = neg_inf;
    candI[i] = NONE;
  }
  workgroupBarrier();
  for (var blk = first_blk; blk <= size; blk = blk << 1u) {
    for (var j = blk >> 1u; j > 0u; j = j >> 1u) {
      for (var t = lid; t < (size >> 1u); t = t + WG) {
        let i = ((t & ~(j - 1u)) << 1u) | (t & (j - 1u));
        let p = i + j;
        let av = candV[i];
        let ai = candI[i];
        let bv = candV[p];
        let bi = candI[p];
        // blocks with (i & blk) == 0 go best-first, the others worst-first (bitonic merge input)
        var swap = precedes(bv, bi, av, ai);
        if ((i & blk) != 0u) { swap = precedes(av, ai, bv, bi); }
        if (swap) {
          candV[i] = bv;
          candI[i] = bi;
          candV[p] = av;
          candI[p] = ai;
        }
      }
      workgroupBarrier();
    }
  }
}

// Every thread gets the buffer's entry count (the barrier inside makes the appends visible).
fn shared_count(lid: u32) -> u32 {
  workgroupBarrier();
  if (lid == 0u) { countShared = atomicLoad(&candCount); }
  return workgroupUniformLoad(&countShared);
}

// Mark the excluded columns of [b0, b1) of the row in the bitmap (bit c − b0).
fn load_bitmap(row: u32, b0: u32, b1: u32, ex0: u32, ex1: u32, lid: u32) {
  workgroupBarrier();  // the previous chunk's reads are done
  let words = (b1 - b0 + 31u) / 32u;
  for (var w = lid; w < words; w = w + WG) { atomicStore(&excludedBits[w], 0u); }
  workgroupBarrier();
  for (var e = ex0 + lid; e < ex1; e = e + WG) {
    let col = exCol[e];
    if (col >= b0 && col < b1) {
      let o = col - b0;
      atomicOr(&excludedBits[o >> 5u], 1u << (o & 31u));
    }
  }
  workgroupBarrier();
  for (var w = lid; w < words; w = w + WG) { excluded[w] = atomicLoad(&excludedBits[w]); }
  workgroupBarrier();
}

struct Scored {
  v: f32,
  ok: bool,  // false: masked and dropped
}

// The entry's value from its score: NaN → −inf; masked → mask_value, or dropped.
fn masked(raw: f32, c: u32, b0: u32, has_ex: bool) -> Scored {
  var v = raw;
  if (is_nan(v)) { v = params.neg_inf; }
  if (has_ex) {
    let o = c - b0;
    if (((excluded[o >> 5u] >> (o & 31u)) & 1u) != 0u) {
      if (params.drop_masked != 0u) { return Scored(v, false); }
      v = params.mask_value;
    }
  }
  return Scored(v, true);
}
