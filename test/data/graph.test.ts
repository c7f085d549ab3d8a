import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { buildGraph, type Graph, userItemCsr } from '../../src/data/graph.js';
import { datasetFromSplits } from '../../src/data/interactions.js';
import { itWithData, sharedData } from '../helpers.js';


/** Structural invariants every Graph must satisfy, checked edge by edge from the definition. */
function checkInvariants(g: Graph): void {
  expect(g.rowPtr[0]).toBe(0);
  expect(g.rowPtr[g.n]).toBe(g.nnz);
  for (let v = 0; v < g.n; v++) {
    expect(g.rowPtr[v + 1] - g.rowPtr[v]).toBe(g.degree[v]);
    for (let e = g.rowPtr[v]; e < g.rowPtr[v + 1]; e++) {
      const t = g.colIdx[e];
      if (e > g.rowPtr[v] && !(g.colIdx[e - 1] < t)) throw new Error(`row ${v} not strictly ascending at edge ${e}`);
      // bipartite: users link only to items and vice versa
      if (v < g.numUsers !== t >= g.numUsers) throw new Error(`edge ${e} (${v}, ${t}) is not user–item`);
      const r = g.rev[e];
      if (g.colIdx[r] !== v || !(r >= g.rowPtr[t] && r < g.rowPtr[t + 1]) || g.rev[r] !== e) throw new Error(`rev[${e}] = ${r} is not the edge (${t}, ${v})`);
      if (g.values[e] !== g.values[r]) throw new Error(`Â not symmetric at edge ${e}`);
      if (g.values[e] !== Math.fround(1 / Math.sqrt(g.degree[v] * g.degree[t]))) throw new Error(`Â value wrong at edge ${e}`);
    }
  }
}

describe('buildGraph', () => {
  // Users 0–2, items 0–3 (nodes 3–6); item 3 has no training pair. Input unsorted, with a duplicate.
  const ds = datasetFromSplits({ train: '2\t0\n0\t1\n1\t2\n0\t0\n1\t1\n0\t1\n' }, { numUsers: 3, numItems: 4 });
  const g = buildGraph(ds);
  const h = Math.fround(Math.SQRT1_2);

  it('lays out the hand example in (head, tail) CSR order', () => {
    expect([g.n, g.nnz]).toEqual([7, 10]);
    expect(Array.from(g.rowPtr)).toEqual([0, 2, 4, 5, 7, 9, 10, 10]);
    expect(Array.from(g.colIdx)).toEqual([3, 4, 4, 5, 3, 0, 2, 0, 1, 1]);
    expect(Array.from(g.degree)).toEqual([2, 2, 1, 2, 2, 1, 0]);
  });

  it('gives Â = 1/sqrt(deg·deg) and the reverse-edge index', () => {
    expect(Array.from(g.values)).toEqual([0.5, 0.5, 0.5, h, h, 0.5, h, 0.5, 0.5, h]);
    expect(Array.from(g.rev)).toEqual([5, 7, 8, 9, 6, 0, 4, 1, 2, 3]);
    checkInvariants(g);
  });

  it('keeps an item without training pairs as an isolated node', () => {
    expect(g.degree[6]).toBe(0);
    expect(g.rowPtr[7] - g.rowPtr[6]).toBe(0);
    expect(Array.from(g.colIdx)).not.toContain(6);
  });

  it('rejects ids out of range', () => {
    const bad = { numUsers: 2, numItems: 2, train: { users: Uint32Array.of(0, 2), items: Uint32Array.of(0, 1) } };
    expect(() => buildGraph(bad)).toThrow(IrllrecError);
    expect(() => buildGraph(bad)).toThrow(/user 2 ≥ numUsers = 2/);
  });

  itWithData('builds the amazon training graph: 240,928 symmetric non-zeros, degrees as in spec §1.2', () => {
    const text = readFileSync(sharedData('amazon', 'train.tsv'), 'utf8');
    const amazon = datasetFromSplits({ train: text }, { numUsers: 11000, numItems: 9332 });
    const ga = buildGraph(amazon);
    expect(ga.nnz).toBe(240928);
    expect(ga.n).toBe(20332);
    checkInvariants(ga);
    const userDeg = Array.from(ga.degree.subarray(0, 11000));
    const itemDeg = Array.from(ga.degree.subarray(11000));
    expect([Math.min(...userDeg), Math.max(...userDeg)]).toEqual([1, 253]);
    expect([Math.min(...itemDeg), Math.max(...itemDeg)]).toEqual([1, 246]);
  });
});

describe('userItemCsr', () => {
  it('gives each user sorted, distinct items', () => {
    const csr = userItemCsr(3, 5, { users: Uint32Array.of(2, 0, 2, 0, 2), items: Uint32Array.of(4, 3, 1, 3, 0) });
    expect(Array.from(csr.rowPtr)).toEqual([0, 1, 1, 4]);
    expect(Array.from(csr.colIdx)).toEqual([3, 0, 1, 4]);
  });

  it('rejects an item out of range and mismatched lengths', () => {
    expect(() => userItemCsr(1, 2, { users: Uint32Array.of(0), items: Uint32Array.of(2) })).toThrow(/item 2 ≥ numItems = 2/);
    expect(() => userItemCsr(1, 2, { users: Uint32Array.of(0), items: Uint32Array.of() })).toThrow(/users has 1 entries but items has 0/);
  });
});
