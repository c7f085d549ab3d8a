/**
 * Row-wise kernels over dense R×C matrices (`shaders/rowwise.wgsl`, `shaders/itm.wgsl`, both with
 * `shaders/row_reduce.wgsl` prepended): the intent softmax and its backward (spec §5.2 step 5), the two
 * row normalisations n and ñ (spec §0) and their backward (§4.3 "Through ñ", §4.6 "Through n"), row dot
 * products, and the ITM distillation term with its gradient (§4.7 steps 3–5).
 *
 * GPU layout: one workgroup per row (32, 64 or 128 threads by row length), strided column loops and tree
 * reductions in workgroup memory, so any row length works and sums are deterministic. On a software adapter
 * (lavapipe, SwiftShader) softmax, normalisation, their backwards and ITM instead run one invocation per row
 * (`shaders/rowwise_thread.wgsl`, `shaders/itm_thread.wgsl`; vec4 loads when the row length is a multiple of
 * 4): the emulator pays for every workgroup barrier of a tree reduction with a switch between the workgroup's
 * SIMD lane groups, which made these kernels ~20–45× slower (CPU time, lavapipe, 20,332 rows of 32 or 128)
 * than a serial loop over the row. Row dot products keep the workgroup layout everywhere.
 */
import itmWgsl from '../../shaders/itm.wgsl';
import itmThreadWgsl from '../../shaders/itm_thread.wgsl';
import rowReduceWgsl from '../../shaders/row_reduce.wgsl';
import rowwiseWgsl from '../../shaders/rowwise.wgsl';
import rowwiseThreadWgsl from '../../shaders/rowwise_thread.wgsl';
import { IrllrecError } from '../errors.js';
import { Kernel, grid1d } from '../gpu/kernel.js';
import { recordReduceSum } from './reduce.js';
import { type Backend, type FloatArray, type Tensor, type WebGpuBackend, asGpu, expectDtype, expectFinite, expectSameBackend, expectShape } from './tensor.js';

const ROW_PARAMS = { rows: 'u32', cols: 'u32', mode: 'u32', beta: 'u32' } as const;
const rowwiseCode = `${rowReduceWgsl}\n${rowwiseWgsl}`;
function rowKernel(entryPoint: string): Kernel<typeof ROW_PARAMS> {
  return new Kernel({ name: `rowwise.${entryPoint}`, code: rowwiseCode, entryPoint, storage: ['read', 'read', 'rw'], params: ROW_PARAMS });
}

/** Entry points that exist in both layouts: one workgroup per row (rowwise.wgsl), one invocation per row (rowwise_thread.wgsl). */
export type RowEntry = 'softmax_forward' | 'softmax_backward' | 'normalize_forward' | 'normalize_backward';
/** How a row kernel is laid out on the GPU: a workgroup per row (tree reductions) or an invocation per row (serial). */
export type RowSplit = 'workgroup' | 'thread';

// The element-type declarations rowwise_thread.wgsl expects (see its header).
const THREAD_PRELUDE = {
  vec4: `alias XT = vec4<f32>;
fn hsum(v: XT) -> f32 { return (v.x + v.y) + (v.z + v.w); }
fn hmax(v: XT) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }`,
  f32: `alias XT = f32;
fn hsum(v: XT) -> f32 { return v; }
fn hmax(v: XT) -> f32 { return v; }`,
};
const ROW_ENTRIES: RowEntry[] = ['softmax_forward', 'softmax_backward', 'normalize_forward', 'normalize_backward'];
const workgroupKernels = Object.fromEntries(ROW_ENTRIES.map((e) => [e, rowKernel(e)])) as Record<RowEntry, Kernel<typeof ROW_PARAMS>>;
// Same kernel names as the workgroup layout, so profiles stay comparable across adapters.
function threadKernels(element: 'vec4' | 'f32'): Record<RowEntry, Kernel<typeof ROW_PARAMS>> {
  const code = `${THREAD_PRELUDE[element]}\n${rowwiseThreadWgsl}`;
  return Object.fromEntries(
    ROW_ENTRIES.map((e) => [e, new Kernel({ name: `rowwise.${e}`, code, entryPoint: e, storage: ['read', 'read', 'rw'], params: ROW_PARAMS })]),
  ) as Record<RowEntry, Kernel<typeof ROW_PARAMS>>;
}
const threadKernelsVec4 = threadKernels('vec4');
const threadKernelsF32 = threadKernels('f32');
const THREAD_WG = 32;

/** The layout for this adapter: invocation per row on software adapters, workgroup per row on GPUs. */
export function rowSplit(software: boolean): RowSplit {
  return software ? 'thread' : 'workgroup';
}

const rowDotsKernel = rowKernel('row_dots');
const ITM_PARAMS = { rows: 'u32', cols: 'u32', grad_scale: 'f32', has_grad: 'u32', beta: 'u32' } as const;
const itmKernel = new Kernel({ name: 'itm', code: `${rowReduceWgsl}\n${itmWgsl}`, storage: ['read', 'read', 'rw', 'rw'], params: ITM_PARAMS });
// The invocation-per-row layout of the same term (software adapters), per element type.
const itmThreadKernels = {
  vec4: new Kernel({ name: 'itm', code: `${THREAD_PRELUDE.vec4}\n${itmThreadWgsl}`, storage: ['read', 'read', 'rw', 'rw'], params: ITM_PARAMS }),
  f32: new Kernel({ name: 'itm', code: `${THREAD_PRELUDE.f32}\n${itmThreadWgsl}`, storage: ['read', 'read', 'rw', 'rw'], params: ITM_PARAMS }),
};

/** Threads per row: a power of two ≤ 128 that does not leave most threads idle on short rows. */
function rowWorkgroupSize(cols: number): number {
  return cols <= 32 ? 32 : cols <= 64 ? 64 : 128;
}

/** n (hard): x / max(‖x‖, 1e-12);  ñ (soft): x / sqrt(1e-8 + ‖x‖²)  (spec §0). */
export type NormMode = 'hard' | 'soft';
const NORM_FLOOR = 1e-12;
const SOFT_EPS = 1e-8;

function normModeCode(op: string, mode: unknown): number {
  if (mode === 'hard') return 0;
  if (mode === 'soft') return 1;
  throw new IrllrecError('range', `${op}: mode must be 'hard' or 'soft', got ${String(mode)}`);
}

/** Validate a 2-D f32 input and return its [rows, cols]. */
function expectMatrix(op: string, name: string, t: Tensor): [number, number] {
  expectShape(op, name, t, [null, null]);
  expectDtype(op, name, t, 'f32');
  return [t.shape[0], t.shape[1]];
}

function expectLike(op: string, name: string, t: Tensor, rows: number, cols: number): void {
  expectShape(op, name, t, [rows, cols]);
  expectDtype(op, name, t, 'f32');
}

function expectDistinct(op: string, out: [string, Tensor], ...inputs: [string, Tensor][]): void {
  for (const [name, t] of inputs) {
    if (t === out[1]) throw new IrllrecError('range', `${op}: ${name} and ${out[0]} must be different tensors`);
  }
}

function dispatchRows(be: Backend, entry: RowEntry, a: Tensor, b: Tensor, out: Tensor, rows: number, cols: number, mode: number, accumulate: boolean): void {
  const g = asGpu(be);
  recordRowKernel(g, entry, a, b, out, rows, cols, mode, accumulate, rowSplit(g.ctx.adapter.isSoftware));
}

/**
 * Record one row kernel over R×C inputs `a`, `b` into `out` with an explicit layout (the ops pick
 * `rowSplit(adapter is software)`); arguments as validated by the op. Exported so that tests can run both
 * layouts on any adapter. mode: 0 hard, 1 soft (normalisation only).
 */
export function recordRowKernel(
  g: WebGpuBackend,
  entry: RowEntry,
  a: Tensor,
  b: Tensor,
  out: Tensor,
  rows: number,
  cols: number,
  mode: number,
  accumulate: boolean,
  split: RowSplit,
): void {
  if (rows === 0 || cols === 0) return;
  const params = { rows, cols, mode, beta: accumulate ? 1 : 0 };
  const maxDim = g.ctx.limits.maxComputeWorkgroupsPerDimension;
  if (split === 'workgroup') {
    g.recorder.dispatch(workgroupKernels[entry], [a.buffer, b.buffer, out.buffer], params, grid1d(rows, maxDim), { WG: rowWorkgroupSize(cols) });
    return;
  }
  const vec4 = cols % 4 === 0;
  g.recorder.dispatch(
    (vec4 ? threadKernelsVec4 : threadKernelsF32)[entry],
    [a.buffer, b.buffer, out.buffer],
    { ...params, cols: vec4 ? cols / 4 : cols },
    grid1d(Math.ceil(rows / THREAD_WG), maxDim),
    { WG: THREAD_WG },
  );
}

function dispatchRowDots(be: Backend, a: Tensor, b: Tensor, out: Tensor, rows: number, cols: number): void {
  const g = asGpu(be);
  g.recorder.dispatch(
    rowDotsKernel,
    [a.buffer, b.buffer, out.buffer],
    { rows, cols, mode: 0, beta: 0 },
    grid1d(rows, g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG: rowWorkgroupSize(cols) },
  );
}

// ----------------------------------------------------------------------------------------------------
// Softmax

/** y = softmax(x) row-wise, with the row maximum subtracted before exp (safe for any finite logits). */
export function softmaxRows(be: Backend, x: Tensor, y: Tensor): void {
  const op = 'softmaxRows';
  expectSameBackend(op, be, x, y);
  const [rows, cols] = expectMatrix(op, 'x', x);
  expectLike(op, 'y', y, rows, cols);
  expectDistinct(op, ['y', y], ['x', x]);
  if (be.kind === 'cpu') {
    softmaxRowsCpu(rows, cols, x.f, y.f);
    return;
  }
  dispatchRows(be, 'softmax_forward', x, x, y, rows, cols, 0, false);
}

/** gX (+)= y ⊙ (gY − rowsum(y ⊙ gY)), the backward of y = softmax(x) given y. */
export function softmaxRowsBackward(be: Backend, y: Tensor, gY: Tensor, gX: Tensor, opts: { accumulate?: boolean } = {}): void {
  const op = 'softmaxRowsBackward';
  expectSameBackend(op, be, y, gY, gX);
  const [rows, cols] = expectMatrix(op, 'y', y);
  expectLike(op, 'gY', gY, rows, cols);
  expectLike(op, 'gX', gX, rows, cols);
  expectDistinct(op, ['gX', gX], ['y', y], ['gY', gY]);
  const accumulate = opts.accumulate ?? false;
  if (be.kind === 'cpu') {
    softmaxRowsBackwardCpu(rows, cols, y.f, gY.f, gX.f, accumulate);
    return;
  }
  dispatchRows(be, 'softmax_backward', y, gY, gX, rows, cols, 0, accumulate);
}

/** CPU twin of `softmax_forward`. */
export function softmaxRowsCpu(rows: number, cols: number, x: ArrayLike<number>, y: FloatArray): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[base + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[base + c] - m);
    for (let c = 0; c < cols; c++) y[base + c] = Math.exp(x[base + c] - m) / s;
  }
}

/** CPU twin of `softmax_backward`. */
export function softmaxRowsBackwardCpu(rows: number, cols: number, y: ArrayLike<number>, gY: ArrayLike<number>, gX: FloatArray, accumulate: boolean): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let s = 0;
    for (let c = 0; c < cols; c++) s += y[base + c] * gY[base + c];
    for (let c = 0; c < cols; c++) {
      const v = y[base + c] * (gY[base + c] - s);
      gX[base + c] = accumulate ? gX[base + c] + v : v;
    }
  }
}

// ----------------------------------------------------------------------------------------------------
// Row normalisation

/** y = x / ν row-wise: ν = max(‖x‖, 1e-12) ('hard', n) or sqrt(1e-8 + ‖x‖²) ('soft', ñ). */
export function normalizeRows(be: Backend, x: Tensor, y: Tensor, opts: { mode: NormMode }): void {
  const op = 'normalizeRows';
  const mode = normModeCode(op, opts?.mode);
  expectSameBackend(op, be, x, y);
  const [rows, cols] = expectMatrix(op, 'x', x);
  expectLike(op, 'y', y, rows, cols);
  expectDistinct(op, ['y', y], ['x', x]);
  if (be.kind === 'cpu') {
    normalizeRowsCpu(rows, cols, x.f, y.f, opts.mode);
    return;
  }
  dispatchRows(be, 'normalize_forward', x, x, y, rows, cols, mode, false);
}

/**
 * gX (+)= the backward of `normalizeRows` at x for upstream gY, recomputing the norm from x:
 * (g − ŷ(ŷ·g))/ν with ŷ = x/ν; in hard mode with ‖x‖ ≤ 1e-12 the map is x/1e-12, so gX = g/1e-12.
 */
export function normalizeRowsBackward(be: Backend, x: Tensor, gY: Tensor, gX: Tensor, opts: { mode: NormMode; accumulate?: boolean }): void {
  const op = 'normalizeRowsBackward';
  const mode = normModeCode(op, opts?.mode);
  expectSameBackend(op, be, x, gY, gX);
  const [rows, cols] = expectMatrix(op, 'x', x);
  expectLike(op, 'gY', gY, rows, cols);
  expectLike(op, 'gX', gX, rows, cols);
  expectDistinct(op, ['gX', gX], ['x', x], ['gY', gY]);
  const accumulate = opts.accumulate ?? false;
  if (be.kind === 'cpu') {
    normalizeRowsBackwardCpu(rows, cols, x.f, gY.f, gX.f, opts.mode, accumulate);
    return;
  }
  dispatchRows(be, 'normalize_backward', x, gY, gX, rows, cols, mode, accumulate);
}

function normDenominator(ss: number, mode: NormMode): number {
  return mode === 'hard' ? Math.max(Math.sqrt(ss), NORM_FLOOR) : Math.sqrt(SOFT_EPS + ss);
}

/** CPU twin of `normalize_forward`. */
export function normalizeRowsCpu(rows: number, cols: number, x: ArrayLike<number>, y: FloatArray, mode: NormMode): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += x[base + c] * x[base + c];
    const nu = normDenominator(ss, mode);
    for (let c = 0; c < cols; c++) y[base + c] = x[base + c] / nu;
  }
}

/** CPU twin of `normalize_backward`. */
export function normalizeRowsBackwardCpu(
  rows: number,
  cols: number,
  x: ArrayLike<number>,
  gY: ArrayLike<number>,
  gX: FloatArray,
  mode: NormMode,
  accumulate: boolean,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let ss = 0;
    let xg = 0;
    for (let c = 0; c < cols; c++) {
      ss += x[base + c] * x[base + c];
      xg += x[base + c] * gY[base + c];
    }
    const nu = normDenominator(ss, mode);
    const linear = mode === 'hard' && !(Math.sqrt(ss) > NORM_FLOOR);
    const dot = xg / nu; // ŷ·g
    for (let c = 0; c < cols; c++) {
      const g = gY[base + c];
      const v = linear ? g / nu : (g - (x[base + c] / nu) * dot) / nu;
      gX[base + c] = accumulate ? gX[base + c] + v : v;
    }
  }
}

// ----------------------------------------------------------------------------------------------------
// Row dot products

/** out[r] = a[r]·b[r] for R×C a, b and out of shape [R]. */
export function rowDots(be: Backend, a: Tensor, b: Tensor, out: Tensor): void {
  const op = 'rowDots';
  expectSameBackend(op, be, a, b, out);
  const [rows, cols] = expectMatrix(op, 'a', a);
  expectLike(op, 'b', b, rows, cols);
  expectShape(op, 'out', out, [rows]);
  expectDtype(op, 'out', out, 'f32');
  expectDistinct(op, ['out', out], ['a', a], ['b', b]);
  if (be.kind === 'cpu') {
    rowDotsCpu(rows, cols, a.f, b.f, out.f);
    return;
  }
  dispatchRowDots(be, a, b, out, rows, cols);
}

/** CPU twin of `row_dots`. */
export function rowDotsCpu(rows: number, cols: number, a: ArrayLike<number>, b: ArrayLike<number>, out: FloatArray): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += a[r * cols + c] * b[r * cols + c];
    out[r] = s;
  }
}

// ----------------------------------------------------------------------------------------------------
// ITM (spec §4.7)

export interface ItmOptions {
  /** Multiplies Σ_i Σ_c q_ic·log p_ic before it is added to out[slot] (the caller passes −0.6·w3/N). */
  lossScale: number;
  /** gZ (+)= gradScale·(p − q) (the caller passes 0.6·w3/N). */
  gradScale: number;
  /** Gradient output (R×C); null or absent: loss value only. */
  gZ?: Tensor | null;
  /** gZ += … instead of gZ = … */
  accumulate?: boolean;
}

/**
 * Per row i over the C columns: p = softmax(z_i), q = softmax(t_i) (t: the constant teacher output);
 * out[slot] += lossScale·Σ_i Σ_c q_ic·log p_ic, and gZ (+)= gradScale·(p − q). log p by log-sum-exp.
 * With lossScale = −gradScale, gradScale·(p − q) is the exact gradient of the added loss w.r.t. z.
 */
export function itmLoss(be: Backend, z: Tensor, t: Tensor, out: Tensor, slot: number, opts: ItmOptions): void {
  const op = 'itmLoss';
  const gZ = opts.gZ ?? null;
  expectSameBackend(op, be, z, t, out, gZ);
  const [rows, cols] = expectMatrix(op, 'z', z);
  expectLike(op, 't', t, rows, cols);
  expectDtype(op, 'out', out, 'f32');
  if (!Number.isInteger(slot) || slot < 0 || slot >= out.size) {
    throw new IrllrecError('range', `${op}: slot ${slot} is outside the loss vector '${out.label}' (${out.size} entries)`);
  }
  expectFinite(op, 'lossScale', opts.lossScale);
  expectFinite(op, 'gradScale', opts.gradScale);
  if (gZ) {
    expectLike(op, 'gZ', gZ, rows, cols);
    expectDistinct(op, ['gZ', gZ], ['z', z], ['t', t], ['out', out]);
  }
  expectDistinct(op, ['out', out], ['z', z], ['t', t]);
  const accumulate = opts.accumulate ?? false;
  if (be.kind === 'cpu') {
    itmLossCpu(rows, cols, z.f, t.f, out.f, slot, opts.lossScale, opts.gradScale, gZ?.f ?? null, accumulate);
    return;
  }
  if (rows === 0) return;
  const g = asGpu(be);
  // Per-row loss terms, reduced deterministically into out[slot]; a 4-byte dummy stands in for gZ.
  const rowLoss = g.pool.acquire(rows * 4, 'itm.rowLoss');
  const dummy = gZ ? null : g.pool.acquire(4, 'itm.noGrad');
  recordItmRows(g, z, t, gZ ? gZ.buffer : (dummy as GPUBuffer), rowLoss, rows, cols, opts.gradScale, gZ !== null, accumulate, rowSplit(g.ctx.adapter.isSoftware));
  recordReduceSum(g, rowLoss, rows, out.buffer, slot, opts.lossScale, false);
  g.pool.release(rowLoss);
  if (dummy) g.pool.release(dummy);
}

/**
 * Record the per-row ITM kernel (row losses into `rowLoss`, gradient into `gZ` when hasGrad) with an explicit
 * layout (itmLoss picks `rowSplit(adapter is software)`); exported so that tests can run both layouts.
 */
export function recordItmRows(
  g: WebGpuBackend,
  z: Tensor,
  t: Tensor,
  gZ: GPUBuffer,
  rowLoss: GPUBuffer,
  rows: number,
  cols: number,
  gradScale: number,
  hasGrad: boolean,
  accumulate: boolean,
  split: RowSplit,
): void {
  const params = { rows, cols, grad_scale: gradScale, has_grad: hasGrad ? 1 : 0, beta: accumulate ? 1 : 0 };
  const maxDim = g.ctx.limits.maxComputeWorkgroupsPerDimension;
  // A 4-byte gZ stand-in cannot be bound as vec4 rows: the f32 layout then (it is never written).
  const vec4 = cols % 4 === 0 && cols > 0 && hasGrad;
  if (split === 'workgroup') {
    g.recorder.dispatch(itmKernel, [z.buffer, t.buffer, gZ, rowLoss], params, grid1d(rows, maxDim), { WG: rowWorkgroupSize(cols) });
    return;
  }
  g.recorder.dispatch(
    vec4 ? itmThreadKernels.vec4 : itmThreadKernels.f32,
    [z.buffer, t.buffer, gZ, rowLoss],
    { ...params, cols: vec4 ? cols / 4 : cols },
    grid1d(Math.ceil(rows / THREAD_WG), maxDim),
    { WG: THREAD_WG },
  );
}

/** CPU twin of `itm.wgsl` plus the reduction of its row losses. */
export function itmLossCpu(
  rows: number,
  cols: number,
  z: ArrayLike<number>,
  t: ArrayLike<number>,
  out: FloatArray,
  slot: number,
  lossScale: number,
  gradScale: number,
  gZ: FloatArray | null,
  accumulate: boolean,
): void {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let mz = -Infinity;
    let mt = -Infinity;
    for (let c = 0; c < cols; c++) {
      mz = Math.max(mz, z[base + c]);
      mt = Math.max(mt, t[base + c]);
    }
    let sz = 0;
    let st = 0;
    for (let c = 0; c < cols; c++) {
      sz += Math.exp(z[base + c] - mz);
      st += Math.exp(t[base + c] - mt);
    }
    const logSz = Math.log(sz);
    for (let c = 0; c < cols; c++) {
      const zc = z[base + c] - mz;
      const q = Math.exp(t[base + c] - mt) / st;
      total += q * (zc - logSz);
      if (gZ) {
        const v = gradScale * (Math.exp(zc) / sz - q);
        gZ[base + c] = accumulate ? gZ[base + c] + v : v;
      }
    }
  }
  out[slot] += lossScale * total;
}
