// Scores prelude of `topk.wgsl` (fused scoring, d a multiple of 4): s_rc = U_r·I_c with rows read as vec4
// (a quarter of the loads of `topk_fused.wgsl`; loads dominate on software adapters). The terms are still
// added one at a time in increasing t, the order of the scalar prelude and of the CPU twin.
// Bindings: 0 unused (bound to any buffer), 1 U (vec4<f32>, rows×d/4), 2 I (vec4<f32>, n×d/4).

@group(0) @binding(1) var<storage, read> U: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> I: array<vec4<f32>>;

fn score_at(row: u32, c: u32) -> f32 {
  let d4 = params.d / 4u;
  let ub = row * d4;
  let ib = c * d4;
  var s = 0.0;
  for (var t = 0u; t < d4; t = t + 1u) {
    let u = U[ub + t];
    let i = I[ib + t];
    s = s + u.x * i.x;
    s = s + u.y * i.y;
    s = s + u.z * i.z;
    s = s + u.w * i.w;
  }
  return s;
}

// Columns c … c+3 (c + 3 < n): each U element is loaded once for the four dot products.
fn score4_at(row: u32, c: u32) -> vec4<f32> {
  let d4 = params.d / 4u;
  let ub = row * d4;
  let ib = c * d4;
  var s = vec4<f32>(0.0);
  for (var t = 0u; t < d4; t = t + 1u) {
    let u = U[ub + t];
    let a = I[ib + t];
    let b = I[ib + d4 + t];
    let e = I[ib + 2u * d4 + t];
    let f = I[ib + 3u * d4 + t];
    s = s + u.x * vec4<f32>(a.x, b.x, e.x, f.x);
    s = s + u.y * vec4<f32>(a.y, b.y, e.y, f.y);
    s = s + u.z * vec4<f32>(a.z, b.z, e.z, f.z);
    s = s + u.w * vec4<f32>(a.w, b.w, e.w, f.w);
  }
  return s;
}
