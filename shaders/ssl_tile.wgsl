// ssl_con tile engine, appended to ssl_rows.wgsl and ssl_grad.wgsl (which declare the bindings A and B).
//
// A tile is the TA × TB block of logits s_ab = A_a·B_b (before the 1/τ) for owner rows a0.. a0+TA−1 of A and
// other rows b0.. b0+TB−1 of B. The inner dimension d is swept in chunks of KC staged in workgroup memory
// (zero-padded past n and d, so padded entries are 0 and are masked by the callers).
// Thread layout (256 threads): ty = lid / 16, tx = lid % 16; the thread holds the 2 × 4 entries
// (a, b) = (ty + 16 r, tx + 16 c), r < 2, c < 4, as acc[4 r + c].

const TA: u32 = 32u;
const TB: u32 = 64u;
const KC: u32 = 16u;
const WG: u32 = 256u;
// Start value of running maxima: finite, so that exp(m_old − m_new) never sees inf − inf.
const NEG_BIG: f32 = -3.0e38;

var<workgroup> As: array<f32, 512>;   // [KC][TA]
var<workgroup> Bs: array<f32, 1024>;  // [KC][TB] while computing dots; [TB][KC] when gathering rows of B

fn tile_dots(lid: u32, a0: u32, b0: u32, n: u32, d: u32) -> array<f32, 8> {
  let ty = lid / 16u;
  let tx = lid % 16u;
  var acc: array<f32, 8>;
  for (var k0 = 0u; k0 < d; k0 = k0 + KC) {
    // A chunk: TA·KC = 512 values, 2 per thread; consecutive threads read consecutive k of one row.
    for (var q = 0u; q < 2u; q = q + 1u) {
      let e = lid + q * WG;
      let a = e / KC;
      let kk = e % KC;
      var v = 0.0;
      if (a0 + a < n && k0 + kk < d) { v = A[(a0 + a) * d + k0 + kk]; }
      As[kk * TA + a] = v;
    }
    // B chunk: TB·KC = 1024 values, 4 per thread.
    for (var q = 0u; q < 4u; q = q + 1u) {
      let e = lid + q * WG;
      let b = e / KC;
      let kk = e % KC;
      var v = 0.0;
      if (b0 + b < n && k0 + kk < d) { v = B[(b0 + b) * d + k0 + kk]; }
      Bs[kk * TB + b] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KC; kk = kk + 1u) {
      let x0 = As[kk * TA + ty];
      let x1 = As[kk * TA + ty + 16u];
      for (var c = 0u; c < 4u; c = c + 1u) {
        let y = Bs[kk * TB + tx + 16u * c];
        acc[c] = acc[c] + x0 * y;
        acc[4u + c] = acc[4u + c] + x1 * y;
      }
    }
    workgroupBarrier();
  }
  return acc;
}
