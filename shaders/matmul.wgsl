// Dense GEMM with a fused epilogue:
//
//   C[i, j] = act( beta·C[i, j] + Σ_k opA[i, k]·opB[k, j] + bias[j] )      i < M, j < N, k < K
//
//   opA[i, k] = A[i·K + k]  (A is M×K)    or  A[k·M + i]  when trans_a = 1 (A is K×M)
//   opB[k, j] = B[k·N + j]  (B is K×N)    or  B[j·K + k]  when trans_b = 1 (B is N×K, PyTorch weight layout)
//   bias[j] is added when has_bias = 1; beta ∈ {0, 1} (accumulate); act = LeakyReLU(slope) when act = 1.
//   With beta = 0, C is never read (it may hold garbage).
//
// Tiling: a workgroup of 16×16 threads computes a TM×TN = 128×64 tile of C. Thread (tx, ty) owns the
// 8×4 micro-tile of rows ty·8 + u (u < 8) and columns tx·4 + v (v < 4), held in 8 vec4 accumulators.
// K is walked in slices of TK = 16: the A slice (128 rows × 16) and the B slice (16 × 64 columns) are
// staged in workgroup memory as As[k][row/4] and Bs[k][col/4] (vec4 rows, padded by one vec4 per k
// against bank conflicts; 8.25 + 4.25 KiB), so each k step costs a thread 2 + 1 vec4 reads of workgroup
// memory for 32 multiply-adds. (On lavapipe the micro-tile size dominates: 8×4 runs about twice as fast as
// 4×4; 16×4 is no faster and compiles several times slower.)
//
// The transposes only change how a slice is loaded, never the inner loop: each of the 256 threads loads
// 8 elements of A and 4 of B, with the thread→element map chosen so that consecutive threads read
// consecutive addresses of the source matrix in either layout. trans_a / trans_b are uniform parameters
// (not override constants) so that one pipeline serves all four combinations (lavapipe compiles a pipeline
// in seconds). Out-of-range elements load as 0, so no size needs to be a multiple of a tile; the epilogue
// guards the stores.
//
// Bindings: 0 A (f32), 1 B (f32), 2 bias (f32 [N]; any buffer when has_bias = 0), 3 C (f32 M×N, rw),
//           4 params. Dispatch: (ceil(N / 64), ceil(M / 128), 1).

const TM: u32 = 128u;          // rows of a C tile
const TN: u32 = 64u;           // columns of a C tile
const TK: u32 = 16u;           // k slice
const MU: u32 = 8u;            // rows per thread
const NT: u32 = 256u;          // threads per workgroup
const AS_STRIDE: u32 = 33u;    // vec4s per k row of As: TM / 4 + 1 (padding)
const BS_STRIDE: u32 = 17u;    // vec4s per k row of Bs: TN / 4 + 1 (padding)

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> As: array<vec4<f32>, 528>; // TK × AS_STRIDE
var<workgroup> Bs: array<vec4<f32>, 272>; // TK × BS_STRIDE

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let M = params.m;
  let N = params.n;
  let K = params.k;
  let trans_a = params.trans_a != 0u;
  let trans_b = params.trans_b != 0u;
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  let tx = lid.x;
  let ty = lid.y;

  var acc: array<vec4<f32>, 8>; // acc[u][v] = C[row0 + ty·8 + u, col0 + tx·4 + v] (zero-initialised)

  for (var k0 = 0u; k0 < K; k0 = k0 + TK) {
    // ---- stage the A slice: As[kk][r] = opA[row0 + r, k0 + kk]
    for (var p = 0u; p < TM * TK / NT; p = p + 1u) {
      let e = li + NT * p;
      var r: u32;
      var kk: u32;
      if (trans_a) { r = e % TM; kk = e / TM; }   // A is K×M: consecutive threads read consecutive rows
      else { kk = e % TK; r = e / TK; }           // A is M×K: consecutive threads read consecutive k
      let gr = row0 + r;
      let gk = k0 + kk;
      var v = 0.0;
      if (gr < M && gk < K) {
        if (trans_a) { v = A[gk * M + gr]; } else { v = A[gr * K + gk]; }
      }
      As[kk * AS_STRIDE + r / 4u][r % 4u] = v;
    }
    // ---- stage the B slice: Bs[kk][c] = opB[k0 + kk, col0 + c]
    for (var p = 0u; p < TN * TK / NT; p = p + 1u) {
      let e = li + NT * p;
      var c: u32;
      var kk: u32;
      if (trans_b) { kk = e % TK; c = e / TK; }   // B is N×K: consecutive threads read consecutive k
      else { c = e % TN; kk = e / TN; }           // B is K×N: consecutive threads read consecutive columns
      let gc = col0 + c;
      let gk = k0 + kk;
      var v = 0.0;
      if (gc < N && gk < K) {
        if (trans_b) { v = B[gc * K + gk]; } else { v = B[gk * N + gc]; }
      }
      Bs[kk * BS_STRIDE + c / 4u][c % 4u] = v;
    }
    workgroupBarrier();

    // ---- rank-TK update of the 8×4 micro-tile
    for (var kk = 0u; kk < TK; kk = kk + 1u) {
      let b = Bs[kk * BS_STRIDE + tx];
      let a0 = As[kk * AS_STRIDE + ty * 2u];
      let a1 = As[kk * AS_STRIDE + ty * 2u + 1u];
      acc[0] = acc[0] + a0.x * b;
      acc[1] = acc[1] + a0.y * b;
      acc[2] = acc[2] + a0.z * b;
      acc[3] = acc[3] + a0.w * b;
      acc[4] = acc[4] + a1.x * b;
      acc[5] = acc[5] + a1.y * b;
      acc[6] = acc[6] + a1.z * b;
      acc[7] = acc[7] + a1.w * b;
    }
    workgroupBarrier();
  }

  // ---- epilogue: bias, accumulate, activation, guarded stores
  let gc0 = col0 + tx * 4u;
  var bvec = vec4<f32>(0.0);
  if (params.has_bias != 0u) {
    for (var v = 0u; v < 4u; v = v + 1u) {
      if (gc0 + v < N) { bvec[v] = bias[gc0 + v]; }
    }
  }
  for (var u = 0u; u < MU; u = u + 1u) {
    let gr = row0 + ty * MU + u;
    if (gr >= M) { break; }
    let row = acc[u] + bvec;
    for (var v = 0u; v < 4u; v = v + 1u) {
      let gc = gc0 + v;
      if (gc < N) {
        let idx = gr * N + gc;
        var val = row[v];
        if (params.beta != 0u) { val = C[idx] + val; }
        if (params.act != 0u && val < 0.0) { val = params.slope * val; }
        C[idx] = val;
      }
    }
  }
}
