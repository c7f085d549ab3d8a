/**
 * CSR sparse × dense products (`shaders/spmm.wgsl`): LightGCN propagation `E_{l+1} = Â·E_l`, the
 * intent-weighted aggregation `Y_l = Ĝ_l·E_l`, and their transposes through the reverse-edge index.
 */
import spmmWgsl from '../../shaders/spmm.wgsl';
import { IrllrecError } from '../errors.js';
import { Kernel, grid1d } from '../gpu/kernel.js';
import { type Backend, type Tensor, type WebGpuBackend, asGpu, expectDtype, expectSameBackend, expectShape } from './tensor.js';

/** A sparse matrix in CSR form; `values` null means all ones. */
export interface Csr {
  rows: number;
  cols: number;
  nnz: number;
  rowPtr: Tensor; // u32 [rows + 1]
  colIdx: Tensor; // u32 [nnz]
  values: Tensor | null; // f32 [nnz]
}

/** Host-side CSR arrays (what loaders build). */
export interface CsrArrays {
  rows: number;
  cols: number;
  rowPtr: Uint32Array;
  colIdx: Uint32Array;
  values?: Float32Array | Float64Array | null;
}

/** Validate host CSR arrays: monotone row pointers, column ids in range, finite values. */
export function validateCsr(a: CsrArrays, where = 'csr'): void {
  const { rows, cols, rowPtr, colIdx, values } = a;
  if (rowPtr.length !== rows + 1) throw new IrllrecError('shape', `${where}: rowPtr has ${rowPtr.length} entries, expected rows + 1 = ${rows + 1}`);
  if (rowPtr[0] !== 0) throw new IrllrecError('range', `${where}: rowPtr[0] must be 0, got ${rowPtr[0]}`);
  for (let r = 0; r < rows; r++) {
    if (rowPtr[r + 1] < rowPtr[r]) throw new IrllrecError('range', `${where}: rowPtr decreases at row ${r} (${rowPtr[r]} > ${rowPtr[r + 1]})`);
  }
  const nnz = rowPtr[rows];
  if (colIdx.length !== nnz) throw new IrllrecError('shape', `${where}: colIdx has ${colIdx.length} entries, rowPtr says ${nnz}`);
  for (let e = 0; e < nnz; e++) {
    if (colIdx[e] >= cols) throw new IrllrecError('range', `${where}: colIdx[${e}] = ${colIdx[e]} is out of range (cols = ${cols})`);
  }
  if (values) {
    if (values.length !== nnz) throw new IrllrecError('shape', `${where}: values has ${values.length} entries, expected nnz = ${nnz}`);
    for (let e = 0; e < nnz; e++) {
      if (!Number.isFinite(values[e])) throw new IrllrecError('nonfinite', `${where}: values[${e}] is ${values[e]}`);
    }
  }
}

/** Upload validated host CSR arrays to `be`. */
export function csrTensor(be: Backend, a: CsrArrays, label = 'csr'): Csr {
  validateCsr(a, label);
  const nnz = a.rowPtr[a.rows];
  return {
    rows: a.rows,
    cols: a.cols,
    nnz,
    rowPtr: be.tensor(a.rowPtr, [a.rows + 1], 'u32', `${label}.rowPtr`),
    colIdx: be.tensor(a.colIdx, [nnz], 'u32', `${label}.colIdx`),
    values: a.values ? be.tensor(a.values, [nnz], 'f32', `${label}.values`) : null,
  };
}

export function disposeCsr(a: Csr): void {
  a.rowPtr.dispose();
  a.colIdx.dispose();
  a.values?.dispose();
}

export interface SpmmOptions {
  /** Per-edge values to use instead of `a.values` (e.g. the adaptive weights G, or Â with a dropout mask). */
  values?: Tensor | null;
  /** Read edge e's value at `values[valueIndex[e]]` (the reverse-edge index gives the transpose). */
  valueIndex?: Tensor | null;
  /** Y += A·X instead of Y = A·X. */
  accumulate?: boolean;
}

const SPMM_PARAMS = { rows: 'u32', w: 'u32', tpr: 'u32' } as const;
/** The kernel over rows of `vec4<f32>` (d % 4 == 0) or of `f32` elements (see the header of spmm.wgsl). */
function spmmKernel(element: 'vec4<f32>' | 'f32'): Kernel<typeof SPMM_PARAMS> {
  return new Kernel({
    name: 'spmm', // one name for both element types: profiles (--profile) group the propagation under 'spmm'
    code: `alias XT = ${element};\n${spmmWgsl}`,
    storage: ['read', 'read', 'read', 'read', 'read', 'rw'],
    params: SPMM_PARAMS,
  });
}
const scalarKernel = spmmKernel('f32');
const vec4Kernel = spmmKernel('vec4<f32>');
/** MAX_CHUNKS in spmm.wgsl. */
const MAX_CHUNKS = 8;

/**
 * How the GPU kernel splits Y (rows × d): `vec4` rows are w = d/4 vec4 elements (else w = d floats), and each
 * invocation accumulates `chunks` elements of one row, strided by tpr = ceil(w / chunks) invocations per row.
 */
export interface SpmmPlan {
  vec4: boolean;
  chunks: number;
  workgroup: number;
}

/**
 * The split for row width d on a hardware GPU or a software adapter (lavapipe, SwiftShader).
 *
 * Hardware: one invocation per output element (chunks = 1): a warp reads consecutive elements of each
 * gathered row (coalesced) and there are rows·w invocations to hide latency with.
 * Software: the emulator runs invocations as SIMD lanes on the CPU and pays the per-invocation work (row
 * bounds, colIdx and value loads, loop control) per lane, so one invocation per row (up to 8 elements, i.e.
 * 32 floats for vec4 rows) amortises it over the row. On lavapipe at N = 20,332, d = 32 (amazon) that took
 * ~1.7× less CPU time than one invocation per output vec4 and ~3.4× less than one per output float, despite
 * SIMD lanes idling on shorter rows (8 consecutive amazon rows' maximum degree is 2.3× their mean; a CSR
 * whose rows are stored in degree order ran ~1.3× faster, an order applied through an index array did not).
 */
export function spmmPlan(d: number, software: boolean): SpmmPlan {
  const vec4 = d % 4 === 0 && d > 0;
  const w = vec4 ? d / 4 : d;
  if (!software) return { vec4, chunks: 1, workgroup: 256 };
  return { vec4, chunks: Math.max(1, Math.min(w, MAX_CHUNKS)), workgroup: 32 };
}

/** Y = A·X (or Y += A·X). X is `a.cols × d`, Y is `a.rows × d`. */
export function spmm(be: Backend, a: Csr, x: Tensor, y: Tensor, opts: SpmmOptions = {}): void {
  const op = 'spmm';
  const values = opts.values !== undefined ? opts.values : a.values;
  const valueIndex = opts.valueIndex ?? null;
  expectSameBackend(op, be, a.rowPtr, a.colIdx, values, valueIndex, x, y);
  expectShape(op, 'x', x, [a.cols, null]);
  const d = x.cols;
  expectShape(op, 'y', y, [a.rows, d]);
  expectDtype(op, 'x', x, 'f32');
  expectDtype(op, 'y', y, 'f32');
  if (values) expectShape(op, 'values', values, [valueIndex ? null : a.nnz]);
  if (valueIndex) {
    if (!values) throw new IrllrecError('range', `${op}: valueIndex given without values`);
    expectShape(op, 'valueIndex', valueIndex, [a.nnz]);
    expectDtype(op, 'valueIndex', valueIndex, 'u32');
  }
  if (x === y) throw new IrllrecError('range', `${op}: x and y must be different tensors`);

  if (be.kind === 'cpu') {
    spmmCpu(a.rows, d, a.rowPtr.u, a.colIdx.u, values?.f ?? null, valueIndex?.u ?? null, x.f, y.f, opts.accumulate ?? false);
    return;
  }
  const g = asGpu(be);
  recordSpmm(g, a, values, valueIndex, x, y, opts.accumulate ?? false, spmmPlan(d, g.ctx.adapter.isSoftware));
}

/**
 * Record Y (+)= A·X with an explicit work split (spmm() picks `spmmPlan(d, adapter is software)`); arguments
 * as validated by spmm(). Exported so that tests can run every split on any adapter.
 */
export function recordSpmm(
  g: WebGpuBackend,
  a: Csr,
  values: Tensor | null,
  valueIndex: Tensor | null,
  x: Tensor,
  y: Tensor,
  accumulate: boolean,
  plan: SpmmPlan,
): void {
  const d = x.cols;
  if (a.rows === 0 || d === 0) return;
  // vec4 bindings need ≥ 16-byte buffers: X of a matrix without columns (cols = 0) is a 4-byte stand-in.
  const vec4 = plan.vec4 && d % 4 === 0 && a.cols > 0;
  const w = vec4 ? d / 4 : d;
  const chunks = Math.max(1, Math.min(plan.chunks, w, MAX_CHUNKS));
  const tpr = Math.ceil(w / chunks);
  g.recorder.dispatch(
    vec4 ? vec4Kernel : scalarKernel,
    [a.rowPtr.buffer, a.colIdx.buffer, (values ?? x).buffer, (valueIndex ?? a.colIdx).buffer, x.buffer, y.buffer],
    { rows: a.rows, w, tpr },
    grid1d(Math.ceil((a.rows * tpr) / plan.workgroup), g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG: plan.workgroup, CHUNKS: chunks, HAS_VALUES: values ? 1 : 0, HAS_INDEX: valueIndex ? 1 : 0, BETA: accumulate ? 1 : 0 },
  );
}

/** CPU twin of `spmm.wgsl`. */
export function spmmCpu(
  rows: number,
  d: number,
  rowPtr: Uint32Array,
  colIdx: Uint32Array,
  values: ArrayLike<number> | null,
  valueIndex: Uint32Array | null,
  x: ArrayLike<number>,
  y: Float32Array | Float64Array,
  accumulate: boolean,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * d;
    if (!accumulate) for (let c = 0; c < d; c++) y[base + c] = 0;
    for (let e = rowPtr[r]; e < rowPtr[r + 1]; e++) {
      const v = values ? values[valueIndex ? valueIndex[e] : e] : 1;
      const src = colIdx[e] * d;
      for (let c = 0; c < d; c++) y[base + c] += v * x[src + c];
    }
  }
}
