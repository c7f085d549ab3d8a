/**
 * Batch-row gather and scatter-add (`shaders/gather_rows.wgsl`, `shaders/scatter_add_rows.wgsl`): reading
 * the embedding rows of a mini-batch and adding their gradients back, repeated ids accumulating (spec §4).
 *
 * The scatter needs no atomics: `rowGroups` groups the batch positions by id on the host once per batch,
 * and the kernel runs one thread per (distinct row, column) that sums its positions and adds once.
 */
import gatherWgsl from '../../shaders/gather_rows.wgsl';
import scatterWgsl from '../../shaders/scatter_add_rows.wgsl';
import { IrllrecError } from '../errors.js';
import { Kernel, grid1d } from '../gpu/kernel.js';
import { type Backend, type FloatArray, type Tensor, asGpu, expectDtype, expectFinite, expectSameBackend, expectShape } from './tensor.js';

/** The batch ids of one mini-batch, grouped by id (built on the host by `rowGroups`). */
export interface RowGroups {
  /** u32 [B]: the batch ids in batch order (what `gatherRows` reads). */
  ids: Tensor;
  /** u32 [U]: the distinct ids, ascending. */
  unique: Tensor;
  /** u32 [U+1]: positions of unique[u] are positions[offsets[u] .. offsets[u+1]). */
  offsets: Tensor;
  /** u32 [B]: batch positions grouped by id, ascending within a group. */
  positions: Tensor;
  batch: number;
  uniqueCount: number;
  /** Rows of the table the ids index. */
  rows: number;
}

/** Host-side grouping of batch ids: distinct ids ascending, and each id's batch positions ascending. */
function groupIds(ids: Uint32Array, rows: number, label = 'ids'): { unique: Uint32Array; offsets: Uint32Array; positions: Uint32Array } {
  if (!Number.isInteger(rows) || rows < 0) throw new IrllrecError('range', `${label}: rows must be a non-negative integer, got ${rows}`);
  const batch = ids.length;
  for (let b = 0; b < batch; b++) {
    if (ids[b] >= rows) throw new IrllrecError('range', `${label}: ids[${b}] = ${ids[b]} is out of range (rows = ${rows})`);
  }
  const positions = new Uint32Array(batch);
  for (let b = 0; b < batch; b++) positions[b] = b;
  positions.sort((p, q) => ids[p] - ids[q] || p - q);
  let uniqueCount = 0;
  for (let k = 0; k < batch; k++) if (k === 0 || ids[positions[k]] !== ids[positions[k - 1]]) uniqueCount++;
  const unique = new Uint32Array(uniqueCount);
  const offsets = new Uint32Array(uniqueCount + 1);
  let u = -1;
  for (let k = 0; k < batch; k++) {
    if (k === 0 || ids[positions[k]] !== ids[positions[k - 1]]) {
      u++;
      unique[u] = ids[positions[k]];
      offsets[u] = k;
    }
  }
  offsets[uniqueCount] = batch;
  return { unique, offsets, positions };
}

/** Build the row groups of batch `ids` (repeats allowed) into a table of `rows` rows; validates every id < rows. */
export function rowGroups(be: Backend, ids: Uint32Array, rows: number, label = 'rowGroups'): RowGroups {
  const { unique, offsets, positions } = groupIds(ids, rows, label);
  return {
    ids: be.tensor(ids, [ids.length], 'u32', `${label}.ids`),
    unique: be.tensor(unique, [unique.length], 'u32', `${label}.unique`),
    offsets: be.tensor(offsets, [offsets.length], 'u32', `${label}.offsets`),
    positions: be.tensor(positions, [positions.length], 'u32', `${label}.positions`),
    batch: ids.length,
    uniqueCount: unique.length,
    rows,
  };
}

export function disposeRowGroups(g: RowGroups): void {
  g.ids.dispose();
  g.unique.dispose();
  g.offsets.dispose();
  g.positions.dispose();
}

const gatherKernel = new Kernel({
  name: 'gather_rows',
  code: gatherWgsl,
  storage: ['read', 'read', 'rw'],
  params: { batch: 'u32', d: 'u32', rows: 'u32' },
});
const scatterKernel = new Kernel({
  name: 'scatter_add_rows',
  code: scatterWgsl,
  storage: ['read', 'read', 'read', 'read', 'rw'],
  params: { unique_count: 'u32', d: 'u32', scale: 'f32' },
});
const WG = 256;

/** dst[b] = src[ids[b]] for src N×d, ids u32 [B], dst B×d. */
export function gatherRows(be: Backend, src: Tensor, ids: Tensor, dst: Tensor): void {
  const op = 'gatherRows';
  expectSameBackend(op, be, src, ids, dst);
  expectShape(op, 'src', src, [null, null]);
  expectDtype(op, 'src', src, 'f32');
  expectShape(op, 'ids', ids, [null]);
  expectDtype(op, 'ids', ids, 'u32');
  const [rows, d] = src.shape;
  const batch = ids.size;
  expectShape(op, 'dst', dst, [batch, d]);
  expectDtype(op, 'dst', dst, 'f32');
  if (src === dst) throw new IrllrecError('range', `${op}: src and dst must be different tensors`);
  if (be.kind === 'cpu') {
    gatherRowsCpu(rows, d, src.f, ids.u, dst.f);
    return;
  }
  const g = asGpu(be);
  g.recorder.dispatch(
    gatherKernel,
    [src.buffer, ids.buffer, dst.buffer],
    { batch, d, rows },
    grid1d(Math.ceil((batch * d) / WG), g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG },
  );
}

/** CPU twin of `gather_rows.wgsl` (throws on an out-of-range id, which the GPU turns into a zero row). */
export function gatherRowsCpu(rows: number, d: number, src: ArrayLike<number>, ids: Uint32Array, dst: FloatArray): void {
  for (let b = 0; b < ids.length; b++) {
    const id = ids[b];
    if (id >= rows) throw new IrllrecError('range', `gatherRows: ids[${b}] = ${id} is out of range (rows = ${rows})`);
    for (let c = 0; c < d; c++) dst[b * d + c] = src[id * d + c];
  }
}

/**
 * dst[ids[b]] += scale·src[b] for src B×d, dst N×d (N = groups.rows): repeated ids accumulate, rows not in
 * the batch are untouched. No atomics: one thread per (distinct row, column) sums its batch positions.
 */
export function scatterAddRows(be: Backend, src: Tensor, groups: RowGroups, dst: Tensor, opts: { scale?: number } = {}): void {
  const op = 'scatterAddRows';
  expectSameBackend(op, be, src, groups.ids, groups.unique, groups.offsets, groups.positions, dst);
  expectShape(op, 'src', src, [groups.batch, null]);
  expectDtype(op, 'src', src, 'f32');
  const d = src.shape[1];
  expectShape(op, 'dst', dst, [groups.rows, d]);
  expectDtype(op, 'dst', dst, 'f32');
  expectShape(op, 'groups.unique', groups.unique, [groups.uniqueCount]);
  expectShape(op, 'groups.offsets', groups.offsets, [groups.uniqueCount + 1]);
  expectShape(op, 'groups.positions', groups.positions, [groups.batch]);
  const scale = opts.scale ?? 1;
  expectFinite(op, 'scale', scale);
  if (src === dst) throw new IrllrecError('range', `${op}: src and dst must be different tensors`);
  if (be.kind === 'cpu') {
    scatterAddRowsCpu(d, src.f, groups.unique.u, groups.offsets.u, groups.positions.u, dst.f, scale);
    return;
  }
  const g = asGpu(be);
  g.recorder.dispatch(
    scatterKernel,
    [src.buffer, groups.unique.buffer, groups.offsets.buffer, groups.positions.buffer, dst.buffer],
    { unique_count: groups.uniqueCount, d, scale },
    grid1d(Math.ceil((groups.uniqueCount * d) / WG), g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG },
  );
}

/** CPU twin of `scatter_add_rows.wgsl` (same summation order). */
export function scatterAddRowsCpu(
  d: number,
  src: ArrayLike<number>,
  unique: Uint32Array,
  offsets: Uint32Array,
  positions: Uint32Array,
  dst: FloatArray,
  scale: number,
): void {
  for (let u = 0; u < unique.length; u++) {
    for (let c = 0; c < d; c++) {
      let s = 0;
      for (let k = offsets[u]; k < offsets[u + 1]; k++) s += src[positions[k] * d + c];
      dst[unique[u] * d + c] += scale * s;
    }
  }
}
