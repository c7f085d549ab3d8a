// Add a scaled sum of per-row losses into one slot of the loss vector (used by BPR and InfoNCE):
//
//   out[slot] += scale · Σ_{r < n} rows[r]
//
// One workgroup: each thread sums a strided subset of rows, then a tree reduction in workgroup memory;
// thread 0 alone touches out[slot]. Deterministic (fixed summation order).
//
// Bindings: 0 rows (n), 1 out (loss vector, read-write), 2 params. Dispatch: exactly 1 workgroup.

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> rows: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var r = lid; r < params.n; r = r + WG) { s = s + rows[r]; }
  partial[lid] = s;
  workgroupBarrier();
  // WG is a power of two.
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) { partial[lid] = partial[lid] + partial[lid + h]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[params.slot] = out[params.slot] + params.scale * partial[0]; }
}
