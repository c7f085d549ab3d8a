/**
 * The all-pairs contrastive term of ssl_con (spec §4.6, tiled as in §13.1), without ever allocating N×N:
 *
 *   x̂ = n(x), ŷ = n(y)   (hard normalisation v / max(‖v‖, 1e-12))
 *   s_ij = x̂_i·ŷ_j / τ,   a_i = exp(s_ii),   S_i = Σ_j exp(s_ij)
 *   out[slot] += scale · Σ_i −log(a_i/(S_i + 1e-8) + 1e-8)
 *
 * Backward: with r_i = a_i/(S_i + 1e-8), κ_i = r_i/(r_i + 1e-8) and Γ_ij = κ_i·(exp(s_ij)/(S_i + 1e-8) − [i=j]),
 * ∂/∂x̂_i = (scale/τ)·Σ_j Γ_ij ŷ_j and ∂/∂ŷ_j = (scale/τ)·Σ_i Γ_ij x̂_i, then back through n.
 *
 * Sums over j are max-shifted (m_i = max_j s_ij): S_i + 1e-8 = e^{m_i}·(Σ_j e^{s_ij − m_i} + 1e-8·e^{−m_i}), which
 * is exact and cannot overflow for any τ. GPU: normalise (ssl_norm), pass 1 row statistics (ssl_rows), pass 2 and
 * pass 3 gradient sweeps, each followed by the backward through n in the same kernel (ssl_grad, one kernel with the
 * roles of x̂ and ŷ swapped), loss reduction (ssl_loss). Scratch memory is O(N·d).
 */
import sslGradWgsl from '../../shaders/ssl_grad.wgsl';
import sslLossWgsl from '../../shaders/ssl_loss.wgsl';
import sslNormWgsl from '../../shaders/ssl_norm.wgsl';
import sslRowsWgsl from '../../shaders/ssl_rows.wgsl';
import { IrllrecError } from '../errors.js';
import { Kernel, grid1d } from '../gpu/kernel.js';
import { type Backend, type FloatArray, type Tensor, type WebGpuBackend, asGpu, expectDtype, expectFinite, expectSameBackend, expectShape } from './tensor.js';

export interface SslContrastiveOptions {
  /** Temperature τ > 0 (default 1). */
  tau?: number;
  /** Multiplies the loss and the gradients (the model passes w/N). */
  scale: number;
  /** Gradient w.r.t. x (N×d), written or accumulated; null/absent: not computed. */
  gX?: Tensor | null;
  /** Gradient w.r.t. y (N×d). */
  gY?: Tensor | null;
  /** gX += …, gY += … instead of overwriting them. */
  accumulate?: boolean;
}

const normKernel = new Kernel({
  name: 'ssl_norm',
  code: sslNormWgsl,
  storage: ['read', 'rw', 'rw'],
  params: { rows: 'u32', d: 'u32', dp: 'u32' },
});
const rowsKernel = new Kernel({
  name: 'ssl_rows',
  code: sslRowsWgsl,
  storage: ['read', 'read', 'rw'],
  params: { n: 'u32', dp: 'u32', inv_tau: 'f32' },
});
const gradKernel = new Kernel({
  name: 'ssl_grad',
  code: sslGradWgsl,
  storage: ['read', 'read', 'read', 'read', 'rw'],
  params: { n: 'u32', d: 'u32', dp: 'u32', inv_tau: 'f32', gscale: 'f32', other_stats: 'u32', beta: 'u32' },
});
const lossKernel = new Kernel({
  name: 'ssl_loss',
  code: sslLossWgsl,
  storage: ['read', 'rw'],
  params: { n: 'u32', slot: 'u32', scale: 'f32' },
});
const ROW_WG = 128; // ssl_norm: threads per workgroup, one row each

/**
 * Tiling of ssl_rows / ssl_grad for row width d. The normalised rows are stored with stride dp = 32·ceil(d/32)
 * floats (zero padded). d ≤ 64: the DV = dp/4 vec4 (8 or 16) of a row are held in registers, RH rows per
 * invocation, against tiles of the other matrix staged in workgroup memory (the kernels' arrays bound RH·DV ≤ 128
 * and WG·RH·DV ≤ 512 vec4); d > 64: one row per invocation, read from storage (CHUNKED). So there are three
 * pipelines per kernel, whatever d is. On CPU Vulkan (lavapipe: invocations are the lanes of one SIMD group and
 * every storage or workgroup read is a per-lane load) one SIMD group of WG = 8 invocations holds RH = 64/DV rows
 * each, so each value of the other matrix read feeds 8 (d ≤ 32) or 4 (d ≤ 64) products; on GPUs the usual
 * RH = 1, with WG = 512/DV. (The same tiling as `infoNceTile` in losses.ts.)
 */
function sslTile(g: WebGpuBackend, d: number): { dp: number; consts: { WG: number; RH: number; DV: number; CHUNKED: number } } {
  const cpu = g.ctx.adapter.isSoftware;
  const dp = 32 * Math.ceil(d / 32);
  if (d > 64) return { dp, consts: { WG: cpu ? 8 : 64, RH: 1, DV: 8, CHUNKED: 1 } };
  const DV = dp / 4;
  return { dp, consts: { WG: cpu ? 8 : 512 / DV, RH: cpu ? 64 / DV : 1, DV, CHUNKED: 0 } };
}

/** Adds scale·L_ssl(x, y; τ) into out[slot] and, if asked, writes or accumulates its gradients into gX, gY. */
export function sslContrastive(be: Backend, x: Tensor, y: Tensor, out: Tensor, slot: number, opts: SslContrastiveOptions): void {
  const op = 'sslContrastive';
  const tau = opts.tau ?? 1;
  const scale = opts.scale;
  const gX = opts.gX ?? null;
  const gY = opts.gY ?? null;
  const accumulate = opts.accumulate ?? false;
  expectSameBackend(op, be, x, y, out, gX, gY);
  expectShape(op, 'x', x, [null, null]);
  const n = x.rows;
  const d = x.cols;
  expectShape(op, 'y', y, [n, d]);
  expectDtype(op, 'x', x, 'f32');
  expectDtype(op, 'y', y, 'f32');
  expectShape(op, 'out', out, [null]);
  expectDtype(op, 'out', out, 'f32');
  if (!Number.isInteger(slot) || slot < 0 || slot >= out.size) {
    throw new IrllrecError('range', `${op}: slot ${slot} is out of range for out ('${out.label}', ${out.size} entries)`);
  }
  if (d < 1) throw new IrllrecError('shape', `${op}: x ('${x.label}') has width 0; rows need at least one column`);
  expectFinite(op, 'tau', tau);
  if (!(tau > 0)) throw new IrllrecError('range', `${op}: tau must be > 0, got ${tau}`);
  expectFinite(op, 'scale', scale);
  for (const [name, g] of [['gX', gX], ['gY', gY]] as const) {
    if (!g) continue;
    expectShape(op, name, g, [n, d]);
    expectDtype(op, name, g, 'f32');
    if (g === x || g === y) throw new IrllrecError('range', `${op}: ${name} must not alias x or y`);
  }
  if (gX && gX === gY) throw new IrllrecError('range', `${op}: gX and gY must be different tensors`);
  if (n === 0) {
    // Empty sum: no loss; gradients of nothing are empty tensors.
    return;
  }

  if (be.kind === 'cpu') {
    const loss = sslContrastiveCpu(n, d, x.f, y.f, tau, scale, gX?.f ?? null, gY?.f ?? null, accumulate);
    out.f[slot] += loss;
    return;
  }

  const g = asGpu(be);
  const maxDim = g.ctx.limits.maxComputeWorkgroupsPerDimension;
  // Scratch: raw pooled buffers (every element is written before it is read, so no clearing). Released at
  // the end: the pool hands them out again only to work recorded later, which runs after these dispatches.
  const scratch: GPUBuffer[] = [];
  const acquire = (floats: number, label: string) => {
    const b = g.pool.acquire(floats * 4, label);
    scratch.push(b);
    return b;
  };
  const { dp, consts } = sslTile(g, d);
  const xh = acquire(n * dp, 'ssl.xhat');
  const yh = acquire(n * dp, 'ssl.yhat');
  const nx = acquire(n, 'ssl.xnorm');
  const ny = acquire(n, 'ssl.ynorm');
  const stats = acquire(n * 4, 'ssl.rowstats'); // per row: m_i, w_i = κ_i/D_i, κ_i, ℓ_i
  const rowGrid = grid1d(Math.ceil(n / ROW_WG), maxDim);
  const tileGrid = grid1d(Math.ceil(n / (consts.WG * consts.RH)), maxDim);
  const invTau = 1 / tau;

  g.recorder.dispatch(normKernel, [x.buffer, xh, nx], { rows: n, d, dp }, rowGrid, { WG: ROW_WG });
  g.recorder.dispatch(normKernel, [y.buffer, yh, ny], { rows: n, d, dp }, rowGrid, { WG: ROW_WG });
  g.recorder.dispatch(rowsKernel, [xh, yh, stats], { n, dp, inv_tau: invTau }, tileGrid, consts);
  g.recorder.dispatch(lossKernel, [stats, out.buffer], { n, slot, scale }, [1, 1, 1]);

  const sweep = (owner: GPUBuffer, other: GPUBuffer, otherStats: boolean, ownerNorms: GPUBuffer, dst: Tensor) => {
    g.recorder.dispatch(
      gradKernel,
      [owner, other, stats, ownerNorms, dst.buffer],
      { n, d, dp, inv_tau: invTau, gscale: scale * invTau, other_stats: otherStats ? 1 : 0, beta: accumulate ? 1 : 0 },
      tileGrid,
      consts,
    );
  };
  if (gX) sweep(xh, yh, false, nx, gX); // pass 2: Σ_j Γ_ij ŷ_j, then back through n
  if (gY) sweep(yh, xh, true, ny, gY); // pass 3: Σ_i Γ_ij x̂_i, then back through n
  for (const b of scratch) g.pool.release(b);
}

const LOG_1E8 = Math.log(1e-8);

/** Row-wise hard normalisation into a float64 copy; returns the norms. */
function normaliseRows(n: number, d: number, v: ArrayLike<number>, hat: Float64Array): Float64Array {
  const norms = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let ss = 0;
    for (let c = 0; c < d; c++) ss += v[r * d + c] * v[r * d + c];
    const nrm = Math.sqrt(ss);
    const inv = 1 / Math.max(nrm, 1e-12);
    for (let c = 0; c < d; c++) hat[r * d + c] = v[r * d + c] * inv;
    norms[r] = nrm;
  }
  return norms;
}

/** Gradient w.r.t. v from the gradient G w.r.t. v̂ = n(v), written or accumulated into out. */
function normaliseBackward(n: number, d: number, gHat: Float64Array, hat: Float64Array, norms: Float64Array, out: FloatArray, accumulate: boolean): void {
  for (let r = 0; r < n; r++) {
    const base = r * d;
    let proj = 0;
    let inv = 1e12;
    if (norms[r] > 1e-12) {
      for (let c = 0; c < d; c++) proj += hat[base + c] * gHat[base + c];
      inv = 1 / norms[r];
    }
    for (let c = 0; c < d; c++) {
      const v = (gHat[base + c] - hat[base + c] * proj) * inv;
      out[base + c] = accumulate ? out[base + c] + v : v;
    }
  }
}

/**
 * CPU twin of the ssl kernels (float64 internally): returns scale·Σ_i ℓ_i and writes/accumulates the gradients
 * into gX, gY when given. O(N²·d) time, O(N·d) memory.
 */
export function sslContrastiveCpu(
  n: number,
  d: number,
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  tau: number,
  scale: number,
  gX: FloatArray | null,
  gY: FloatArray | null,
  accumulate: boolean,
): number {
  const invTau = 1 / tau;
  const xh = new Float64Array(n * d);
  const yh = new Float64Array(n * d);
  const nx = normaliseRows(n, d, x, xh);
  const ny = normaliseRows(n, d, y, yh);
  const s = new Float64Array(n); // one row of logits at a time
  const wantGrad = gX !== null || gY !== null;
  const gxh = new Float64Array(wantGrad ? n * d : 0);
  const gyh = new Float64Array(wantGrad ? n * d : 0);
  const gscale = scale * invTau;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += xh[i * d + c] * yh[j * d + c];
      s[j] = dot * invTau;
      if (s[j] > m) m = s[j];
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(s[j] - m);
    const den = sum + Math.exp(-m + LOG_1E8); // (S_i + 1e-8)·e^{−m}
    const r = Math.exp(s[i] - m) / den;
    const kappa = r / (r + 1e-8);
    loss -= Math.log(r + 1e-8);
    if (!wantGrad) continue;
    // Γ_ij = w·exp(s_ij − m) − κ·[i=j]
    const w = kappa / den;
    for (let j = 0; j < n; j++) {
      const gamma = w * Math.exp(s[j] - m) - (i === j ? kappa : 0);
      if (gamma === 0) continue;
      const f = gscale * gamma;
      for (let c = 0; c < d; c++) {
        gxh[i * d + c] += f * yh[j * d + c];
        gyh[j * d + c] += f * xh[i * d + c];
      }
    }
  }
  if (gX) normaliseBackward(n, d, gxh, xh, nx, gX, accumulate);
  if (gY) normaliseBackward(n, d, gyh, yh, ny, gY, accumulate);
  return scale * loss;
}
