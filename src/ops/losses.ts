/**
 * Ranking and contrastive losses over gathered batch rows (spec §4.1 BPR, §4.3 InfoNCE, used by kd §4.4
 * and kd_int §4.5), with their gradients.
 *
 * Both ops add their scaled loss into one slot of a loss vector (always accumulating) and write (or, with
 * `accumulate`, add) the gradients of that scaled loss w.r.t. their input rows. The caller gathers the
 * batch rows first and scatters the row gradients back.
 *
 * Kernels: `shaders/bpr.wgsl` (one thread per batch row), `shaders/infonce_norm.wgsl` (soft
 * normalisation ñ), `shaders/infonce_fwd.wgsl` (log-sum-exp over the candidates, per-row losses and the
 * positive gradients, tiled over the candidates), `shaders/infonce_sweep.wgsl` (anchor gradients tiled over
 * the candidates, candidate gradients tiled over the anchors, both reusing the forward's log-sum-exp) and
 * `shaders/infonce_sum.wgsl` (per-row losses → the loss slot). The B×M logit matrix is never stored.
 * The forward and the sweeps hold several rows per invocation in registers (see `infoNceTile`): on CPU
 * Vulkan each value read from memory is a per-lane load, so the number of products per value read sets the
 * speed.
 */
import bprWgsl from '../../shaders/bpr.wgsl';
import infonceFwdWgsl from '../../shaders/infonce_fwd.wgsl';
import infonceNormWgsl from '../../shaders/infonce_norm.wgsl';
import infonceSumWgsl from '../../shaders/infonce_sum.wgsl';
import infonceSweepWgsl from '../../shaders/infonce_sweep.wgsl';
import { IrllrecError } from '../errors.js';
import { Kernel, grid1d } from '../gpu/kernel.js';
import { type Backend, type FloatArray, type Tensor, type WebGpuBackend, asGpu, expectDtype, expectFinite, expectSameBackend, expectShape } from './tensor.js';

// ----------------------------------------------------------------------------------------------------
// Shared helpers

/** Check `out` is a float loss vector and `slot` one of its entries. */
function checkLossSlot(op: string, out: Tensor, slot: number): void {
  expectShape(op, 'out', out, [null]);
  expectDtype(op, 'out', out, 'f32');
  if (!Number.isInteger(slot) || slot < 0 || slot >= out.size) {
    throw new IrllrecError('range', `${op}: slot ${slot} is outside the loss vector '${out.label}' of ${out.size} entries`);
  }
}

/** Gradient outputs must be distinct from every input and from each other (one dispatch writes them all). */
function checkNoAlias(op: string, writes: [string, Tensor | null | undefined][], reads: [string, Tensor][]): void {
  for (const [wn, w] of writes) {
    if (!w) continue;
    for (const [rn, r] of reads) {
      if (w === r) throw new IrllrecError('range', `${op}: ${wn} and ${rn} must be different tensors`);
    }
  }
}

const sumKernel = new Kernel({
  name: 'infonce_sum',
  code: infonceSumWgsl,
  storage: ['read', 'rw'],
  params: { n: 'u32', slot: 'u32', scale: 'f32' },
});

/** Record out[slot] += scale·Σ rows[0..n). */
function recordSlotSum(g: WebGpuBackend, rows: GPUBuffer, n: number, out: Tensor, slot: number, scale: number): void {
  g.recorder.dispatch(sumKernel, [rows, out.buffer], { n, slot, scale }, [1, 1, 1], { WG: 256 });
}

/** A scratch storage buffer from the pool (contents undefined); give it back with `g.pool.release`. */
function scratch(g: WebGpuBackend, elements: number, label: string): GPUBuffer {
  return g.pool.acquire(Math.max(4, elements * 4), label);
}

// ----------------------------------------------------------------------------------------------------
// BPR (spec §4.1)

export interface BprOptions {
  /** Multiplies the loss and the gradients (the caller uses 1/B). */
  scale: number;
  gU?: Tensor | null;
  gP?: Tensor | null;
  gQ?: Tensor | null;
  /** Add into the gradients instead of overwriting them. */
  accumulate?: boolean;
}

const bprKernel = new Kernel({
  name: 'bpr',
  code: bprWgsl,
  storage: ['read', 'read', 'read', 'rw', 'rw', 'rw', 'rw'],
  params: { B: 'u32', d: 'u32', scale: 'f32', has_gu: 'u32', has_gp: 'u32', has_gq: 'u32', beta: 'u32' },
});
const BPR_WG = 64;

/**
 * BPR over gathered batch rows: x_b = u_b·p_b, y_b = u_b·q_b;
 * out[slot] += scale·Σ_b softplus(y_b − x_b) (stable softplus).
 * With s_b = scale·σ(y_b − x_b): gU[b] = s_b(q_b − p_b), gP[b] = −s_b·u_b, gQ[b] = s_b·u_b
 * (overwritten, or added with `accumulate`).
 */
export function bpr(be: Backend, u: Tensor, p: Tensor, q: Tensor, out: Tensor, slot: number, opts: BprOptions): void {
  const op = 'bpr';
  const { gU = null, gP = null, gQ = null } = opts;
  expectSameBackend(op, be, u, p, q, out, gU, gP, gQ);
  expectShape(op, 'u', u, [null, null]);
  const B = u.rows;
  const d = u.cols;
  expectShape(op, 'p', p, [B, d]);
  expectShape(op, 'q', q, [B, d]);
  for (const [n, t] of [['u', u], ['p', p], ['q', q]] as const) expectDtype(op, n, t, 'f32');
  checkLossSlot(op, out, slot);
  expectFinite(op, 'scale', opts.scale);
  for (const [n, t] of [['gU', gU], ['gP', gP], ['gQ', gQ]] as const) {
    if (!t) continue;
    expectShape(op, n, t, [B, d]);
    expectDtype(op, n, t, 'f32');
  }
  const writes: [string, Tensor | null][] = [['gU', gU], ['gP', gP], ['gQ', gQ]];
  checkNoAlias(op, writes, [['u', u], ['p', p], ['q', q], ['out', out]]);
  if ((gU && (gU === gP || gU === gQ)) || (gP && gP === gQ)) throw new IrllrecError('range', `${op}: gU, gP and gQ must be different tensors`);
  const accumulate = opts.accumulate ?? false;

  if (be.kind === 'cpu') {
    out.f[slot] += bprCpu(B, d, u.f, p.f, q.f, opts.scale, gU?.f ?? null, gP?.f ?? null, gQ?.f ?? null, accumulate);
    return;
  }
  if (B === 0) return;
  const g = asGpu(be);
  const rowLoss = scratch(g, B, 'bpr.rowLoss');
  // Writable bindings may not alias (WebGPU validation): each unused gradient gets its own tiny buffer.
  const dummies: GPUBuffer[] = [];
  const orDummy = (t: Tensor | null) => t?.buffer ?? dummies[dummies.push(scratch(g, 1, 'bpr.unused')) - 1];
  g.recorder.dispatch(
    bprKernel,
    [u.buffer, p.buffer, q.buffer, rowLoss, orDummy(gU), orDummy(gP), orDummy(gQ)],
    { B, d, scale: opts.scale, has_gu: gU ? 1 : 0, has_gp: gP ? 1 : 0, has_gq: gQ ? 1 : 0, beta: accumulate ? 1 : 0 },
    grid1d(Math.ceil(B / BPR_WG), g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG: BPR_WG },
  );
  recordSlotSum(g, rowLoss, B, out, slot, opts.scale);
  for (const buf of [rowLoss, ...dummies]) g.pool.release(buf);
}

/** log(1 + eᶻ) without overflow. */
function softplus(z: number): number {
  return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
}

/** σ(z) without overflow. */
function sigmoid(z: number): number {
  const e = Math.exp(-Math.abs(z));
  return z >= 0 ? 1 / (1 + e) : e / (1 + e);
}

/** CPU twin of `bpr.wgsl` + the slot sum: returns scale·Σ_b softplus(y_b − x_b) and writes the gradients. */
export function bprCpu(
  B: number,
  d: number,
  u: ArrayLike<number>,
  p: ArrayLike<number>,
  q: ArrayLike<number>,
  scale: number,
  gU: FloatArray | null,
  gP: FloatArray | null,
  gQ: FloatArray | null,
  accumulate: boolean,
): number {
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const base = b * d;
    let x = 0;
    let y = 0;
    for (let k = 0; k < d; k++) {
      x += u[base + k] * p[base + k];
      y += u[base + k] * q[base + k];
    }
    const z = y - x;
    loss += softplus(z);
    const s = scale * sigmoid(z);
    for (let k = 0; k < d; k++) {
      const i = base + k;
      if (gU) gU[i] = (accumulate ? gU[i] : 0) + s * (q[i] - p[i]);
      if (gP) gP[i] = (accumulate ? gP[i] : 0) - s * u[i];
      if (gQ) gQ[i] = (accumulate ? gQ[i] : 0) + s * u[i];
    }
  }
  return scale * loss;
}

// ----------------------------------------------------------------------------------------------------
// InfoNCE Φ(A, P, C; τ) (spec §4.3)

export interface InfoNceOptions {
  /** Temperature τ > 0. */
  tau: number;
  /** Multiplies Φ and every gradient (the caller uses w/B). */
  scale: number;
  /** Gradient w.r.t. the raw anchors A [B×d]. */
  gA?: Tensor | null;
  /** Gradient w.r.t. the raw positives P [B×d]. */
  gP?: Tensor | null;
  /** Gradient w.r.t. the raw candidates C [M×d]; may be the same tensor as gP (then M = B and both add). */
  gC?: Tensor | null;
  /** Add into the gradients instead of overwriting them. */
  accumulate?: boolean;
}

const normKernel = new Kernel({
  name: 'infonce_norm',
  code: infonceNormWgsl,
  storage: ['read', 'read', 'read', 'rw', 'rw'],
  params: { B: 'u32', M: 'u32', d: 'u32', dp: 'u32' },
});
const fwdKernel = new Kernel({
  name: 'infonce_fwd',
  code: infonceFwdWgsl,
  storage: ['read', 'read', 'rw', 'rw', 'rw'],
  params: { B: 'u32', M: 'u32', d: 'u32', dp: 'u32', inv_tau: 'f32', scale: 'f32', has_gp: 'u32', beta_p: 'u32' },
});
const sweepKernel = new Kernel({
  name: 'infonce_sweep',
  code: infonceSweepWgsl,
  storage: ['read', 'read', 'read', 'rw'],
  params: { B: 'u32', M: 'u32', d: 'u32', dp: 'u32', inv_tau: 'f32', scale: 'f32', mode: 'u32', beta: 'u32' },
});
const NORM_WG = 64;
/** Widest row width accepted (the bound `infoNceSweepRows` documents). */
const MAX_WIDTH = 1024;

/**
 * Tiling of `infonce_fwd.wgsl` / `infonce_sweep.wgsl` for row width d. The normalised rows are stored with
 * stride dp = 32·ceil(d/32) floats (zero padded). d ≤ 64: the DV = dp/4 vec4 (8 or 16) of a row are held in
 * registers, RH rows per invocation, against candidate tiles staged in workgroup memory (the kernels' arrays
 * bound RH·DV ≤ 128 and WG·RH·DV ≤ 512 vec4, 8 KiB of held rows); d > 64: one row per invocation, read from
 * storage (CHUNKED). So there are three pipelines per kernel, whatever d is.
 * On CPU Vulkan (lavapipe: invocations are the lanes of one SIMD group and every storage or workgroup read is
 * a per-lane load) one SIMD group of WG = 8 invocations holds RH = 64/DV rows each, so each streamed value
 * read feeds 8 (d ≤ 32) or 4 (d ≤ 64) products; on GPUs the usual RH = 1, with WG = 512/DV.
 */
function infoNceTile(g: WebGpuBackend, d: number): { dp: number; consts: { WG: number; RH: number; DV: number; CHUNKED: number } } {
  const cpu = g.ctx.adapter.isSoftware;
  const dp = 32 * Math.ceil(d / 32);
  if (d > 64) return { dp, consts: { WG: cpu ? 8 : 64, RH: 1, DV: 8, CHUNKED: 1 } };
  const DV = dp / 4;
  return { dp, consts: { WG: cpu ? 8 : 512 / DV, RH: cpu ? 64 / DV : 1, DV, CHUNKED: 0 } };
}

/**
 * The largest of 8, 4, 2, 1 rows whose width-d accumulators (rows·d floats) fit in 1024 floats; null when
 * d > 1024, the widest row `infoNce` accepts. (The held-row count of an earlier gradient sweep; kept as the
 * exported statement of the width limit. The current kernels choose their tiling in `infoNceTile`.)
 */
export function infoNceSweepRows(d: number): number | null {
  for (const rows of [8, 4, 2, 1]) if (rows * d <= MAX_WIDTH) return rows;
  return null;
}

/**
 * InfoNCE Φ(A, P, C; τ) = Σ_b [ −â_b·p̂_b/τ + log Σ_m exp(â_b·ĉ_m/τ) ] with ñ-normalised rows;
 * out[slot] += scale·Φ. Gradients of scale·Φ w.r.t. the raw rows of A, P, C are written (or added with
 * `accumulate`) into gA [B×d], gP [B×d], gC [M×d] when given. gP === gC (candidates are the positives,
 * M = B) adds both contributions: the positive one is written (or added), the candidate one always added,
 * in separate dispatches. Row width d ≤ 1024.
 */
export function infoNce(be: Backend, a: Tensor, p: Tensor, c: Tensor, out: Tensor, slot: number, opts: InfoNceOptions): void {
  const op = 'infoNce';
  const { gA = null, gP = null, gC = null } = opts;
  expectSameBackend(op, be, a, p, c, out, gA, gP, gC);
  expectShape(op, 'a', a, [null, null]);
  const B = a.rows;
  const d = a.cols;
  expectShape(op, 'p', p, [B, d]);
  expectShape(op, 'c', c, [null, d]);
  const M = c.rows;
  for (const [n, t] of [['a', a], ['p', p], ['c', c]] as const) expectDtype(op, n, t, 'f32');
  if (B < 1) throw new IrllrecError('shape', `${op}: a ('${a.label}') has no rows`);
  if (M < 1) throw new IrllrecError('shape', `${op}: c ('${c.label}') has no rows (at least one candidate is needed)`);
  if (d < 1) throw new IrllrecError('shape', `${op}: rows of a ('${a.label}') are empty (d = 0)`);
  checkLossSlot(op, out, slot);
  expectFinite(op, 'tau', opts.tau);
  if (!(opts.tau > 0)) throw new IrllrecError('range', `${op}: tau must be > 0, got ${opts.tau}`);
  expectFinite(op, 'scale', opts.scale);
  for (const [n, t, rows] of [['gA', gA, B], ['gP', gP, B], ['gC', gC, M]] as const) {
    if (!t) continue;
    expectShape(op, n, t, [rows, d]);
    expectDtype(op, n, t, 'f32');
  }
  checkNoAlias(op, [['gA', gA], ['gP', gP], ['gC', gC]], [['a', a], ['p', p], ['c', c], ['out', out]]);
  if (gA && (gA === gP || gA === gC)) throw new IrllrecError('range', `${op}: gA must differ from gP and gC`);
  const accumulate = opts.accumulate ?? false;
  if (d > MAX_WIDTH) throw new IrllrecError('limit', `${op}: row width d = ${d} is too wide (at most ${MAX_WIDTH})`);

  if (be.kind === 'cpu') {
    out.f[slot] += infoNceCpu(B, M, d, a.f, p.f, c.f, opts.tau, opts.scale, gA?.f ?? null, gP?.f ?? null, gC?.f ?? null, accumulate);
    return;
  }
  const g = asGpu(be);
  const maxDim = g.ctx.limits.maxComputeWorkgroupsPerDimension;
  const R = 2 * B + M;
  const { dp, consts: tile } = infoNceTile(g, d);
  const hat = scratch(g, R * dp, 'infoNce.hat');
  const nu = scratch(g, R, 'infoNce.nu');
  const lse = scratch(g, B, 'infoNce.lse');
  const rowLoss = scratch(g, B, 'infoNce.rowLoss');
  // Writable bindings may not alias (WebGPU validation): an unused gP gets its own tiny buffer.
  const unused = gP ? null : scratch(g, 1, 'infoNce.unused');
  const invTau = 1 / opts.tau;
  const heldPerGroup = tile.WG * tile.RH;

  g.recorder.dispatch(normKernel, [a.buffer, p.buffer, c.buffer, hat, nu], { B, M, d, dp }, grid1d(Math.ceil(R / NORM_WG), maxDim), { WG: NORM_WG });
  g.recorder.dispatch(
    fwdKernel,
    [hat, nu, lse, rowLoss, gP?.buffer ?? (unused as GPUBuffer)],
    { B, M, d, dp, inv_tau: invTau, scale: opts.scale, has_gp: gP ? 1 : 0, beta_p: accumulate ? 1 : 0 },
    grid1d(Math.ceil(B / heldPerGroup), maxDim),
    tile,
  );
  if (gA) {
    g.recorder.dispatch(
      sweepKernel,
      [hat, nu, lse, gA.buffer],
      { B, M, d, dp, inv_tau: invTau, scale: opts.scale, mode: 0, beta: accumulate ? 1 : 0 },
      grid1d(Math.ceil(B / heldPerGroup), maxDim),
      tile,
    );
  }
  if (gC) {
    // With gC === gP the positive contribution is already in the buffer: add the candidate one.
    g.recorder.dispatch(
      sweepKernel,
      [hat, nu, lse, gC.buffer],
      { B, M, d, dp, inv_tau: invTau, scale: opts.scale, mode: 1, beta: accumulate || gC === gP ? 1 : 0 },
      grid1d(Math.ceil(M / heldPerGroup), maxDim),
      tile,
    );
  }
  recordSlotSum(g, rowLoss, B, out, slot, opts.scale);
  for (const buf of [hat, nu, lse, rowLoss]) g.pool.release(buf);
  if (unused) g.pool.release(unused);
}

/** Soft L2 normalisation ñ of `rows` rows of width d: x̂ and ν = sqrt(1e-8 + ‖x‖²). */
function softNormalize(rows: number, d: number, x: ArrayLike<number>): { hat: Float64Array; nu: Float64Array } {
  const hat = new Float64Array(rows * d);
  const nu = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let k = 0; k < d; k++) ss += x[r * d + k] ** 2;
    const n = Math.sqrt(1e-8 + ss);
    nu[r] = n;
    for (let k = 0; k < d; k++) hat[r * d + k] = x[r * d + k] / n;
  }
  return { hat, nu };
}

/** Backward through ñ, row-wise: ∂/∂v = (ĝ − v̂(v̂·ĝ))/ν, written or added into `out`. */
function softNormalizeBackward(rows: number, d: number, hat: Float64Array, nu: Float64Array, gHat: Float64Array, out: FloatArray, add: boolean): void {
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let k = 0; k < d; k++) dot += hat[r * d + k] * gHat[r * d + k];
    for (let k = 0; k < d; k++) {
      const i = r * d + k;
      out[i] = (add ? out[i] : 0) + (gHat[i] - hat[i] * dot) / nu[r];
    }
  }
}

/**
 * CPU twin of the InfoNCE kernels: returns scale·Φ(A, P, C; τ) and writes the gradients of scale·Φ
 * (gP and gC may be the same array: both contributions add). Memory is O((B + M)·d), one row of M logits
 * at a time.
 */
export function infoNceCpu(
  B: number,
  M: number,
  d: number,
  a: ArrayLike<number>,
  p: ArrayLike<number>,
  c: ArrayLike<number>,
  tau: number,
  scale: number,
  gA: FloatArray | null,
  gP: FloatArray | null,
  gC: FloatArray | null,
  accumulate: boolean,
): number {
  const t = 1 / tau;
  const A = softNormalize(B, d, a);
  const P = softNormalize(B, d, p);
  const C = softNormalize(M, d, c);
  const gAh = new Float64Array(B * d);
  const gCh = gC ? new Float64Array(M * d) : null;
  const logits = new Float64Array(M);
  let phi = 0;
  for (let b = 0; b < B; b++) {
    let mx = -Infinity;
    for (let m = 0; m < M; m++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += A.hat[b * d + k] * C.hat[m * d + k];
      logits[m] = s * t;
      mx = Math.max(mx, logits[m]);
    }
    let sum = 0;
    for (let m = 0; m < M; m++) sum += Math.exp(logits[m] - mx);
    const lse = mx + Math.log(sum);
    let ap = 0;
    for (let k = 0; k < d; k++) ap += A.hat[b * d + k] * P.hat[b * d + k];
    phi += lse - ap * t;
    // ∂/∂â_b = (1/τ)(Σ_m π_bm ĉ_m − p̂_b);  ∂/∂ĉ_m += (1/τ) π_bm â_b   (times scale)
    for (let m = 0; m < M; m++) {
      const w = scale * t * Math.exp(logits[m] - lse);
      for (let k = 0; k < d; k++) {
        gAh[b * d + k] += w * C.hat[m * d + k];
        if (gCh) gCh[m * d + k] += w * A.hat[b * d + k];
      }
    }
    for (let k = 0; k < d; k++) gAh[b * d + k] -= scale * t * P.hat[b * d + k];
  }
  if (gA) softNormalizeBackward(B, d, A.hat, A.nu, gAh, gA, accumulate);
  if (gP) {
    // ∂/∂p̂_b = −(scale/τ)·â_b
    const gPh = new Float64Array(B * d);
    for (let i = 0; i < B * d; i++) gPh[i] = -scale * t * A.hat[i];
    softNormalizeBackward(B, d, P.hat, P.nu, gPh, gP, accumulate);
  }
  if (gC && gCh) softNormalizeBackward(M, d, C.hat, C.nu, gCh, gC, accumulate || gC === gP);
  return scale * phi;
}
