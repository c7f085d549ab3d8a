// Operand loads of `matmul_lanes.wgsl` for f32 operands: element (r, c) of a stored matrix with `cols` columns.

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;

fn load_a(r: u32, c: u32, cols: u32) -> f32 { return A[r * cols + c]; }
fn load_b(r: u32, c: u32, cols: u32) -> f32 { return B[r * cols + c]; }
