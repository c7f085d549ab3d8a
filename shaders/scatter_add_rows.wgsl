// Row scatter-add without atomics: DST[ids[b], c] += scale · SRC[b, c], repeated ids accumulating.
//
// The batch positions are grouped by id on the host (rowGroups): UNIQUE[u] is the u-th distinct id and
// POSITIONS[OFFSETS[u] .. OFFSETS[u+1]) are the batch rows holding it, in ascending order. One thread per
// (distinct row u, column c) sums its positions in that order and adds once:
//   DST[UNIQUE[u], c] += scale · Σ_{k = OFFSETS[u]}^{OFFSETS[u+1]-1} SRC[POSITIONS[k], c]
// Distinct ids write distinct rows, so there are no races; rows not in the batch are not touched.
//
// Bindings: 0 SRC (f32, batch×d), 1 UNIQUE (u32, U), 2 OFFSETS (u32, U+1), 3 POSITIONS (u32, batch),
//           4 DST (f32, rows×d, read-write), 5 params.
// Dispatch: one thread per (u, c), U·d threads, WG a workgroup, 1-D grid (grid1d).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> SRC: array<f32>;
@group(0) @binding(1) var<storage, read> UNIQUE: array<u32>;
@group(0) @binding(2) var<storage, read> OFFSETS: array<u32>;
@group(0) @binding(3) var<storage, read> POSITIONS: array<u32>;
@group(0) @binding(4) var<storage, read_write> DST: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = flat_workgroup(wid, nwg) * WG + lid;
  let d = params.d;
  if (t >= params.unique_count * d) { return; }
  let u = t / d;
  let c = t - u * d;
  var s = 0.0;
  for (var k = OFFSETS[u]; k < OFFSETS[u + 1u]; k = k + 1u) { s = s + SRC[POSITIONS[k] * d + c]; }
  let i = UNIQUE[u] * d + c;
  DST[i] = DST[i] + params.scale * s;
}
