// Gradient w.r.t. the hard-normalised intent rows Ĉ through α_e = (1 + Ĉ_h·Ĉ_t)/2 (spec §5.2 step 3):
//
//   gĈ[v, k] (+)= ½·Σ_{e=(v,w)∈out(v)} (β_e + β_rev(e))·Ĉ[w, k]
//
// Node v is the head of its out-edges e and the tail of their reverses rev(e), so the CSR row of v
// gathers both contributions: no scatter, no atomics.
//
// Bindings: 0 rowPtr (u32, n+1), 1 colIdx (u32, nnz), 2 rev (u32, nnz), 3 beta (nnz), 4 cHat (n×d),
//           5 gCHat (n×d, read-write), 6 params. beta_acc = 1 adds into gCHat.
// Dispatch: one thread per output element (n·d), grid1d(ceil(n·d / WG)).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> rowPtr: array<u32>;
@group(0) @binding(1) var<storage, read> colIdx: array<u32>;
@group(0) @binding(2) var<storage, read> rev: array<u32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> cHat: array<f32>;
@group(0) @binding(5) var<storage, read_write> gCHat: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_workgroup(wid, nwg) * WG + lid;
  let d = params.d;
  if (i >= params.n * d) { return; }
  let v = i / d;
  let k = i - v * d;
  var s = 0.0;
  for (var e = rowPtr[v]; e < rowPtr[v + 1u]; e = e + 1u) {
    s = s + (beta[e] + beta[rev[e]]) * cHat[colIdx[e] * d + k];
  }
  s = 0.5 * s;
  if (params.beta_acc != 0u) { s = s + gCHat[i]; }
  gCHat[i] = s;
}
