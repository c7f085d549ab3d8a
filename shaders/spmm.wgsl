// CSR sparse × dense: Y = A·X (optionally Y += A·X).
//
//   Y[r, c] = beta·Y[r, c] + Σ_{e = rowPtr[r] .. rowPtr[r+1]-1} v(e) · X[colIdx[e], c]
//   v(e)    = 1                                  if has_values == 0
//           = values[e]                          if has_values == 1, has_index == 0
//           = values[valueIndex[e]]              if has_values == 1, has_index == 1
//
// The indirection gives transposed products without a transposed matrix: for a pattern-symmetric A with
// rev(e) the index of the reverse edge, (Aᵀ·X)[r] = Σ_e A[rev(e)]·X[colIdx[e]]  (valueIndex = rev).
//
// Bindings: 0 rowPtr (u32, rows+1), 1 colIdx (u32, nnz), 2 values (f32), 3 valueIndex (u32),
//           4 X (f32, cols×d), 5 Y (f32, rows×d, read-write), 6 params.
// Dispatch: one thread per output element (rows·d), WG threads a workgroup, 1-D grid over x/y (grid1d).
// beta is 0 or 1; with beta = 0, Y is not read (it may hold garbage).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> rowPtr: array<u32>;
@group(0) @binding(1) var<storage, read> colIdx: array<u32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
@group(0) @binding(3) var<storage, read> valueIndex: array<u32>;
@group(0) @binding(4) var<storage, read> X: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = flat_workgroup(wid, nwg) * WG + lid;
  let d = params.d;
  if (t >= params.rows * d) { return; }
  let r = t / d;
  let c = t - r * d;
  var acc = 0.0;
  let start = rowPtr[r];
  let end = rowPtr[r + 1u];
  for (var e = start; e < end; e = e + 1u) {
    var v = 1.0;
    if (params.has_values != 0u) {
      var vi = e;
      if (params.has_index != 0u) { vi = valueIndex[e]; }
      v = values[vi];
    }
    acc = acc + v * X[colIdx[e] * d + c];
  }
  if (params.beta != 0u) { acc = acc + Y[t]; }
  Y[t] = acc;
}
