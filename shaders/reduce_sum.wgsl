// Deterministic sum reduction (no atomics), in one or two passes:
//
//   partial: workgroup w folds X[w·chunk .. min(n, (w+1)·chunk)) into OUT[w]          (one pass over X)
//   finish:  one workgroup folds X[0 .. n) and does OUT[slot] += scale · Σ            (X = the partials,
//                                                                                     or X itself if small)
// with each element squared first when square = 1 (Σ x², the L2 regulariser value, spec §4.2).
// Each thread sums its strided elements serially, then a binary tree in workgroup memory combines the WG
// thread sums, so the order of additions depends only on n, chunk and WG: the result is reproducible.
//
// Bindings (both entry points): 0 X (f32, read), 1 OUT (f32, read-write), 2 params.
// Dispatch: partial over ceil(n / chunk) workgroups (1-D grid, grid1d); finish over exactly 1 workgroup.

override WG: u32 = 256u;
const MAX_WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> red: array<f32, MAX_WG>;

fn term(i: u32) -> f32 {
  let x = X[i];
  if (params.square != 0u) { return x * x; }
  return x;
}

fn tree_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  return red[0];
}

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let w = flat_workgroup(wid, nwg);
  let start = w * params.chunk;
  if (start >= params.n) { return; } // workgroup-uniform
  let end = min(params.n, start + params.chunk);
  var s = 0.0;
  for (var i = start + lid; i < end; i = i + WG) { s = s + term(i); }
  s = tree_sum(lid, s);
  if (lid == 0u) { OUT[w] = s; }
}

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < params.n; i = i + WG) { s = s + term(i); }
  s = tree_sum(lid, s);
  if (lid == 0u) { OUT[params.slot] = OUT[params.slot] + params.scale * s; }
}
