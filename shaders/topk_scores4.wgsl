// Scores prelude of `topk.wgsl`: the rows of a materialised score matrix with n a multiple of 4, read as vec4
// (a quarter of the loads; loads dominate on software adapters).
// Bindings: 0 scores (vec4<f32>, rows×n/4, row r at (r − row0)·n); 1, 2 unused (bound to any buffer).

@group(0) @binding(0) var<storage, read> scores: array<vec4<f32>>;

fn score_at(row: u32, c: u32) -> f32 {
  let e = (row - params.row0) * params.n + c;
  return scores[e >> 2u][e & 3u];
}

// Columns c … c+3 (c a multiple of 4, c + 3 < n).
fn score4_at(row: u32, c: u32) -> vec4<f32> {
  return scores[((row - params.row0) * params.n + c) >> 2u];
}
