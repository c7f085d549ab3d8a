/**
 * CSR sparse × dense products (`shaders/spmm.wgsl`): LightGCN propagation `E_{l+1} = Â·E_l`, the
 * intent-weighted aggregation `Y_l = Ĝ_l·E_l`, and their transposes through the reverse-edge index.
 */
import spmmWgsl from '../../shaders/spmm.wgsl';
import { IrllrecError } from '../errors.js';
import { Kernel, grid1d } from '../gpu/kernel.js';
import { type Backend, type Tensor, asGpu, expectDtype, expectSameBackend, expectShape } from './tensor.js';

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

const kernel = new Kernel({
  name: 'spmm',
  code: spmmWgsl,
  storage: ['read', 'read', 'read', 'read', 'read', 'rw'],
  params: { rows: 'u32', d: 'u32', has_values: 'u32', has_index: 'u32', beta: 'u32' },
});
const WG = 256;

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
  const total = a.rows * d;
  g.recorder.dispatch(
    kernel,
    [a.rowPtr.buffer, a.colIdx.buffer, (values ?? x).buffer, (valueIndex ?? a.colIdx).buffer, x.buffer, y.buffer],
    { rows: a.rows, d, has_values: values ? 1 : 0, has_index: valueIndex ? 1 : 0, beta: opts.accumulate ? 1 : 0 },
    grid1d(Math.ceil(total / WG), g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG },
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
