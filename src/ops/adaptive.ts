/**
 * The intent-weighted adjacency of IRLLRec (spec §3 F2) and its backward through the edge weights
 * (spec §5.2, edge-weight path steps 1–3).
 *
 * Forward, for every directed edge e = (h, t) of the training graph (CSR order, spec §1.6):
 *   α_e = (1 + Ĉ_h·Ĉ_t)/2,   D_h = Σ_{e∈out(h)} α_e,   ρ_h = 1/D_h (0 if D_h = 0 or not finite),
 *   G_e = ρ_h·α_e.
 * Backward of Y = Ĝ·X through G only (the direct path Ĝᵀ·gY is an `spmm` with the reverse-edge index):
 *   γ_e = gY[h]·X[t],   β_e = ρ_h(γ_e − Σ_{e'∈out(h)} γ_e'·G_e'),
 *   gĈ[v] (+)= ½·Σ_{e=(v,w)∈out(v)} (β_e + β_rev(e))·Ĉ_w.
 * Step 4 (the backward of the hard normalisation Ĉ = n(C)) is the caller's.
 *
 * Kernels: `shaders/edge_weights_dot.wgsl` (per-edge dot products: α and γ), `shaders/edge_weights_norm.wgsl`
 * (row sums, ρ, G), `shaders/edge_weights_beta.wgsl` (β), `shaders/edge_weights_grad.wgsl` (gĈ, a
 * row-parallel gather through rev). The head of edge e is colIdx[rev[e]], so no per-edge head array is needed.
 */
import edgeBetaWgsl from '../../shaders/edge_weights_beta.wgsl';
import edgeDotWgsl from '../../shaders/edge_weights_dot.wgsl';
import edgeGradWgsl from '../../shaders/edge_weights_grad.wgsl';
import edgeNormWgsl from '../../shaders/edge_weights_norm.wgsl';
import { IrllrecError } from '../errors.js';
import { Kernel, grid1d } from '../gpu/kernel.js';
import { type Backend, type FloatArray, type Tensor, asGpu, expectDtype, expectSameBackend, expectShape } from './tensor.js';

/** The directed training graph in CSR order with each edge's reverse (spec §1.6). */
export interface EdgeGraph {
  n: number;
  nnz: number;
  rowPtr: Tensor; // u32 [n + 1]
  colIdx: Tensor; // u32 [nnz]
  rev: Tensor; // u32 [nnz]: index of (t, h) for e = (h, t)
}

export interface EdgeWeightsBackwardOptions {
  /** gĈ += result instead of gĈ = result. */
  accumulate?: boolean;
  /** f32 [nnz] scratch for β (otherwise one is taken from the pool / allocated for the call). */
  scratch?: Tensor;
}

const dotKernel = new Kernel({
  name: 'edge_weights_dot',
  code: edgeDotWgsl,
  storage: ['read', 'read', 'read', 'read', 'rw'],
  params: { nnz: 'u32', d: 'u32', mul: 'f32', add: 'f32' },
});
const normKernel = new Kernel({
  name: 'edge_weights_norm',
  code: edgeNormWgsl,
  storage: ['read', 'rw', 'rw'],
  params: { n: 'u32' },
});
const betaKernel = new Kernel({
  name: 'edge_weights_beta',
  code: edgeBetaWgsl,
  storage: ['read', 'read', 'read', 'rw'],
  params: { n: 'u32' },
});
const gradKernel = new Kernel({
  name: 'edge_weights_grad',
  code: edgeGradWgsl,
  storage: ['read', 'read', 'read', 'read', 'read', 'rw'],
  params: { n: 'u32', d: 'u32', beta_acc: 'u32' },
});
const EDGE_WG = 64;
const GRAD_WG = 256;

function checkGraph(op: string, be: Backend, g: EdgeGraph): void {
  expectSameBackend(op, be, g.rowPtr, g.colIdx, g.rev);
  if (!Number.isInteger(g.n) || g.n < 0 || !Number.isInteger(g.nnz) || g.nnz < 0) {
    throw new IrllrecError('shape', `${op}: graph sizes n = ${g.n}, nnz = ${g.nnz} are invalid`);
  }
  expectShape(op, 'g.rowPtr', g.rowPtr, [g.n + 1]);
  expectShape(op, 'g.colIdx', g.colIdx, [g.nnz]);
  expectShape(op, 'g.rev', g.rev, [g.nnz]);
  expectDtype(op, 'g.rowPtr', g.rowPtr, 'u32');
  expectDtype(op, 'g.colIdx', g.colIdx, 'u32');
  expectDtype(op, 'g.rev', g.rev, 'u32');
}

function checkFloat(op: string, name: string, t: Tensor, shape: (number | null)[]): void {
  expectShape(op, name, t, shape);
  expectDtype(op, name, t, 'f32');
}

/**
 * Intent edge weights from Ĉ (hard-normalised rows, n×d): α_e = (1 + Ĉ_h·Ĉ_t)/2, D_h = Σ_{e∈out(h)} α_e,
 * ρ_h = 1/D_h (0 if D_h = 0 or not finite); writes G[e] = ρ_h·α_e and rho[h].
 */
export function edgeWeights(be: Backend, g: EdgeGraph, cHat: Tensor, G: Tensor, rho: Tensor): void {
  const op = 'edgeWeights';
  checkGraph(op, be, g);
  expectSameBackend(op, be, cHat, G, rho);
  checkFloat(op, 'cHat', cHat, [g.n, null]);
  const d = cHat.cols;
  checkFloat(op, 'G', G, [g.nnz]);
  checkFloat(op, 'rho', rho, [g.n]);
  if (G === rho || G === cHat || rho === cHat) throw new IrllrecError('range', `${op}: cHat, G and rho must be different tensors`);

  if (be.kind === 'cpu') {
    edgeWeightsCpu(g.n, d, g.rowPtr.u, g.colIdx.u, cHat.f, G.f, rho.f);
    return;
  }
  const gpu = asGpu(be);
  const maxDim = gpu.ctx.limits.maxComputeWorkgroupsPerDimension;
  gpu.recorder.dispatch(
    dotKernel,
    [g.colIdx.buffer, g.rev.buffer, cHat.buffer, cHat.buffer, G.buffer],
    { nnz: g.nnz, d, mul: 0.5, add: 0.5 },
    grid1d(Math.ceil(g.nnz / EDGE_WG), maxDim),
    { WG: EDGE_WG },
  );
  gpu.recorder.dispatch(normKernel, [g.rowPtr.buffer, G.buffer, rho.buffer], { n: g.n }, grid1d(Math.ceil(g.n / EDGE_WG), maxDim), { WG: EDGE_WG });
}

/** ρ = 1/D, or 0 when D is 0 or 1/D is not finite (the same rule as `edge_weights_norm.wgsl`). */
function inverseDegree(deg: number): number {
  if (deg === 0 || !Number.isFinite(deg)) return 0;
  const r = 1 / deg;
  return Number.isFinite(r) ? r : 0;
}

/** CPU twin of `edgeWeights`. */
export function edgeWeightsCpu(
  n: number,
  d: number,
  rowPtr: Uint32Array,
  colIdx: Uint32Array,
  cHat: ArrayLike<number>,
  G: FloatArray,
  rho: FloatArray,
): void {
  for (let h = 0; h < n; h++) {
    let deg = 0;
    for (let e = rowPtr[h]; e < rowPtr[h + 1]; e++) {
      const t = colIdx[e];
      let s = 0;
      for (let k = 0; k < d; k++) s += cHat[h * d + k] * cHat[t * d + k];
      G[e] = 0.5 * s + 0.5;
      deg += G[e];
    }
    const r = inverseDegree(deg);
    rho[h] = r;
    for (let e = rowPtr[h]; e < rowPtr[h + 1]; e++) G[e] = r * G[e];
  }
}

/**
 * Backward of Y = Ĝ·X through the edge weights only (spec §5.2 steps 1–3): γ_e = gY[h]·X[t];
 * β_e = ρ_h(γ_e − Σ_{e'∈out(h)} γ_e'·G_e'); gĈ[v] (+)= ½·Σ_{e=(v,w)∈out(v)} (β_e + β_rev(e))·Ĉ_w.
 */
export function edgeWeightsBackward(
  be: Backend,
  g: EdgeGraph,
  cHat: Tensor,
  G: Tensor,
  rho: Tensor,
  gY: Tensor,
  x: Tensor,
  gCHat: Tensor,
  opts: EdgeWeightsBackwardOptions = {},
): void {
  const op = 'edgeWeightsBackward';
  checkGraph(op, be, g);
  const scratch = opts.scratch ?? null;
  expectSameBackend(op, be, cHat, G, rho, gY, x, gCHat, scratch);
  checkFloat(op, 'cHat', cHat, [g.n, null]);
  const d = cHat.cols;
  checkFloat(op, 'G', G, [g.nnz]);
  checkFloat(op, 'rho', rho, [g.n]);
  checkFloat(op, 'gY', gY, [g.n, null]);
  checkFloat(op, 'x', x, [g.n, gY.cols]);
  checkFloat(op, 'gCHat', gCHat, [g.n, d]);
  if (scratch) checkFloat(op, 'scratch', scratch, [g.nnz]);
  const inputs: [string, Tensor][] = [['cHat', cHat], ['G', G], ['rho', rho], ['gY', gY], ['x', x]];
  for (const [name, t] of inputs) {
    if (t === gCHat) throw new IrllrecError('range', `${op}: gCHat and ${name} must be different tensors`);
    if (t === scratch) throw new IrllrecError('range', `${op}: scratch and ${name} must be different tensors`);
  }
  if (scratch === gCHat) throw new IrllrecError('range', `${op}: scratch and gCHat must be different tensors`);
  const accumulate = opts.accumulate ?? false;

  if (be.kind === 'cpu') {
    edgeWeightsBackwardCpu(g.n, d, gY.cols, g.rowPtr.u, g.colIdx.u, g.rev.u, cHat.f, G.f, rho.f, gY.f, x.f, gCHat.f, accumulate);
    return;
  }
  const gpu = asGpu(be);
  const maxDim = gpu.ctx.limits.maxComputeWorkgroupsPerDimension;
  const betaBuf = scratch ? scratch.buffer : gpu.pool.acquire(Math.max(4, g.nnz * 4), 'edgeWeightsBackward.beta');
  gpu.recorder.dispatch(
    dotKernel,
    [g.colIdx.buffer, g.rev.buffer, gY.buffer, x.buffer, betaBuf],
    { nnz: g.nnz, d: gY.cols, mul: 1, add: 0 },
    grid1d(Math.ceil(g.nnz / EDGE_WG), maxDim),
    { WG: EDGE_WG },
  );
  gpu.recorder.dispatch(
    betaKernel,
    [g.rowPtr.buffer, G.buffer, rho.buffer, betaBuf],
    { n: g.n },
    grid1d(Math.ceil(g.n / EDGE_WG), maxDim),
    { WG: EDGE_WG },
  );
  gpu.recorder.dispatch(
    gradKernel,
    [g.rowPtr.buffer, g.colIdx.buffer, g.rev.buffer, betaBuf, cHat.buffer, gCHat.buffer],
    { n: g.n, d, beta_acc: accumulate ? 1 : 0 },
    grid1d(Math.ceil((g.n * d) / GRAD_WG), maxDim),
    { WG: GRAD_WG },
  );
  if (!scratch) gpu.pool.release(betaBuf);
}

/** CPU twin of `edgeWeightsBackward` (dY is the width of gY and X; d that of Ĉ). */
export function edgeWeightsBackwardCpu(
  n: number,
  d: number,
  dY: number,
  rowPtr: Uint32Array,
  colIdx: Uint32Array,
  rev: Uint32Array,
  cHat: ArrayLike<number>,
  G: ArrayLike<number>,
  rho: ArrayLike<number>,
  gY: ArrayLike<number>,
  x: ArrayLike<number>,
  gCHat: FloatArray,
  accumulate: boolean,
): void {
  const nnz = rowPtr[n];
  const beta = new Float64Array(nnz);
  for (let h = 0; h < n; h++) {
    const start = rowPtr[h];
    const end = rowPtr[h + 1];
    // γ_e = gY[h]·X[t] = ∂L/∂G_e
    for (let e = start; e < end; e++) {
      const t = colIdx[e];
      let s = 0;
      for (let k = 0; k < dY; k++) s += gY[h * dY + k] * x[t * dY + k];
      beta[e] = s;
    }
    const r = rho[h];
    if (r === 0) {
      for (let e = start; e < end; e++) beta[e] = 0;
      continue;
    }
    // β_e = ρ_h(γ_e − Σ_e' γ_e'·G_e') = ∂L/∂α_e
    let s = 0;
    for (let e = start; e < end; e++) s += beta[e] * G[e];
    for (let e = start; e < end; e++) beta[e] = r * (beta[e] - s);
  }
  for (let v = 0; v < n; v++) {
    for (let k = 0; k < d; k++) {
      let s = 0;
      for (let e = rowPtr[v]; e < rowPtr[v + 1]; e++) s += (beta[e] + beta[rev[e]]) * cHat[colIdx[e] * d + k];
      const i = v * d + k;
      gCHat[i] = (accumulate ? gCHat[i] : 0) + 0.5 * s;
    }
  }
}
