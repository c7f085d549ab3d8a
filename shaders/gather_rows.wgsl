// Row gather: DST[b, c] = SRC[ids[b], c]  (batch rows of an embedding table).
//
// Bindings: 0 SRC (f32, rows×d), 1 IDS (u32, batch), 2 DST (f32, batch×d, write), 3 params.
// Dispatch: one thread per output element (batch·d), WG threads a workgroup, 1-D grid (grid1d).
// Ids are validated on the host (rowGroups / the CPU twin); an out-of-range id yields a zero row here
// rather than an out-of-bounds read.

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> SRC: array<f32>;
@group(0) @binding(1) var<storage, read> IDS: array<u32>;
@group(0) @binding(2) var<storage, read_write> DST: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = flat_workgroup(wid, nwg) * WG + lid;
  let d = params.d;
  if (t >= params.batch * d) { return; }
  let b = t / d;
  let c = t - b * d;
  let id = IDS[b];
  var v = 0.0;
  if (id < params.rows) { v = SRC[id * d + c]; }
  DST[t] = v;
}
