// Scores prelude of `topk.wgsl` (fused scoring): s_rc = U_r·I_c, any width d, terms added in increasing t
// (the CPU twin's order).
// Bindings: 0 unused (bound to any buffer), 1 U (f32, rows×d), 2 I (f32, n×d).

@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read> I: array<f32>;

fn score_at(row: u32, c: u32) -> f32 {
  let d = params.d;
  let ub = row * d;
  let ib = c * d;
  var s = 0.0;
  for (var t = 0u; t < d; t = t + 1u) { s = s + U[ub + t] * I[ib + t]; }
  return s;
}

// Columns c … c+3 (c + 3 < n): each U element is loaded once for the four dot products.
fn score4_at(row: u32, c: u32) -> vec4<f32> {
  let d = params.d;
  let ub = row * d;
  let ib = c * d;
  var s = vec4<f32>(0.0);
  for (var t = 0u; t < d; t = t + 1u) {
    s = s + U[ub + t] * vec4<f32>(I[ib + t], I[ib + d + t], I[ib + 2u * d + t], I[ib + 3u * d + t]);
  }
  return s;
}
