// Column sums of a row-major matrix (bias gradients):
//
//   out[c] = beta·out[c] + scale · Σ_{r < R} X[r, c]
//
// A workgroup owns WC = 16 consecutive columns with 16×16 threads: thread (cx, ry) sums rows
// ry, ry + 16, ry + 32, … of column c0 + cx (consecutive threads read consecutive addresses), then the 16
// partial sums of each column are reduced in workgroup memory by a fixed tree, so the result is
// deterministic and race-free (no float atomics). beta ∈ {0, 1}; with beta = 0, out is never read.
//
// Bindings: 0 X (f32 R×C), 1 out (f32 [C], rw), 2 params. Dispatch: grid1d(ceil(C / 16)).

const WC: u32 = 16u;
const WR: u32 = 16u;

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<f32, 256>; // [WR][WC]

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let R = params.rows;
  let C = params.cols;
  let c = flat_workgroup(wid, nwg) * WC + lid.x;
  var s = 0.0;
  if (c < C) {
    for (var r = lid.y; r < R; r = r + WR) { s = s + X[r * C + c]; }
  }
  partial[lid.y * WC + lid.x] = s;
  workgroupBarrier();
  for (var half = WR / 2u; half > 0u; half = half / 2u) {
    if (lid.y < half) { partial[lid.y * WC + lid.x] = partial[lid.y * WC + lid.x] + partial[(lid.y + half) * WC + lid.x]; }
    workgroupBarrier();
  }
  if (lid.y == 0u && c < C) {
    var val = params.scale * partial[lid.x];
    if (params.beta != 0u) { val = val + out[c]; }
    out[c] = val;
  }
}
