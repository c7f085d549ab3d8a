// ssl_con, loss value: out[slot] += scale · Σ_i ℓ_i, with ℓ_i = −log(r_i + 1e-8) stored by ssl_rows in stats[4i + 3].
// One workgroup: each thread sums a strided slice, then a tree reduction in workgroup memory (no float atomics).
//
// Bindings: 0 stats (f32, n×4), 1 out (f32 loss vector, read-write), 2 params.
// Dispatch: exactly one workgroup of WG threads (WG a power of two).

const WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> stats: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < params.n; i = i + WG) { acc = acc + stats[4u * i + 3u]; }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { part[lid] = part[lid] + part[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[params.slot] = out[params.slot] + params.scale * part[0]; }
}
