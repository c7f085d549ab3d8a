/**
 * The training graph (spec §1.5, §1.6): the bipartite adjacency A = [[0, R], [Rᵀ, 0]] over N = Nu + Ni
 * nodes (user u → u, item i → Nu + i) as a directed edge list in CSR order, its normalisation
 * Â_vw = 1/sqrt(deg v · deg w), and the reverse-edge index that turns every transposed product into a
 * row-parallel gather. Browser-safe.
 */
import { IrllrecError } from '../errors.js';
import type { Interactions } from './types.js';

export interface Graph {
  numUsers: number;
  numItems: number;
  /** Nodes: numUsers + numItems. */
  n: number;
  /** Directed edges: 2·|distinct training pairs|. */
  nnz: number;
  /** CSR row offsets (n + 1): the edges with head v are rowPtr[v] … rowPtr[v+1]−1. */
  rowPtr: Uint32Array;
  /** Tail of each edge, ascending within a row. */
  colIdx: Uint32Array;
  /** rev[e] = index of the edge (t, h) for e = (h, t). */
  rev: Uint32Array;
  /** Â_e = 1/sqrt(deg h · deg t), computed in float64, stored float32. */
  values: Float32Array;
  /** deg(v) = row sum of A = number of edges with head v. */
  degree: Uint32Array;
}

function checkCounts(where: string, numUsers: number, numItems: number): void {
  for (const [k, v] of [['numUsers', numUsers], ['numItems', numItems]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new IrllrecError('range', `${where}: ${k} must be a non-negative integer, got ${v}`);
  }
}

/**
 * Per-user sorted, deduplicated item lists (CSR over users): user u's items are
 * colIdx[rowPtr[u]] … colIdx[rowPtr[u+1]−1], ascending. Ids are range-checked.
 */
export function userItemCsr(numUsers: number, numItems: number, inter: Interactions): { rowPtr: Uint32Array; colIdx: Uint32Array } {
  checkCounts('userItemCsr', numUsers, numItems);
  const n = inter.users.length;
  if (inter.items.length !== n) throw new IrllrecError('shape', `userItemCsr: users has ${n} entries but items has ${inter.items.length}`);
  const counts = new Uint32Array(numUsers + 1);
  for (let k = 0; k < n; k++) {
    const u = inter.users[k];
    const i = inter.items[k];
    if (u >= numUsers) throw new IrllrecError('range', `userItemCsr: pair ${k} has user ${u} ≥ numUsers = ${numUsers}`);
    if (i >= numItems) throw new IrllrecError('range', `userItemCsr: pair ${k} has item ${i} ≥ numItems = ${numItems}`);
    counts[u + 1]++;
  }
  for (let u = 0; u < numUsers; u++) counts[u + 1] += counts[u];
  const fill = counts.slice(0, numUsers);
  const items = new Uint32Array(n);
  for (let k = 0; k < n; k++) items[fill[inter.users[k]]++] = inter.items[k];
  // Sort each user's segment and compact out duplicates.
  const rowPtr = new Uint32Array(numUsers + 1);
  let w = 0;
  for (let u = 0; u < numUsers; u++) {
    const seg = items.subarray(counts[u], counts[u + 1]);
    seg.sort();
    for (let p = 0; p < seg.length; p++) if (p === 0 || seg[p] !== seg[p - 1]) items[w++] = seg[p];
    rowPtr[u + 1] = w;
  }
  return { rowPtr, colIdx: items.slice(0, w) };
}

/**
 * Build the directed edge list: (u, Nu+i) and (Nu+i, u) for every distinct training pair, in (head, tail)
 * order. User rows come straight from the per-user sorted items; item rows are filled by scanning users in
 * ascending order, so their tails are ascending too, and the position written is the reverse of the user
 * edge being scanned — the same rev(e) a binary search of h in row t would find. Isolated nodes (deg 0) have
 * empty rows and no values, so the inf→0 case of §1.5 never arises.
 */
export function buildGraph(ds: { numUsers: number; numItems: number; train: Interactions }): Graph {
  const { numUsers, numItems } = ds;
  checkCounts('buildGraph', numUsers, numItems);
  const ui = userItemCsr(numUsers, numItems, ds.train);
  const pairs = ui.colIdx.length;
  const n = numUsers + numItems;
  const nnz = 2 * pairs;
  if (nnz > 0xffffffff) throw new IrllrecError('limit', `buildGraph: ${nnz} directed edges exceed the u32 index range`);

  const degree = new Uint32Array(n);
  for (let u = 0; u < numUsers; u++) degree[u] = ui.rowPtr[u + 1] - ui.rowPtr[u];
  for (let p = 0; p < pairs; p++) degree[numUsers + ui.colIdx[p]]++;

  const rowPtr = new Uint32Array(n + 1);
  for (let v = 0; v < n; v++) rowPtr[v + 1] = rowPtr[v] + degree[v];
  const colIdx = new Uint32Array(nnz);
  const rev = new Uint32Array(nnz);
  // User rows occupy edges 0 … pairs−1 in the same order as ui.colIdx.
  for (let p = 0; p < pairs; p++) colIdx[p] = numUsers + ui.colIdx[p];
  const fill = rowPtr.slice(numUsers, n);
  for (let u = 0; u < numUsers; u++) {
    for (let e = ui.rowPtr[u]; e < ui.rowPtr[u + 1]; e++) {
      const f = fill[ui.colIdx[e]]++;
      colIdx[f] = u;
      rev[e] = f;
      rev[f] = e;
    }
  }

  const values = new Float32Array(nnz);
  for (let v = 0; v < n; v++) {
    for (let e = rowPtr[v]; e < rowPtr[v + 1]; e++) values[e] = 1 / Math.sqrt(degree[v] * degree[colIdx[e]]);
  }
  return { numUsers, numItems, n, nnz, rowPtr, colIdx, rev, values, degree };
}

/** The rows `rows` of a CSR (in that order) as a new CSR: e.g. the training items of a chunk of users. */
export function csrRows(csr: { rowPtr: Uint32Array; colIdx: Uint32Array }, rows: ArrayLike<number>): { rowPtr: Uint32Array; colIdx: Uint32Array } {
  const R = rows.length;
  const rowPtr = new Uint32Array(R + 1);
  for (let r = 0; r < R; r++) rowPtr[r + 1] = rowPtr[r] + (csr.rowPtr[rows[r] + 1] - csr.rowPtr[rows[r]]);
  const colIdx = new Uint32Array(rowPtr[R]);
  for (let r = 0; r < R; r++) colIdx.set(csr.colIdx.subarray(csr.rowPtr[rows[r]], csr.rowPtr[rows[r] + 1]), rowPtr[r]);
  return { rowPtr, colIdx };
}
