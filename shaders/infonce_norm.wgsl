// Soft L2 normalisation ñ of the InfoNCE inputs (spec §0, §4.3), one thread per row:
//
//   ν_r = sqrt(1e-8 + ‖x_r‖²),   x̂_r = x_r / ν_r
//
// The rows of A (B×d), P (B×d) and C (M×d) are stacked into one output: hat rows [0, B) = Â,
// [B, 2B) = P̂, [2B, 2B + M) = Ĉ, and nu likewise. ν is kept for the backward through ñ.
// hat rows have stride dp = 32·ceil(d/32) ≥ d (the sweeps read them as vec4, 8 at a time), the columns [d, dp)
// are written as 0: padded columns add nothing to any dot product.
//
// Bindings: 0 A, 1 P, 2 C (read), 3 hat ((2B + M)×dp), 4 nu (2B + M), 5 params.
// Dispatch: grid1d(ceil((2B + M) / WG)).

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> P: array<f32>;
@group(0) @binding(2) var<storage, read> C: array<f32>;
@group(0) @binding(3) var<storage, read_write> hat: array<f32>;
@group(0) @binding(4) var<storage, read_write> nu: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

fn load(r: u32, k: u32) -> f32 {
  let d = params.d;
  if (r < params.B) { return A[r * d + k]; }
  if (r < 2u * params.B) { return P[(r - params.B) * d + k]; }
  return C[(r - 2u * params.B) * d + k];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = flat_workgroup(wid, nwg) * WG + lid;
  if (r >= 2u * params.B + params.M) { return; }
  let d = params.d;
  let dp = params.dp;
  var ss = 0.0;
  for (var k = 0u; k < d; k = k + 1u) {
    let v = load(r, k);
    ss = ss + v * v;
  }
  let n = sqrt(1e-8 + ss);
  nu[r] = n;
  for (var k = 0u; k < d; k = k + 1u) { hat[r * dp + k] = load(r, k) / n; }
  for (var k = d; k < dp; k = k + 1u) { hat[r * dp + k] = 0.0; }
}
