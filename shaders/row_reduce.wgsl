// Workgroup tree reductions shared by the row-wise kernels (prepended to rowwise.wgsl and itm.wgsl).
//
// One workgroup owns one row; each thread first folds the columns c ≡ lid (mod WG) serially, then the WG
// partial values are combined by a binary tree in workgroup memory. The combination order depends only
// on WG and the row length, so results are deterministic. Two quantities are reduced at once (vec2) where
// a kernel needs two (e.g. ‖x‖² and x·g).
//
// WG must be a power of two ≤ MAX_WG. Every thread of the workgroup must call these functions (they contain
// barriers), so callers only return early on workgroup-uniform conditions.

override WG: u32 = 64u;
const MAX_WG: u32 = 256u;
// Most negative finite f32: the identity of max (WGSL has no infinity literal).
const F32_LOWEST: f32 = -3.4028234663852886e38;

var<workgroup> red: array<vec2<f32>, MAX_WG>; // 2 KiB

fn reduce_sum2(lid: u32, v: vec2<f32>) -> vec2<f32> {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier(); // everyone has read red[0] before the next reduction overwrites it
  return r;
}

fn reduce_max2(lid: u32, v: vec2<f32>) -> vec2<f32> {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_sum(lid: u32, v: f32) -> f32 { return reduce_sum2(lid, vec2<f32>(v, 0.0)).x; }
fn reduce_max(lid: u32, v: f32) -> f32 { return reduce_max2(lid, vec2<f32>(v, F32_LOWEST)).x; }
