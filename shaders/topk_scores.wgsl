// Scores prelude of `topk.wgsl`: the rows of a materialised score matrix, any n.
// Bindings: 0 scores (f32, rows×n, row r at (r − row0)·n); 1, 2 unused (bound to any buffer).

@group(0) @binding(0) var<storage, read> scores: array<f32>;

fn score_at(row: u32, c: u32) -> f32 {
  return scores[(row - params.row0) * params.n + c];
}

// Columns c … c+3 (c a multiple of 4, c + 3 < n).
fn score4_at(row: u32, c: u32) -> vec4<f32> {
  let b = (row - params.row0) * params.n + c;
  return vec4<f32>(scores[b], scores[b + 1u], scores[b + 2u], scores[b + 3u]);
}
