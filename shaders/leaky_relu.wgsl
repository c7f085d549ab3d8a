// Element-wise LeakyReLU and its backward (one thread per element, 1-D grid over x/y via grid1d):
//
//   mode 0 (forward):  out[t] = h[t] > 0 ? h[t] : slope·h[t]
//   mode 1 (backward): out[t] = beta·out[t] + g[t] · (h[t] > 0 ? 1 : slope)      (derivative at 0 is slope)
//
// g_is_out = 1 means the upstream gradient g is `out` itself (in-place backward, gIn = gOut): it is read
// from binding 2 before the store, and binding 1 holds some other buffer. beta ∈ {0, 1}; with beta = 0 and
// g_is_out = 0, out is never read.
//
// Bindings: 0 h (f32), 1 g (f32), 2 out (f32, rw), 3 params.

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> h: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = flat_workgroup(wid, nwg) * WG + lid;
  if (t >= params.count) { return; }
  let x = h[t];
  if (params.mode == 0u) {
    out[t] = select(params.slope * x, x, x > 0.0);
    return;
  }
  var up: f32;
  if (params.g_is_out != 0u) { up = out[t]; } else { up = g[t]; }
  var val = up * select(params.slope, 1.0, x > 0.0);
  if (params.beta != 0u) { val = val + out[t]; }
  out[t] = val;
}
