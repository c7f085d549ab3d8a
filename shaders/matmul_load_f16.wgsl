// Operand loads of `matmul_lanes.wgsl` for packed-f16 operands (the constant text tables of the MLPs), the
// scheme of `matmul_f16.wgsl`: A and B are bound as arrays of 32-bit words, and
//
//   a_f16 = 0: A holds f32 values (bitcast), element (r, c) of the stored R×Cs matrix at word r·Cs + c;
//   a_f16 = 1: A holds packed IEEE binary16 halves (src/util/f16.ts: ceil(Cs/2) words per row, half c % 2
//              of word r·ceil(Cs/2) + c/2, low half first), decoded exactly with unpack2x16float.
//   (b_f16 likewise for B.) The stored matrix is M×K (K×M with trans_a) for A, K×N (N×K with trans_b) for B.

@group(0) @binding(0) var<storage, read> A: array<u32>;
@group(0) @binding(1) var<storage, read> B: array<u32>;

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
