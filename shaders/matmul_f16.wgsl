// Dense GEMM with packed-f16 operands (the constant text tables of the MLPs) and the fused epilogue of
// matmul.wgsl:
//
//   C[i, j] = act( beta·C[i, j] + Σ_k opA[i, k]·opB[k, j] + bias[j] )      i < M, j < N, k < K
//
// Identical to matmul.wgsl (same tiling, transposes, bias / accumulate / LeakyReLU epilogue, same f32
// arithmetic) except how A and B are read: both are bound as arrays of 32-bit words, and
//
//   a_f16 = 0: A holds f32 values (bitcast), element (r, c) of the stored R×Cs matrix at word r·Cs + c;
//   a_f16 = 1: A holds packed IEEE binary16 halves (src/util/f16.ts: ceil(Cs/2) words per row, half c % 2
//              of word r·ceil(Cs/2) + c/2, low half first), decoded with unpack2x16float — exact, since
//              every half is an f32; no 'shader-f16' feature is needed.
//   (b_f16 likewise for B.) The stored matrix is M×K (K×M with trans_a) for A, K×N (N×K with trans_b) for B.
//
// When a packed matrix is read along its rows (A not transposed, B not transposed: the MLP's two uses),
// each thread stages whole words (two consecutive elements), halving the loads and unpacks; the
// transposed layouts read one half per element.
//
// So the products read the N×textDim tables at 2 bytes per element; the halves were rounded on the host
// (round-to-nearest-even), and everything after the load is the f32 GEMM of matmul.wgsl.
//
// Bindings: 0 A (u32 words), 1 B (u32 words), 2 bias (f32 [N]; any buffer when has_bias = 0), 3 C (f32 M×N,
//           rw), 4 params. Dispatch: (ceil(N / 64), ceil(M / 128), 1).

const TM: u32 = 128u;          // rows of a C tile
const TN: u32 = 64u;           // columns of a C tile
const TK: u32 = 16u;           // k slice
const MU: u32 = 8u;            // rows per thread
const NT: u32 = 256u;          // threads per workgroup
const AS_STRIDE: u32 = 33u;    // vec4s per k row of As: TM / 4 + 1 (padding)
const BS_STRIDE: u32 = 17u;    // vec4s per k row of Bs: TN / 4 + 1 (padding)

@group(0) @binding(0) var<storage, read> A: array<u32>;
@group(0) @binding(1) var<storage, read> B: array<u32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// Element (r, c) of the stored A (cols columns), f32 or packed f16 by params.a_f16.
fn load_a(r: u32, c: u32, cols: u32) -> f32 {
  if (params.a_f16 != 0u) {
    let w = A[r * ((cols + 1u) / 2u) + c / 2u];
    return unpack2x16float(w)[c % 2u];
  }
  return bitcast<f32>(A[r * cols + c]);
}

// Element (r, c) of the stored B (cols columns), f32 or packed f16 by params.b_f16.
fn load_b(r: u32, c: u32, cols: u32) -> f32 {
  if (params.b_f16 != 0u) {
    let w = B[r * ((cols + 1u) / 2u) + c / 2u];
    return unpack2x16float(w)[c % 2u];
  }
  return bitcast<f32>(B[r * cols + c]);
}

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
  let a_pairs = params.a_f16 != 0u && !trans_a; // packed A read a word (two k) at a time
  let b_pairs = params.b_f16 != 0u && !trans_b; // packed B read a word (two columns) at a time
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  let tx = lid.x;
  let ty = lid.y;

  var acc: array<vec4<f32>, 8>; // acc[u][v] = C[row0 + ty·8 + u, col0 + tx·4 + v] (zero-initialised)

  for (var k0 = 0u; k0 < K; k0 = k0 + TK) {
    // ---- stage the A slice: As[kk][r] = opA[row0 + r, k0 + kk]
    if (a_pairs) {
      // Packed A along k (the text rows of H = X·W1ᵀ): each thread stages whole words, i.e. the pairs
      // (k, k + 1) with k even (k0 is a multiple of TK): half the loads, one unpack per two elements.
      for (var p = 0u; p < TM * TK / (2u * NT); p = p + 1u) {
        let e = li + NT * p;
        let kw = e % (TK / 2u);
        let r = e / (TK / 2u);
        let gr = row0 + r;
        let gk = k0 + 2u * kw;
        var v = vec2<f32>(0.0);
        if (gr < M && gk < K) {
          v = unpack2x16float(A[gr * ((K + 1u) / 2u) + gk / 2u]);
          if (gk + 1u >= K) { v.y = 0.0; } // the padding half of an odd row
        }
        As[2u * kw * AS_STRIDE + r / 4u][r % 4u] = v.x;
        As[(2u * kw + 1u) * AS_STRIDE + r / 4u][r % 4u] = v.y;
      }
    } else {
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
          if (trans_a) { v = load_a(gk, gr, M); } else { v = load_a(gr, gk, K); }
        }
        As[kk * AS_STRIDE + r / 4u][r % 4u] = v;
      }
    }
    // ---- stage the B slice: Bs[kk][c] = opB[k0 + kk, col0 + c]
    if (b_pairs) {
      // Packed B along its columns (the text rows of ∂W1 = gHᵀ·X): whole words, i.e. the column pairs
      // (c, c + 1) with c even (col0 is a multiple of TN).
      for (var p = 0u; p < TN * TK / (2u * NT); p = p + 1u) {
        let e = li + NT * p;
        let cw = e % (TN / 2u);
        let kk = e / (TN / 2u);
        let c = 2u * cw;
        let gc = col0 + c;
        let gk = k0 + kk;
        var v = vec2<f32>(0.0);
        if (gc < N && gk < K) {
          v = unpack2x16float(B[gk * ((N + 1u) / 2u) + gc / 2u]);
          if (gc + 1u >= N) { v.y = 0.0; }
        }
        Bs[kk * BS_STRIDE + c / 4u][c % 4u] = v.x;
        Bs[kk * BS_STRIDE + (c + 1u) / 4u][(c + 1u) % 4u] = v.y;
      }
    } else {
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
          if (trans_b) { v = load_b(gc, gk, K); } else { v = load_b(gk, gc, N); }
        }
        Bs[kk * BS_STRIDE + c / 4u][c % 4u] = v;
      }
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
