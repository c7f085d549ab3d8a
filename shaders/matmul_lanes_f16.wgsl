// `matmul_lanes.wgsl` with packed-f16 operands (the constant text tables of the MLPs), for CPU Vulkan:
//
//   C[i, j] = act( beta·C[i, j] + Σ_k opA[i, k]·opB[k, j] + bias[j] )      i < M, j < N, k < K
//
// Identical to matmul_lanes.wgsl (same lane layout, transposes, epilogue and f32 arithmetic; see there)
// except how A and B are read, which is the scheme of matmul_f16.wgsl: both are bound as arrays of 32-bit
// words, and
//
//   a_f16 = 0: A holds f32 values (bitcast), element (r, c) of the stored R×Cs matrix at word r·Cs + c;
//   a_f16 = 1: A holds packed IEEE binary16 halves (src/util/f16.ts: ceil(Cs/2) words per row, half c % 2
//              of word r·ceil(Cs/2) + c/2, low half first), decoded exactly with unpack2x16float.
//   (b_f16 likewise for B.) The stored matrix is M×K (K×M with trans_a) for A, K×N (N×K with trans_b) for B.
//
// Bindings: 0 A (u32 words), 1 B (u32 words), 2 bias (f32 [N]; any buffer when has_bias = 0), 3 C (f32 M×N,
//           rw), 4 params. Dispatch: grid1d(ceil(N / 64) · ceil(M / (WG·RH))) workgroups.

override WG: u32 = 16u;  // lanes per workgroup
override RH: u32 = 8u;   // rows per lane (≤ 8)
const TS: u32 = 64u;     // columns per workgroup
const KC: u32 = 32u;     // k per chunk
const DV: u32 = 8u;      // vec4 per chunk row (KC / 4)

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
