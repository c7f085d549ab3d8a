/**
 * Per-row top-k selection for evaluation (spec §8) and serving. k ≤ TOPK_FAST_MAX_K (100): `shaders/topk.wgsl`
 * (per-thread register lists of 8, one bitonic sort of their union in workgroup memory, and an exact threshold
 * rescan when a list may have dropped a winner); larger k up to TOPK_MAX_K (1,024): `shaders/topk_large.wgsl`
 * (radix selection on (score, column) keys, a few passes over the row, then one sort of the winners).
 *
 * Order: higher score first; equal scores → lower column id first (the spec's tie rule). NaN counts as −∞.
 * Masking: the columns listed in row r of `exclude` (values ignored; any order, duplicates allowed) get
 * `maskValue` (default −1e8, the spec's s·(1−m) − 1e8·m) and still compete, or with `dropMasked` are removed;
 * a row with fewer than k remaining columns is padded with id 0xFFFFFFFF and value −∞.
 * `scoreTopK` computes the scores U_r·I_c inside the kernel, so the R×n matrix is never stored.
 */
import topkWgsl from '../../shaders/topk.wgsl';
import commonWgsl from '../../shaders/topk_common.wgsl';
import fusedWgsl from '../../shaders/topk_fused.wgsl';
import fused4Wgsl from '../../shaders/topk_fused4.wgsl';
import largeWgsl from '../../shaders/topk_large.wgsl';
import scoresWgsl from '../../shaders/topk_scores.wgsl';
import scores4Wgsl from '../../shaders/topk_scores4.wgsl';
import { IrllrecError } from '../errors.js';
import { Kernel, grid1d } from '../gpu/kernel.js';
import { matmul } from './dense.js';
import type { Csr } from './spmm.js';
import { type Backend, type FloatArray, type Tensor, asGpu, expectDtype, expectSameBackend, expectShape } from './tensor.js';

export interface TopKOptions {
  /** Per row, column ids to mask (values ignored). rows = R, cols = n. */
  exclude?: Csr | null;
  /** Score given to masked entries (default −1e8); they still compete unless `dropMasked`. */
  maskValue?: number;
  /** Remove masked entries instead of re-scoring them (serving: never recommend seen items). */
  dropMasked?: boolean;
}

/** Id written for padding when fewer than k columns survive `dropMasked`. */
export const TOPK_NONE = 0xffffffff;
/** Largest k of the fast kernel (it keeps k entries of a 256-entry candidate buffer and needs room for a chunk). */
export const TOPK_FAST_MAX_K = 100;
/** Largest supported k (the large-k kernel sorts at most 1,024 winners in workgroup memory). */
export const TOPK_MAX_K = 1024;
const DEFAULT_MASK = -1e8;
/** Largest k served by the 16-thread variant of the kernel (its buffer holds 128 entries). */
const TOPK_SMALL_K = 24;

const TOPK_PARAMS = {
  row0: 'u32',
  rows: 'u32',
  n: 'u32',
  k: 'u32',
  d: 'u32',
  has_exclude: 'u32',
  drop_masked: 'u32',
  mask_value: 'f32',
  neg_inf: 'f32',
} as const;
const TOPK_STORAGE = ['read', 'read', 'read', 'read', 'read', 'rw', 'rw'] as const;
/** The selection core with one of its score preludes: a score matrix (any n; vec4 rows when n % 4 = 0), fused dots (any d; vec4 rows when d % 4 = 0). */
const kernels = {
  scores: new Kernel({ name: 'topk', code: `${scoresWgsl}\n${commonWgsl}\n${topkWgsl}`, storage: [...TOPK_STORAGE], params: TOPK_PARAMS }),
  scores4: new Kernel({ name: 'topk4', code: `${scores4Wgsl}\n${commonWgsl}\n${topkWgsl}`, storage: [...TOPK_STORAGE], params: TOPK_PARAMS }),
  fused: new Kernel({ name: 'topk_fused', code: `${fusedWgsl}\n${commonWgsl}\n${topkWgsl}`, storage: [...TOPK_STORAGE], params: TOPK_PARAMS }),
  fused4: new Kernel({ name: 'topk_fused4', code: `${fused4Wgsl}\n${commonWgsl}\n${topkWgsl}`, storage: [...TOPK_STORAGE], params: TOPK_PARAMS }),
};
/** The same preludes with the large-k selection core (k > TOPK_FAST_MAX_K). */
const largeKernels = {
  scores: new Kernel({ name: 'topk_large', code: `${scoresWgsl}\n${commonWgsl}\n${largeWgsl}`, storage: [...TOPK_STORAGE], params: TOPK_PARAMS }),
  scores4: new Kernel({ name: 'topk_large4', code: `${scores4Wgsl}\n${commonWgsl}\n${largeWgsl}`, storage: [...TOPK_STORAGE], params: TOPK_PARAMS }),
  fused: new Kernel({ name: 'topk_large_fused', code: `${fusedWgsl}\n${commonWgsl}\n${largeWgsl}`, storage: [...TOPK_STORAGE], params: TOPK_PARAMS }),
  fused4: new Kernel({ name: 'topk_large_fused4', code: `${fused4Wgsl}\n${commonWgsl}\n${largeWgsl}`, storage: [...TOPK_STORAGE], params: TOPK_PARAMS }),
};

interface Checked {
  rows: number;
  n: number;
  exclude: Csr | null;
  maskValue: number;
  dropMasked: boolean;
}

function check(op: string, be: Backend, rows: number, n: number, k: number, ids: Tensor, values: Tensor, opts: TopKOptions): Checked {
  const exclude = opts.exclude ?? null;
  expectSameBackend(op, be, ids, values, exclude?.rowPtr, exclude?.colIdx);
  if (!Number.isInteger(k) || k < 1 || k > TOPK_MAX_K) {
    throw new IrllrecError('range', `${op}: k must be an integer in [1, ${TOPK_MAX_K}], got ${k}`);
  }
  if (k > n) throw new IrllrecError('range', `${op}: k = ${k} exceeds the number of columns n = ${n}`);
  expectShape(op, 'ids', ids, [rows, k]);
  expectDtype(op, 'ids', ids, 'u32');
  expectShape(op, 'values', values, [rows, k]);
  expectDtype(op, 'values', values, 'f32');
  if (exclude) {
    if (exclude.rows !== rows || exclude.cols !== n) {
      throw new IrllrecError('shape', `${op}: exclude is ${exclude.rows}×${exclude.cols}, expected ${rows}×${n} (rows × columns of the scores)`);
    }
    expectShape(op, 'exclude.rowPtr', exclude.rowPtr, [rows + 1]);
    expectDtype(op, 'exclude.rowPtr', exclude.rowPtr, 'u32');
    expectShape(op, 'exclude.colIdx', exclude.colIdx, [exclude.nnz]);
    expectDtype(op, 'exclude.colIdx', exclude.colIdx, 'u32');
  }
  const maskValue = opts.maskValue ?? DEFAULT_MASK;
  if (typeof maskValue !== 'number' || Number.isNaN(maskValue)) throw new IrllrecError('nonfinite', `${op}: maskValue must be a number, got ${maskValue}`);
  return { rows, n, exclude, maskValue, dropMasked: opts.dropMasked ?? false };
}

/** Per row of scores [R×n], the k largest in descending order (ties → lower column id); ids [R×k] u32, values [R×k] f32. */
export function topK(be: Backend, scores: Tensor, k: number, ids: Tensor, values: Tensor, opts: TopKOptions = {}): void {
  const op = 'topK';
  expectSameBackend(op, be, scores);
  expectShape(op, 'scores', scores, [null, null]);
  expectDtype(op, 'scores', scores, 'f32');
  const c = check(op, be, scores.rows, scores.cols, k, ids, values, opts);
  noAlias(op, ids, values, scores);
  if (c.rows === 0) return;
  if (be.kind === 'cpu') {
    const s = scores.f;
    const n = c.n;
    topKCpu(c.rows, n, k, (r, col) => s[r * n + col], ids.u, values.f, cpuExclude(c.exclude), c.maskValue, c.dropMasked);
    return;
  }
  dispatch(be, c, k, false, 0, scores, scores, scores, ids, values);
}

/** Fused: scores of users [R×d] against items [n×d] (dot products) + topK, never materialising R×n. */
export function scoreTopK(be: Backend, users: Tensor, items: Tensor, k: number, ids: Tensor, values: Tensor, opts: TopKOptions = {}): void {
  const op = 'scoreTopK';
  expectSameBackend(op, be, users, items);
  expectShape(op, 'users', users, [null, null]);
  const d = users.cols;
  expectShape(op, 'items', items, [null, d]);
  expectDtype(op, 'users', users, 'f32');
  expectDtype(op, 'items', items, 'f32');
  const c = check(op, be, users.rows, items.rows, k, ids, values, opts);
  noAlias(op, ids, values, users, items);
  if (c.rows === 0) return;
  if (be.kind === 'cpu') {
    const u = users.f;
    const it = items.f;
    topKCpu(
      c.rows,
      c.n,
      k,
      (r, col) => {
        let s = 0;
        for (let t = 0; t < d; t++) s += u[r * d + t] * it[col * d + t];
        return s;
      },
      ids.u,
      values.f,
      cpuExclude(c.exclude),
      c.maskValue,
      c.dropMasked,
    );
    return;
  }
  dispatch(be, c, k, true, d, users, users, items, ids, values);
}

/** How `scoreTopKAuto` computes the scores: see there. */
export type ScoreTopKPath = 'auto' | 'fused' | 'matmul';

export interface ScoreTopKAutoOptions extends TopKOptions {
  /** 'fused': `scoreTopK`; 'matmul': score blocks by the tiled GEMM, then `topK` on each; 'auto' (default): fused below `FUSED_BELOW_ROWS` rows, matmul otherwise. */
  path?: ScoreTopKPath;
  /** Largest score block in bytes (default 32 MiB, capped by the device's binding limit). */
  blockBytes?: number;
}

/**
 * Below this many rows 'auto' uses the fused kernel. Measured on lavapipe (9,332 items, d = 32, k = 20, masked,
 * medians of interleaved runs): the GEMM costs 20–30 ms even for one row (its tiles are mostly idle) and about
 * 0.3 ms per row at 1,000 rows; the fused kernel reloads every item row for each user. Fused vs GEMM + topK:
 * 16 rows 16 vs 29 ms, 32 rows 22 vs 34 ms, 64 rows 45 vs 43 ms, 1,000 rows 778 vs 480 ms.
 */
export const FUSED_BELOW_ROWS = 64;
const DEFAULT_BLOCK_BYTES = 32 * 1024 * 1024;

/** The device's largest storage binding (bytes); unbounded on the CPU backend. */
function bindingBytes(be: Backend): number {
  if (be.kind !== 'webgpu') return Infinity;
  const lim = asGpu(be).ctx.limits;
  return Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
}

/**
 * Score-block bytes for ranking many queries against `n` candidates (serving): 32 MiB, raised to hold
 * `FUSED_BELOW_ROWS` rows when the rows are long, and never more than the device's binding limit — with a
 * 128 MiB limit and 10⁶ items, blocks of 33 rows instead of 8. A GEMM over a few rows of a big catalogue costs
 * nearly what a full tile of rows costs (lavapipe, 10⁶ items, d = 32: 1.4 s for 1 row, 1.6 s for 8, 2.9 s for 32).
 */
export function servingBlockBytes(be: Backend, n: number): number {
  return Math.min(bindingBytes(be), Math.max(DEFAULT_BLOCK_BYTES, FUSED_BELOW_ROWS * 4 * n));
}

/**
 * `scoreTopK` semantics (scores U_r·I_c, then the per-row top k with the same masking, order and padding), by
 * the faster route for the row count: the fused kernel, or the tiled GEMM writing blocks of at most
 * `blockBytes` of scores (rows r0 … of the block) and the selection kernel on each block. Values may differ
 * from `scoreTopK`'s in the last f32 bits (another summation order), and ids where two scores are that close.
 */
export function scoreTopKAuto(be: Backend, users: Tensor, items: Tensor, k: number, ids: Tensor, values: Tensor, opts: ScoreTopKAutoOptions = {}): void {
  const op = 'scoreTopKAuto';
  const path = opts.path ?? 'auto';
  if (path !== 'auto' && path !== 'fused' && path !== 'matmul') throw new IrllrecError('range', `${op}: path must be 'auto', 'fused' or 'matmul', got '${String(path)}'`);
  const R = users.rows;
  const n = items.rows;
  let limit = opts.blockBytes ?? DEFAULT_BLOCK_BYTES;
  if (!(limit > 0)) throw new IrllrecError('range', `${op}: blockBytes must be positive, got ${limit}`);
  limit = Math.min(limit, bindingBytes(be));
  const fused = be.kind === 'cpu' || path === 'fused' || (path === 'auto' && R < FUSED_BELOW_ROWS) || 4 * n > limit;
  if (fused) {
    scoreTopK(be, users, items, k, ids, values, opts);
    return;
  }
  expectSameBackend(op, be, users, items);
  expectShape(op, 'users', users, [null, null]);
  const d = users.cols;
  expectShape(op, 'items', items, [null, d]);
  expectDtype(op, 'users', users, 'f32');
  expectDtype(op, 'items', items, 'f32');
  const c = check(op, be, R, n, k, ids, values, opts);
  noAlias(op, ids, values, users, items);
  if (R === 0) return;
  const blockRows = Math.max(1, Math.min(R, Math.floor(limit / (4 * n))));
  // Pooled buffers released here are reused only by later recorded work, which runs after these dispatches.
  let block: Tensor | null = null;
  let userBlock: Tensor | null = null;
  try {
    for (let r0 = 0; r0 < R; r0 += blockRows) {
      const rows = Math.min(blockRows, R - r0);
      if (!block || block.rows !== rows) {
        block?.dispose();
        userBlock?.dispose();
        // zeros() clears them although the copy / the GEMM overwrite them (the Backend has no uninitialised
        // allocation); on lavapipe the clear of a 32 MiB block is a few ms against the GEMM's hundreds.
        block = be.zeros([rows, n], 'f32', `${op}.scoreBlock`);
        userBlock = rows === R ? null : be.zeros([rows, d], 'f32', `${op}.userBlock`);
      }
      const u = userBlock ?? users;
      if (userBlock) be.copyRange(users, r0 * d, userBlock, 0, rows * d);
      matmul(be, u, items, block, { transB: true });
      dispatch(be, c, k, false, 0, block, block, block, ids, values, r0, rows);
    }
  } finally {
    block?.dispose();
    userBlock?.dispose();
  }
}

function noAlias(op: string, ids: Tensor, values: Tensor, ...inputs: Tensor[]): void {
  if (ids === values) throw new IrllrecError('range', `${op}: ids and values must be different tensors`);
  for (const t of inputs) {
    if (t === ids || t === values) throw new IrllrecError('range', `${op}: outputs must not alias the input '${t.label}'`);
  }
}

/** Record the kernel for rows row0 … row0 + rows − 1 (a score block holds exactly those rows). */
function dispatch(
  be: Backend,
  c: Checked,
  k: number,
  fused: boolean,
  d: number,
  scores: Tensor,
  users: Tensor,
  items: Tensor,
  ids: Tensor,
  values: Tensor,
  row0 = 0,
  rows = c.rows,
): void {
  const g = asGpu(be);
  const ex = c.exclude;
  // Unused bindings get some other valid buffer; the flags keep the kernel from reading them.
  const exRowPtr = ex ? ex.rowPtr.buffer : scores.buffer;
  const exCol = ex && ex.nnz > 0 ? ex.colIdx.buffer : exRowPtr;
  const set = k > TOPK_FAST_MAX_K ? largeKernels : kernels;
  const kernel = !fused ? (c.n % 4 === 0 ? set.scores4 : set.scores) : d % 4 === 0 ? set.fused4 : set.fused;
  // Threads per row: the fewest that leave room for a chunk in the WG·8-entry buffer (CAP − k ≥ WG) and keep
  // the phase-1 lists exact on most rows (lavapipe, 1,000 × 9,332, k = 20: 16 threads 232 ms, 32: 368, 64: 544);
  // the large-k kernel's default (64).
  const wg = k > TOPK_FAST_MAX_K ? 64 : k <= TOPK_SMALL_K ? 16 : 32;
  g.recorder.dispatch(
    kernel,
    [scores.buffer, users.buffer, items.buffer, exRowPtr, exCol, ids.buffer, values.buffer],
    {
      row0,
      rows: row0 + rows,
      n: c.n,
      k,
      d,
      has_exclude: ex ? 1 : 0,
      drop_masked: c.dropMasked ? 1 : 0,
      mask_value: c.maskValue,
      neg_inf: -Infinity,
    },
    grid1d(rows, g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG: wg },
  );
}

function cpuExclude(ex: Csr | null): { rowPtr: Uint32Array; colIdx: Uint32Array } | null {
  return ex ? { rowPtr: ex.rowPtr.u, colIdx: ex.colIdx.u } : null;
}

/**
 * CPU twin of `topk.wgsl`: per row, one pass over the columns in increasing order keeping the k best in a
 * sorted list (the kernel's order is a strict total order, so any exact selection gives the same result).
 */
export function topKCpu(
  rows: number,
  n: number,
  k: number,
  score: (row: number, col: number) => number,
  ids: Uint32Array,
  values: FloatArray,
  exclude: { rowPtr: Uint32Array; colIdx: Uint32Array } | null,
  maskValue: number,
  dropMasked: boolean,
): void {
  const masked = new Uint8Array(exclude ? n : 0);
  const lv = new Float64Array(k);
  const li = new Uint32Array(k);
  for (let r = 0; r < rows; r++) {
    lv.fill(-Infinity);
    li.fill(TOPK_NONE);
    if (exclude) for (let e = exclude.rowPtr[r]; e < exclude.rowPtr[r + 1]; e++) masked[exclude.colIdx[e]] = 1;
    for (let c = 0; c < n; c++) {
      let v = score(r, c);
      if (Number.isNaN(v)) v = -Infinity;
      if (exclude && masked[c]) {
        if (dropMasked) continue;
        v = maskValue;
      }
      // columns arrive in increasing id order, so an equal score never precedes a listed entry
      if (!(v > lv[k - 1] || (v === lv[k - 1] && li[k - 1] === TOPK_NONE))) continue;
      let p = k - 1;
      while (p > 0 && (v > lv[p - 1] || (v === lv[p - 1] && li[p - 1] === TOPK_NONE))) {
        lv[p] = lv[p - 1];
        li[p] = li[p - 1];
        p--;
      }
      lv[p] = v;
      li[p] = c;
    }
    if (exclude) for (let e = exclude.rowPtr[r]; e < exclude.rowPtr[r + 1]; e++) masked[exclude.colIdx[e]] = 0;
    for (let t = 0; t < k; t++) {
      ids[r * k + t] = li[t];
      values[r * k + t] = lv[t];
    }
  }
}
