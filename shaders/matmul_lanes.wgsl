// Dense GEMM for CPU Vulkan (lavapipe / llvmpipe), same maths and epilogue as `matmul.wgsl`:
//
//   C[i, j] = act( beta·C[i, j] + Σ_k opA[i, k]·opB[k, j] + bias[j] )      i < M, j < N, k < K
//
//   opA[i, k] = A[i·K + k]  (A is M×K)    or  A[k·M + i]  when trans_a = 1 (A is K×M)
//   opB[k, j] = B[k·N + j]  (B is K×N)    or  B[j·K + k]  when trans_b = 1 (B is N×K, PyTorch weight layout)
//   bias[j] is added when has_bias = 1; beta ∈ {0, 1} (accumulate); act = LeakyReLU(slope) when act = 1.
//   With beta = 0, C is never read (it may hold garbage).
//
// Layout (the one of `infonce_fwd.wgsl`): llvmpipe runs the WG invocations of a workgroup as the lanes of a
// SIMD group. A load whose address is the same in every lane (it depends only on the workgroup id, uniforms
// and loop counters) is one scalar load and a broadcast, a per-lane load is a gather, and a private array
// indexed by a uniform index is a plain vector load. So the inner loop reads only uniform addresses:
//
//   a workgroup computes a C block of WG·RH rows × TS = 64 columns; lane l owns rows row0 + l + WG·r (r < RH).
//   For each k chunk [k0, k0 + KC), KC = 32:
//     each lane copies opA[its rows, chunk] into the private array a[r·DV + q] (DV = 8 vec4; per-lane loads,
//     amortised over the TS columns),
//     the workgroup stages opB[chunk, the block's columns] in workgroup memory as Bs[s·DV + q] (column s,
//     k = k0 + 4q .. 4q + 3; cooperative loads, transposing on the fly; k ≥ K loads as 0),
//     then for each column s and each q, one uniform vec4 read of Bs feeds RH partial dot products with the
//     lane's rows: p[r] += a[r·DV + q]·Bs[s·DV + q], and acc[r·TS + s] += p[r] after the chunk.
//   Per column: DV uniform vec4 reads for RH·KC multiply-adds, against ~3 per-lane vec4 reads per 32 in the
//   tiled kernel. (Measured on lavapipe: WG = 16, RH = 8 is about 2× `matmul.wgsl` on the text-MLP shapes;
//   for M ≤ 32 the host picks WG = 8, RH = 4 so that fewer rows are wasted.)
//
// trans_a / trans_b are uniform parameters (one pipeline serves all four combinations). Rows past M are
// computed on row M − 1 and not stored; columns past N are never read (the column loops stop at nT).
// The loops over the chunk run to constants of at most 8 (unrolled); the others are rolled (runtime bounds)
// to keep lavapipe's compile time at a couple of seconds. Private arrays are zeroed explicitly.
//
// Operands are read through load_a(r, c, cols) / load_b(r, c, cols) (element (r, c) of the stored matrix with
// `cols` columns), defined by the prefix this body is compiled with: `matmul_load_f32.wgsl` (plain f32
// arrays) or `matmul_load_f16.wgsl` (32-bit words holding f32 bits or packed f16 halves, by params.a_f16 /
// params.b_f16). Bindings: 0 A, 1 B (declared by the prefix), 2 bias (f32 [N]; any buffer when has_bias = 0),
// 3 C (f32 M×N, rw), 4 params. Dispatch: grid1d(ceil(N / 64) · ceil(M / (WG·RH))) workgroups (column block fastest).

override WG: u32 = 16u;  // lanes per workgroup
override RH: u32 = 8u;   // rows per lane (≤ 8)
const TS: u32 = 64u;     // columns per workgroup
const KC: u32 = 32u;     // k per chunk
const DV: u32 = 8u;      // vec4 per chunk row (KC / 4)

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> Bs: array<vec4<f32>, 512>;  // [TS][DV]: opB[k0 + 4q + c, col0 + s] at Bs[s·DV + q][c]

// c + x·y, accumulated component by component.
fn dot_acc(x: vec4<f32>, y: vec4<f32>, c: f32) -> f32 {
  return fma(x.w, y.w, fma(x.z, y.z, fma(x.y, y.y, fma(x.x, y.x, c))));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let M = params.m;
  let N = params.n;
  let K = params.k;
  let trans_a = params.trans_a != 0u;
  let trans_b = params.trans_b != 0u;
  let rowsPerGroup = WG * RH;
  let nColBlocks = (N + TS - 1u) / TS;
  let nRowBlocks = (M + rowsPerGroup - 1u) / rowsPerGroup;
  let flat = flat_workgroup(wid, nwg);
  if (flat >= nColBlocks * nRowBlocks) { return; }
  let col0 = (flat % nColBlocks) * TS;
  let row0 = (flat / nColBlocks) * rowsPerGroup;
  let nT = min(TS, N - col0);  // columns of this block

  var acc: array<f32, 512>;      // [RH][TS]: acc[r·TS + s] = Σ_k opA[row r, k]·opB[k, col0 + s]
  var a: array<vec4<f32>, 64>;   // [RH][DV]: the lane's rows of the current chunk
  for (var e = 0u; e < RH * TS; e = e + 1u) { acc[e] = 0.0; }

  for (var k0 = 0u; k0 < K; k0 = k0 + KC) {
    workgroupBarrier();  // the previous chunk of Bs is consumed
    // ---- stage opB[k0 .. k0 + KC, col0 .. col0 + nT): consecutive lanes read consecutive addresses
    for (var e = lid; e < nT * KC; e = e + WG) {
      var s: u32;
      var kk: u32;
      if (trans_b) { kk = e % KC; s = e / KC; }   // B is N×K: contiguous in k
      else { s = e % nT; kk = e / nT; }           // B is K×N: contiguous in columns
      let gk = k0 + kk;
      var v = 0.0;
      if (gk < K) {
        if (trans_b) { v = load_b(col0 + s, gk, K); } else { v = load_b(gk, col0 + s, N); }
      }
      Bs[s * DV + kk / 4u][kk % 4u] = v;
    }
    // ---- the lane's rows of opA[·, k0 .. k0 + KC) into registers (k ≥ K as 0)
    for (var r = 0u; r < RH; r = r + 1u) {
      let gr = min(row0 + lid + WG * r, M - 1u);
      for (var q = 0u; q < DV; q = q + 1u) {
        var v = vec4<f32>(0.0);
        for (var c = 0u; c < 4u; c = c + 1u) {
          let gk = k0 + 4u * q + c;
          if (gk < K) {
            if (trans_a) { v[c] = load_a(gk, gr, M); } else { v[c] = load_a(gr, gk, K); }
          }
        }
        a[r * DV + q] = v;
      }
    }
    workgroupBarrier();
    // ---- rank-KC update: every Bs read has the same address in all lanes
    for (var s = 0u; s < nT; s = s + 1u) {
      var p: array<f32, 8>;
      for (var r = 0u; r < RH; r = r + 1u) { p[r] = 0.0; }
      for (var q = 0u; q < DV; q = q + 1u) {
        let bv = Bs[s * DV + q];
        for (var r = 0u; r < RH; r = r + 1u) { p[r] = dot_acc(a[r * DV + q], bv, p[r]); }
      }
      for (var r = 0u; r < RH; r = r + 1u) { acc[r * TS + s] = acc[r * TS + s] + p[r]; }
    }
  }

  // ---- epilogue: bias, accumulate, activation, guarded stores
  let hasBias = params.has_bias != 0u;
  for (var r = 0u; r < RH; r = r + 1u) {
    let gr = row0 + lid + WG * r;
    if (gr >= M) { break; }
    for (var s = 0u; s < nT; s = s + 1u) {
      let idx = gr * N + col0 + s;
      var val = acc[r * TS + s];
      if (hasBias) { val = val + bias[col0 + s]; }
      if (params.beta != 0u) { val = C[idx] + val; }
      if (params.act != 0u && val < 0.0) { val = params.slope * val; }
      C[idx] = val;
    }
  }
}
