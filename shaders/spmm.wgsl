// CSR sparse × dense: Y = A·X (optionally Y += A·X).
//
//   Y[r, c] = beta·Y[r, c] + Σ_{e = rowPtr[r] .. rowPtr[r+1]-1} v(e) · X[colIdx[e], c]
//   v(e)    = 1                                  if HAS_VALUES is false
//           = values[e]                          if HAS_VALUES, not HAS_INDEX
//           = values[valueIndex[e]]              if HAS_VALUES and HAS_INDEX
//
// The indirection gives transposed products without a transposed matrix: for a pattern-symmetric A with
// rev(e) the index of the reverse edge, (Aᵀ·X)[r] = Σ_e A[rev(e)]·X[colIdx[e]]  (valueIndex = rev).
//
// Element type: `XT` is declared by the host before this file: `vec4<f32>` when d % 4 == 0 (a row of X and
// Y is then w = d/4 vec4s: one 16-byte load per lane and four multiply-adds per loaded element), else `f32`
// (w = d). Everything below is written for either type (`v * x` scales a vector; `XT(0.0)` splats).
//
// Work split (host-chosen, see spmm.ts): invocation t owns row r = t / tpr and the elements
// c = j, j + tpr, j + 2·tpr, … (j = t mod tpr) of that row, CHUNKS of them at most (tpr = ceil(w / CHUNKS)),
// each with its own accumulator. Adjacent invocations read adjacent elements of a gathered row, so with
// CHUNKS = 1 (one invocation per output element, tpr = w) the gathers of a GPU warp are coalesced; with
// CHUNKS = w (one invocation per row) a CPU emulator pays the row's colIdx / values loads and the loop
// overhead once per row instead of once per element.
//
// Bindings: 0 rowPtr (u32, rows+1), 1 colIdx (u32, nnz), 2 values (f32), 3 valueIndex (u32),
//           4 X (XT, cols×w), 5 Y (XT, rows×w, read-write), 6 params.
// Dispatch: ceil(rows·tpr / WG) workgroups of WG invocations, 1-D grid over x/y (grid1d).
// The edge-value source and beta are override constants (one pipeline per combination): no per-edge branch.
// With BETA false, Y is not read (it may hold garbage).

override WG: u32 = 64u;
// Accumulators per invocation, 1 ≤ CHUNKS ≤ MAX_CHUNKS. A pipeline constant, so the loops over it unroll.
override CHUNKS: u32 = 1u;
override HAS_VALUES: bool = false;
override HAS_INDEX: bool = false;
override BETA: bool = false;
const MAX_CHUNKS: u32 = 8u;

@group(0) @binding(0) var<storage, read> rowPtr: array<u32>;
@group(0) @binding(1) var<storage, read> colIdx: array<u32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
@group(0) @binding(3) var<storage, read> valueIndex: array<u32>;
@group(0) @binding(4) var<storage, read> X: array<XT>;
@group(0) @binding(5) var<storage, read_write> Y: array<XT>;
@group(0) @binding(6) var<uniform> params: Params;

fn edge_value(e: u32) -> f32 {
  if (!HAS_VALUES) { return 1.0; }
  if (HAS_INDEX) { return values[valueIndex[e]]; }
  return values[e];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = flat_workgroup(wid, nwg) * WG + lid;
  let tpr = params.tpr;
  let r = t / tpr;
  if (r >= params.rows) { return; }
  let j = t - r * tpr;
  let w = params.w;
  var acc: array<XT, MAX_CHUNKS>;
  for (var k = 0u; k < CHUNKS; k = k + 1u) { acc[k] = XT(0.0); }
  let end = rowPtr[r + 1u];
  for (var e = rowPtr[r]; e < end; e = e + 1u) {
    let v = edge_value(e);
    let src = colIdx[e] * w + j;
    for (var k = 0u; k < CHUNKS; k = k + 1u) {
      if (j + k * tpr < w) { acc[k] = acc[k] + v * X[src + k * tpr]; }
    }
  }
  let dst = r * w + j;
  for (var k = 0u; k < CHUNKS; k = k + 1u) {
    if (j + k * tpr < w) {
      var y = acc[k];
      if (BETA) { y = y + Y[dst + k * tpr]; }
      Y[dst + k * tpr] = y;
    }
  }
}
