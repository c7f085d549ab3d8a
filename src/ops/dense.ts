/**
 * Dense linear algebra for the text MLPs (spec §5.1, §13.2): `f(x) = LeakyReLU_0.01(x·W1ᵀ + b1)·W2ᵀ + b2`
 * and its backward.
 *
 *   forward   H = X·W1ᵀ + b1        matmul(be, X, W1, H, { transB: true, bias: b1 })
 *             Aa = LeakyReLU(H)     leakyRelu(be, H, Aa)  (or fused: activation: 'leaky_relu')
 *             O = Aa·W2ᵀ + b2       matmul(be, Aa, W2, O, { transB: true, bias: b2 })
 *   backward  ∂W2 = gOᵀ·Aa          matmul(be, gO, Aa, dW2, { transA: true, accumulate: true })
 *             ∂b2 = Σ_rows gO       sumRows(be, gO, db2, { accumulate: true })
 *             gA = gO·W2            matmul(be, gO, W2, gA)
 *             gH = gA ⊙ LReLU'(H)   leakyReluBackward(be, H, gA, gH)
 *             ∂W1 = gHᵀ·X           matmul(be, gH, X, dW1, { transA: true, accumulate: true })
 *             ∂b1 = Σ_rows gH       sumRows(be, gH, db1, { accumulate: true })
 *
 * Kernels: `shaders/matmul.wgsl` (tiled GEMM, all four transpose combinations, fused bias / accumulate /
 * LeakyReLU epilogue; hardware GPUs), `shaders/matmul_lanes.wgsl` (the same GEMM laid out for CPU Vulkan,
 * where workgroup invocations are SIMD lanes: chosen when the adapter is a software one),
 * `shaders/matmul_f16.wgsl` (the same GEMM with operands read from packed f16: the
 * constant text tables X under `textPrecision: 'f16'`, in H = X·W1ᵀ and ∂W1 = gHᵀ·X; `shaders/matmul_lanes.wgsl` with `shaders/matmul_load_f16.wgsl`
 * on software adapters), `shaders/leaky_relu.wgsl`,
 * `shaders/sum_rows.wgsl`.
 */
import leakyReluWgsl from '../../shaders/leaky_relu.wgsl';
import matmulWgsl from '../../shaders/matmul.wgsl';
import matmulLanesWgsl from '../../shaders/matmul_lanes.wgsl';
import matmulLoadF16Wgsl from '../../shaders/matmul_load_f16.wgsl';
import matmulLoadF32Wgsl from '../../shaders/matmul_load_f32.wgsl';
import matmulF16Wgsl from '../../shaders/matmul_f16.wgsl';
import sumRowsWgsl from '../../shaders/sum_rows.wgsl';
import { IrllrecError } from '../errors.js';
import { Kernel, grid1d } from '../gpu/kernel.js';
import { packF16Rows, packedF16RowWords, unpackF16Rows } from '../util/f16.js';
import { type Backend, type FloatArray, type Tensor, asGpu, expectDtype, expectFinite, expectSameBackend, expectShape } from './tensor.js';

/** The LeakyReLU slope of the IRLLRec MLPs. */
export const LEAKY_RELU_SLOPE = 0.01;

export interface MatmulOptions {
  /** a is [K, M] and op(a) = aᵀ. */
  transA?: boolean;
  /** b is [N, K] (PyTorch weight layout) and op(b) = bᵀ. */
  transB?: boolean;
  /** [N], added to every row. */
  bias?: Tensor | null;
  activation?: 'none' | 'leaky_relu';
  /** LeakyReLU slope (default 0.01). */
  slope?: number;
  /** c += op(a)·op(b) (+ bias) instead of c = …; not combinable with an activation. */
  accumulate?: boolean;
}

/** Options of the CPU twin: host arrays instead of tensors. */
export interface MatmulCpuOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: ArrayLike<number> | null;
  activation?: 'none' | 'leaky_relu';
  slope?: number;
  accumulate?: boolean;
}

/**
 * A constant rows×cols matrix stored as packed IEEE binary16 halves: a u32 tensor [rows, ceil(cols/2)]
 * in the layout of `packF16Rows` (src/util/f16.ts), half the bytes of f32. Only `matmul` reads it (as
 * either operand, any transpose); the values are the round-to-nearest-even halves of the source, decoded
 * exactly to f32 by both backends. Used for the LLM text tables (`textPrecision: 'f16'`).
 */
export class PackedF16Matrix {
  readonly rows: number;
  readonly cols: number;
  /** u32 [rows, ceil(cols/2)]: two halves per word, low half = even column. */
  readonly words: Tensor;
  /** Wrap packed words (the layout of `packF16Rows`, padding halves +0); `packF16Matrix` builds one from values. */
  constructor(words: Tensor, rows: number, cols: number) {
    if (words.dtype !== 'u32' || words.shape.length !== 2 || words.shape[0] !== rows || words.shape[1] !== packedF16RowWords(cols)) {
      throw new IrllrecError('shape', `PackedF16Matrix: words ('${words.label}') must be u32 [${rows}, ${packedF16RowWords(cols)}] for a ${rows}×${cols} matrix, got ${words.dtype} [${words.shape.join(', ')}]`);
    }
    this.words = words;
    this.rows = rows;
    this.cols = cols;
  }
  get shape(): readonly [number, number] {
    return [this.rows, this.cols];
  }
  get label(): string {
    return this.words.label;
  }
  get backend(): Backend {
    return this.words.backend;
  }
  /** Bytes of storage (4·rows·ceil(cols/2)). */
  get byteLength(): number {
    return this.words.byteLength;
  }
  dispose(): void {
    this.words.dispose();
  }
}

/** Round `data` (row-major rows×cols) to f16 on the host and upload it packed. */
export function packF16Matrix(be: Backend, data: ArrayLike<number>, rows: number, cols: number, label = 'f16'): PackedF16Matrix {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0 || data.length < rows * cols) {
    throw new IrllrecError('shape', `packF16Matrix('${label}'): ${data.length} values cannot form a ${rows}×${cols} matrix`);
  }
  return new PackedF16Matrix(be.tensor(packF16Checked(data, rows, cols, label), [rows, packedF16RowWords(cols)], 'u32', label), rows, cols);
}

/**
 * `packF16Rows` that refuses values f16 cannot hold: a half with exponent field 31 is ±∞ or NaN (a non-finite
 * input, or |x| ≥ 65520, beyond f16's 65504). Rows are named from `firstRow` (a block of a larger matrix).
 */
export function packF16Checked(data: ArrayLike<number>, rows: number, cols: number, label: string, firstRow = 0): Uint32Array {
  const words = packF16Rows(data, rows, cols);
  const stride = packedF16RowWords(cols);
  for (let w = 0; w < words.length; w++) {
    const word = words[w];
    for (let h = 0; h < 2; h++) {
      if ((((word >>> (16 * h)) >>> 10) & 0x1f) === 0x1f) {
        const r = Math.floor(w / stride);
        const c = 2 * (w % stride) + h;
        throw new IrllrecError('range', `packF16Matrix('${label}'): value ${data[r * cols + c]} at row ${firstRow + r}, column ${c} is not representable in f16 (finite, |x| < 65520)`);
      }
    }
  }
  return words;
}

/** A matmul operand: an f32 tensor, or a packed f16 constant. */
export type MatmulOperand = Tensor | PackedF16Matrix;

const matmulKernel = new Kernel({
  name: 'matmul',
  code: matmulWgsl,
  storage: ['read', 'read', 'read', 'rw'],
  params: { m: 'u32', n: 'u32', k: 'u32', trans_a: 'u32', trans_b: 'u32', has_bias: 'u32', beta: 'u32', act: 'u32', slope: 'f32' },
});
const matmulF16Kernel = new Kernel({
  name: 'matmul_f16',
  code: matmulF16Wgsl,
  storage: ['read', 'read', 'read', 'rw'],
  params: { m: 'u32', n: 'u32', k: 'u32', trans_a: 'u32', trans_b: 'u32', has_bias: 'u32', beta: 'u32', act: 'u32', slope: 'f32', a_f16: 'u32', b_f16: 'u32' },
});
const matmulLanesKernel = new Kernel({
  name: 'matmul_lanes',
  // One GEMM body; the prefix says how its operands are read.
  code: `${matmulLoadF32Wgsl}\n${matmulLanesWgsl}`,
  storage: ['read', 'read', 'read', 'rw'],
  params: { m: 'u32', n: 'u32', k: 'u32', trans_a: 'u32', trans_b: 'u32', has_bias: 'u32', beta: 'u32', act: 'u32', slope: 'f32' },
});
const matmulLanesF16Kernel = new Kernel({
  name: 'matmul_lanes_f16',
  code: `${matmulLoadF16Wgsl}\n${matmulLanesWgsl}`,
  storage: ['read', 'read', 'read', 'rw'],
  params: { m: 'u32', n: 'u32', k: 'u32', trans_a: 'u32', trans_b: 'u32', has_bias: 'u32', beta: 'u32', act: 'u32', slope: 'f32', a_f16: 'u32', b_f16: 'u32' },
});
/** Columns per workgroup of `matmul_lanes.wgsl`. */
const MATMUL_LANES_COLS = 64;
/** Output tile of `matmul.wgsl` and `matmul_f16.wgsl`: rows × columns. */
const MATMUL_TILE_ROWS = 128;
const MATMUL_TILE_COLS = 64;

function expectMatrix(op: string, name: string, t: Tensor): void {
  if (t.shape.length !== 2) throw new IrllrecError('shape', `${op}: ${name} ('${t.label}') must be 2-D, got shape [${t.shape.join(', ')}]`);
  expectDtype(op, name, t, 'f32');
}

/** The tensor holding an operand's storage (for backend / disposal / aliasing checks). */
function storageOf(x: MatmulOperand): Tensor {
  return x instanceof PackedF16Matrix ? x.words : x;
}

/** An operand's values as a host array (CPU backend): packed halves decoded exactly. */
function hostValues(x: MatmulOperand): ArrayLike<number> {
  return x instanceof PackedF16Matrix ? unpackF16Rows(x.words.u, x.rows, x.cols) : x.f;
}

function slopeOf(op: string, slope: number | undefined): number {
  const s = slope ?? LEAKY_RELU_SLOPE;
  expectFinite(op, 'slope', s);
  return s;
}

/**
 * The GEMM layout that records a `matmul`: 'tiled' = `matmul.wgsl` / `matmul_f16.wgsl` (16×16 threads
 * sharing tiles in workgroup memory; hardware GPUs), 'lanes' = `matmul_lanes.wgsl` (f32 or packed-f16 loads)
 * (8- or 16-lane workgroups reading the shared operand at lane-uniform addresses; about 2× 'tiled' on
 * lavapipe at the text-MLP shapes). The `_f16` variant serves packed-f16 operands.
 */
export type MatmulKernelChoice = 'tiled' | 'lanes';

/** The layout `matmul` uses on an adapter: 'lanes' on software (CPU) adapters, else 'tiled'. */
export function matmulKernelFor(isSoftware: boolean): MatmulKernelChoice {
  return isSoftware ? 'lanes' : 'tiled';
}

/**
 * c[M×N] = act(op(a)·op(b) + bias); op(a) is a [M,K] (or aᵀ when a is [K,M] with transA), op(b) is [K,N]
 * (or bᵀ when b is [N,K] with transB). bias is [N] (broadcast over rows). accumulate: c += op(a)·op(b) (+ bias);
 * accumulate with activation is an error. c must be a tensor distinct from a, b and bias.
 * Either operand may be a `PackedF16Matrix` (read at 2 bytes per element by `matmul_f16.wgsl` or `matmul_lanes.wgsl` + `matmul_load_f16.wgsl`, decoded
 * exactly; the arithmetic stays f32), e.g. the text table X in H = X·W1ᵀ and ∂W1 = gHᵀ·X.
 */
export function matmul(be: Backend, a: MatmulOperand, b: MatmulOperand, c: Tensor, opts: MatmulOptions = {}): void {
  matmulWithKernel(be, a, b, c, opts, null);
}

/**
 * `matmul` with the GPU kernel layout forced (null: the adapter's default, `matmulKernelFor`); ignored on the
 * CPU backend. For tests and benchmarks that compare the kernels.
 */
export function matmulWithKernel(be: Backend, a: MatmulOperand, b: MatmulOperand, c: Tensor, opts: MatmulOptions, kernel: MatmulKernelChoice | null): void {
  const op = 'matmul';
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const bias = opts.bias ?? null;
  const activation = opts.activation ?? 'none';
  const accumulate = opts.accumulate ?? false;
  const aF16 = a instanceof PackedF16Matrix;
  const bF16 = b instanceof PackedF16Matrix;
  const aStore = storageOf(a);
  const bStore = storageOf(b);
  expectSameBackend(op, be, aStore, bStore, c, bias);
  if (!aF16) expectMatrix(op, 'a', a);
  if (!bF16) expectMatrix(op, 'b', b);
  expectMatrix(op, 'c', c);
  if (activation !== 'none' && activation !== 'leaky_relu') throw new IrllrecError('range', `${op}: unknown activation '${String(activation)}'`);
  if (accumulate && activation !== 'none') {
    throw new IrllrecError('range', `${op}: accumulate cannot be combined with activation '${activation}' (act(c + x) ≠ c + act(x))`);
  }
  const slope = slopeOf(op, opts.slope);
  const [m, k] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (kb !== k) {
    throw new IrllrecError(
      'shape',
      `${op}: inner dimensions differ: op(a) ('${a.label}'${transA ? 'ᵀ' : ''}) is ${m}×${k}, op(b) ('${b.label}'${transB ? 'ᵀ' : ''}) is ${kb}×${n}`,
    );
  }
  expectShape(op, 'c', c, [m, n]);
  if (bias) {
    expectShape(op, 'bias', bias, [n]);
    expectDtype(op, 'bias', bias, 'f32');
  }
  if (c === aStore || c === bStore || c === bias) throw new IrllrecError('range', `${op}: c ('${c.label}') must not be an input tensor`);

  if (be.kind === 'cpu') {
    matmulCpu(hostValues(a), hostValues(b), c.f, m, n, k, { transA, transB, bias: bias?.f ?? null, activation, slope, accumulate });
    return;
  }
  const g = asGpu(be);
  const params = { m, n, k, trans_a: transA ? 1 : 0, trans_b: transB ? 1 : 0, has_bias: bias ? 1 : 0, beta: accumulate ? 1 : 0, act: activation === 'leaky_relu' ? 1 : 0, slope };
  const buffers = [aStore.buffer, bStore.buffer, (bias ?? aStore).buffer, c.buffer];
  if (m === 0 || n === 0) return;
  const f16Params = { ...params, a_f16: aF16 ? 1 : 0, b_f16: bF16 ? 1 : 0 };
  if ((kernel ?? matmulKernelFor(g.ctx.adapter.isSoftware)) === 'lanes') {
    // WG lanes × RH rows per workgroup: 16 × 8 in general; 8 × 4 when M ≤ 32 (e.g. ∂W2 = gOᵀ·Aa, M = d),
    // where a 128-row block would mostly compute clamped duplicate rows.
    const [lanes, rowsPerLane] = m <= 32 ? [8, 4] : [16, 8];
    const blocks = Math.ceil(n / MATMUL_LANES_COLS) * Math.ceil(m / (lanes * rowsPerLane));
    const grid = grid1d(blocks, g.ctx.limits.maxComputeWorkgroupsPerDimension);
    const constants = { WG: lanes, RH: rowsPerLane };
    if (aF16 || bF16) g.recorder.dispatch(matmulLanesF16Kernel, buffers, f16Params, grid, constants);
    else g.recorder.dispatch(matmulLanesKernel, buffers, params, grid, constants);
    return;
  }
  const grid: [number, number, number] = [Math.ceil(n / MATMUL_TILE_COLS), Math.ceil(m / MATMUL_TILE_ROWS), 1];
  if (aF16 || bF16) g.recorder.dispatch(matmulF16Kernel, buffers, f16Params, grid);
  else g.recorder.dispatch(matmulKernel, buffers, params, grid);
}

/**
 * CPU twin of `matmul.wgsl` (and of `matmul_f16.wgsl`, given the decoded halves: `unpackF16Rows`) on
 * row-major host arrays: c[m×n] = act(op(a)·op(b) + bias) (or c += …).
 * Each output row is accumulated in float64 and stored once. Non-transposed b uses the i-k-j order (rows
 * of b streamed contiguously); transposed b uses dot products of contiguous rows of op(a) and b.
 */
export function matmulCpu(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  c: FloatArray,
  m: number,
  n: number,
  k: number,
  opts: MatmulCpuOptions = {},
): void {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const bias = opts.bias ?? null;
  const leaky = (opts.activation ?? 'none') === 'leaky_relu';
  const slope = opts.slope ?? LEAKY_RELU_SLOPE;
  const accumulate = opts.accumulate ?? false;
  const row = new Float64Array(n);
  const aRow = new Float64Array(k); // op(a)[i, :]
  for (let i = 0; i < m; i++) {
    if (transA) for (let p = 0; p < k; p++) aRow[p] = a[p * m + i];
    else for (let p = 0, base = i * k; p < k; p++) aRow[p] = a[base + p];
    if (transB) {
      // row[j] = Σ_p op(a)[i, p] · b[j, p]
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0, bj = j * k; p < k; p++) s += aRow[p] * b[bj + p];
        row[j] = s;
      }
    } else {
      row.fill(0);
      for (let p = 0; p < k; p++) {
        const aip = aRow[p];
        for (let j = 0, bp = p * n; j < n; j++) row[j] += aip * b[bp + j];
      }
    }
    const ci = i * n;
    for (let j = 0; j < n; j++) {
      let v = row[j];
      if (bias) v += bias[j];
      if (accumulate) v = c[ci + j] + v;
      if (leaky && v < 0) v *= slope;
      c[ci + j] = v;
    }
  }
}

const leakyReluKernel = new Kernel({
  name: 'leaky_relu',
  code: leakyReluWgsl,
  storage: ['read', 'read', 'rw'],
  params: { count: 'u32', mode: 'u32', g_is_out: 'u32', beta: 'u32', slope: 'f32' },
});
const ELEMENTWISE_WG = 256;

function expectSameShape(op: string, name: string, t: Tensor, like: Tensor): void {
  expectShape(op, name, t, like.shape);
  expectDtype(op, name, t, 'f32');
}

/** y = x > 0 ? x : slope·x (element-wise, any shape; y must be a tensor distinct from x). */
export function leakyRelu(be: Backend, x: Tensor, y: Tensor, opts: { slope?: number } = {}): void {
  const op = 'leakyRelu';
  expectSameBackend(op, be, x, y);
  expectDtype(op, 'x', x, 'f32');
  expectSameShape(op, 'y', y, x);
  const slope = slopeOf(op, opts.slope);
  if (x === y) throw new IrllrecError('range', `${op}: y must be a different tensor than x (or fuse the activation into matmul)`);
  if (be.kind === 'cpu') {
    leakyReluCpu(x.f, y.f, slope);
    return;
  }
  const g = asGpu(be);
  g.recorder.dispatch(
    leakyReluKernel,
    [x.buffer, x.buffer, y.buffer],
    { count: x.size, mode: 0, g_is_out: 0, beta: 0, slope },
    grid1d(Math.ceil(x.size / ELEMENTWISE_WG), g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG: ELEMENTWISE_WG },
  );
}

/** CPU twin of the forward mode of `leaky_relu.wgsl`. */
export function leakyReluCpu(x: ArrayLike<number>, y: FloatArray, slope = LEAKY_RELU_SLOPE): void {
  for (let t = 0; t < y.length; t++) {
    const v = x[t];
    y[t] = v > 0 ? v : slope * v;
  }
}

/**
 * gIn = gOut ⊙ (h > 0 ? 1 : slope) (derivative at exactly 0 is slope); accumulate → gIn += ….
 * h may be the pre-activation H or, for slope > 0, the activation LeakyReLU(H) (same sign). gIn may be gOut
 * (in place), but not h.
 */
export function leakyReluBackward(be: Backend, h: Tensor, gOut: Tensor, gIn: Tensor, opts: { slope?: number; accumulate?: boolean } = {}): void {
  const op = 'leakyReluBackward';
  expectSameBackend(op, be, h, gOut, gIn);
  expectDtype(op, 'h', h, 'f32');
  expectSameShape(op, 'gOut', gOut, h);
  expectSameShape(op, 'gIn', gIn, h);
  const slope = slopeOf(op, opts.slope);
  const accumulate = opts.accumulate ?? false;
  if (gIn === h) throw new IrllrecError('range', `${op}: gIn must not be h ('${h.label}')`);
  if (be.kind === 'cpu') {
    leakyReluBackwardCpu(h.f, gOut.f, gIn.f, slope, accumulate);
    return;
  }
  const g = asGpu(be);
  const inPlace = gIn === gOut;
  g.recorder.dispatch(
    leakyReluKernel,
    [h.buffer, inPlace ? h.buffer : gOut.buffer, gIn.buffer],
    { count: h.size, mode: 1, g_is_out: inPlace ? 1 : 0, beta: accumulate ? 1 : 0, slope },
    grid1d(Math.ceil(h.size / ELEMENTWISE_WG), g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG: ELEMENTWISE_WG },
  );
}

/** CPU twin of the backward mode of `leaky_relu.wgsl` (gIn may alias gOut). */
export function leakyReluBackwardCpu(h: ArrayLike<number>, gOut: ArrayLike<number>, gIn: FloatArray, slope = LEAKY_RELU_SLOPE, accumulate = false): void {
  for (let t = 0; t < gIn.length; t++) {
    const v = gOut[t] * (h[t] > 0 ? 1 : slope);
    gIn[t] = accumulate ? gIn[t] + v : v;
  }
}

const sumRowsKernel = new Kernel({
  name: 'sum_rows',
  code: sumRowsWgsl,
  storage: ['read', 'rw'],
  params: { rows: 'u32', cols: 'u32', beta: 'u32', scale: 'f32' },
});
/** Columns per workgroup of `sum_rows.wgsl`. */
const SUM_ROWS_COLS = 16;

/** out[c] = scale·Σ_r x[r,c] (bias gradients); x [R×C], out [C]; accumulate → out += …. */
export function sumRows(be: Backend, x: Tensor, out: Tensor, opts: { scale?: number; accumulate?: boolean } = {}): void {
  const op = 'sumRows';
  expectSameBackend(op, be, x, out);
  expectMatrix(op, 'x', x);
  const [rows, cols] = x.shape;
  expectShape(op, 'out', out, [cols]);
  expectDtype(op, 'out', out, 'f32');
  const scale = opts.scale ?? 1;
  expectFinite(op, 'scale', scale);
  const accumulate = opts.accumulate ?? false;
  if (be.kind === 'cpu') {
    sumRowsCpu(x.f, out.f, rows, cols, scale, accumulate);
    return;
  }
  const g = asGpu(be);
  g.recorder.dispatch(
    sumRowsKernel,
    [x.buffer, out.buffer],
    { rows, cols, beta: accumulate ? 1 : 0, scale },
    grid1d(Math.ceil(cols / SUM_ROWS_COLS), g.ctx.limits.maxComputeWorkgroupsPerDimension),
  );
}

/** CPU twin of `sum_rows.wgsl` (sums in float64). */
export function sumRowsCpu(x: ArrayLike<number>, out: FloatArray, rows: number, cols: number, scale = 1, accumulate = false): void {
  const s = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0, base = r * cols; c < cols; c++) s[c] += x[base + c];
  }
  for (let c = 0; c < cols; c++) out[c] = accumulate ? out[c] + scale * s[c] : scale * s[c];
}
