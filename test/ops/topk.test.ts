import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { csrTensor } from '../../src/ops/spmm.js';
import type { Backend, Tensor } from '../../src/ops/tensor.js';
import { TOPK_NONE, type TopKOptions, scoreTopK, scoreTopKAuto, topK } from '../../src/ops/topk.js';
import type { Rng } from '../../src/util/random.js';
import { cpu, expectClose, gpu, randArray, rng } from '../helpers.js';

interface Exclusions {
  rows: number;
  cols: number;
  rowPtr: Uint32Array;
  colIdx: Uint32Array;
}

/** Brute force: full sort of every row (NaN → −∞; masked → maskValue or dropped), first k, padded. */
function reference(rows: number, n: number, k: number, score: (r: number, c: number) => number, ex: Exclusions | null, maskValue = -1e8, drop = false) {
  const ids = new Uint32Array(rows * k).fill(TOPK_NONE);
  const values = new Float64Array(rows * k).fill(-Infinity);
  for (let r = 0; r < rows; r++) {
    const masked = new Set<number>();
    if (ex) for (let e = ex.rowPtr[r]; e < ex.rowPtr[r + 1]; e++) masked.add(ex.colIdx[e]);
    const cand: [number, number][] = [];
    for (let c = 0; c < n; c++) {
      let v = score(r, c);
      if (Number.isNaN(v)) v = -Infinity;
      if (masked.has(c)) {
        if (drop) continue;
        v = maskValue;
      }
      cand.push([v, c]);
    }
    cand.sort((a, b) => (a[0] > b[0] ? -1 : a[0] < b[0] ? 1 : a[1] - b[1]));
    for (let t = 0; t < Math.min(k, cand.length); t++) {
      values[r * k + t] = cand[t][0];
      ids[r * k + t] = cand[t][1];
    }
  }
  return { ids, values };
}

/** Integer scores in [−4, 4] (many ties), with some −∞, NaN, ±1e30 and −0. */
function tiedScores(r: Rng, rows: number, n: number): Float32Array {
  const s = new Float32Array(rows * n);
  for (let i = 0; i < s.length; i++) {
    const u = r.next();
    s[i] = u < 0.03 ? -Infinity : u < 0.05 ? Number.NaN : u < 0.06 ? 1e30 : u < 0.07 ? -1e30 : u < 0.08 ? -0 : r.int(9) - 4;
  }
  return s;
}

/** Random exclusion lists: unsorted, with duplicates, some rows empty, some rows excluding almost everything. */
function randExclusions(r: Rng, rows: number, n: number): Exclusions {
  const rowPtr = new Uint32Array(rows + 1);
  const cols: number[] = [];
  for (let i = 0; i < rows; i++) {
    const kind = i % 4;
    const count = kind === 0 ? 0 : kind === 3 ? Math.max(0, n - 3) + 2 : 1 + r.int(Math.max(1, Math.floor(n / 3)));
    if (kind === 3) {
      // all but (about) 3 columns, shuffled, plus 2 duplicates
      const all = r.shuffle(Array.from({ length: n }, (_, c) => c)).slice(0, Math.max(0, n - 3));
      cols.push(...all, ...(all.length ? [all[0], all[all.length - 1]] : []));
    } else {
      for (let t = 0; t < count; t++) cols.push(r.int(n));
    }
    rowPtr[i + 1] = cols.length;
  }
  return { rows, cols: n, rowPtr, colIdx: Uint32Array.from(cols) };
}

function isExcluded(ex: Exclusions, r: number, c: number): boolean {
  for (let e = ex.rowPtr[r]; e < ex.rowPtr[r + 1]; e++) if (ex.colIdx[e] === c) return true;
  return false;
}

/**
 * Whether rank t of a sorted reference list is decided by scores alone: the group of entries exactly equal to it
 * (exact ties: masked, padding, duplicated item rows; ordered by id on every backend) is more than `gap` away
 * from the nearest different values on both sides, so f32 rounding cannot reorder it.
 */
function decidable(vals: number[], t: number, gap: number): boolean {
  const v = vals[t];
  let a = t - 1;
  while (a >= 0 && vals[a] === v) a--;
  let b = t + 1;
  while (b < vals.length && vals[b] === v) b++;
  const before = a >= 0 ? vals[a] - v : Infinity;
  const after = b < vals.length ? v - vals[b] : Infinity;
  return before > gap && after > gap;
}

async function runTopK(be: Backend, rows: number, n: number, k: number, scores: ArrayLike<number>, ex: Exclusions | null, extra: TopKOptions = {}) {
  const S = be.tensor(scores, [rows, n], 'f32', 'scores');
  const ids = be.zeros([rows, k], 'u32', 'ids');
  const values = be.zeros([rows, k], 'f32', 'values');
  be.write(ids, new Uint32Array(rows * k).fill(7)); // garbage: must be overwritten
  topK(be, S, k, ids, values, { ...extra, exclude: ex ? csrTensor(be, ex, 'exclude') : null });
  return { ids: await be.read(ids), values: await be.read(values) };
}

function expectSame(got: { ids: ArrayLike<number>; values: ArrayLike<number> }, want: { ids: ArrayLike<number>; values: ArrayLike<number> }, what: string) {
  expect(Array.from(got.ids), `${what}: ids`).toEqual(Array.from(want.ids));
  // values are copies of f32 scores (or the mask value / −∞): exact; toEqual on numbers also tells 0 from −0, so compare with ==
  for (let i = 0; i < want.values.length; i++) {
    if (!(got.values[i] === want.values[i])) expect.fail(`${what}: values[${i}] = ${got.values[i]}, expected ${want.values[i]}`);
  }
}

afterAll(async () => (await gpu()).destroy());

describe('topK (per-row selection with masking)', () => {
  const cases: [number, number, number][] = [
    [1, 1, 1],
    [3, 5, 5],
    [5, 2, 1],
    [7, 100, 20],
    [5, 100, 100],
    [33, 777, 20],
    [65, 200, 1],
    [9, 5000, 100],
    [3, 5000, 20],
    // k > 100: the large-k kernel (radix selection); k = n, k > most rows' candidates, n > its 8,192-column bitmap chunk
    [3, 101, 101],
    [4, 1200, 101],
    [3, 3000, 1000],
    [3, 1000, 1000],
    [2, 20000, 500],
  ];
  for (const [rows, n, k] of cases) {
    for (const mode of ['plain', 'masked', 'dropped'] as const) {
      it(`R=${rows}, n=${n}, k=${k}, ${mode}: GPU and CPU twin equal a full sort (ties → lower id)`, async () => {
        const r = rng(rows * 1000 + n + k);
        const scores = tiedScores(r, rows, n);
        const ex = mode === 'plain' ? null : randExclusions(r, rows, n);
        const drop = mode === 'dropped';
        const want = reference(rows, n, k, (i, c) => scores[i * n + c], ex, -1e8, drop);
        const opts = { dropMasked: drop };
        expectSame(await runTopK(await gpu(), rows, n, k, scores, ex, opts), want, 'gpu');
        expectSame(await runTopK(cpu('f32'), rows, n, k, scores, ex, opts), want, 'cpu');
        if (drop && k > 3 && rows > 3) {
          // row 3 keeps about 3 columns: the rest is padding
          expect(want.ids[3 * k + k - 1]).toBe(TOPK_NONE);
        }
      });
    }
  }

  it('a custom mask value competes like any score; −∞ is allowed', async () => {
    const rows = 4;
    const n = 50;
    const k = 10;
    const r = rng(4);
    const scores = tiedScores(r, rows, n);
    const ex = randExclusions(r, rows, n);
    for (const maskValue of [2.5, -Infinity]) {
      const want = reference(rows, n, k, (i, c) => scores[i * n + c], ex, maskValue);
      expectSame(await runTopK(await gpu(), rows, n, k, scores, ex, { maskValue }), want, `gpu mask ${maskValue}`);
    }
  });

  it('exclusions past the first 32768-column bitmap chunk', async () => {
    const rows = 2;
    const n = 40_000;
    const k = 20;
    const r = rng(8);
    const scores = new Float32Array(rows * n);
    for (let i = 0; i < scores.length; i++) scores[i] = r.int(100_000); // few ties
    // exclude the 30 best columns of each row (so masking matters), in decreasing order
    const rowPtr = new Uint32Array([0, 30, 60]);
    const cols: number[] = [];
    for (let i = 0; i < rows; i++) {
      const order = Array.from({ length: n }, (_, c) => c).sort((a, b) => scores[i * n + b] - scores[i * n + a] || a - b);
      cols.push(...order.slice(0, 30).reverse());
    }
    const ex = { rows, cols: n, rowPtr, colIdx: Uint32Array.from(cols) };
    expect(cols.some((c) => c >= 32768)).toBe(true);
    for (const dropMasked of [false, true]) {
      const want = reference(rows, n, k, (i, c) => scores[i * n + c], ex, -1e8, dropMasked);
      expectSame(await runTopK(await gpu(), rows, n, k, scores, ex, { dropMasked }), want, `gpu drop=${dropMasked}`);
    }
  });

  it('more rows than one grid dimension holds (grid1d)', async () => {
    const rows = 66_000;
    const n = 3;
    const k = 2;
    const scores = new Float32Array(rows * n);
    for (let i = 0; i < rows; i++) scores[i * n + (i % 3)] = 1;
    const got = await runTopK(await gpu(), rows, n, k, scores, null);
    for (const i of [0, 1, 2, 65_535, 65_536, rows - 1]) {
      expect(got.ids[i * k]).toBe(i % 3);
      expect(got.ids[i * k + 1]).toBe(i % 3 === 0 ? 1 : 0);
    }
  });

  // Rows built to drive the kernel's two phases: per-thread register lists of 8 (phase 1) are exact unless one
  // thread's slice holds more of the top k than it keeps; then the threshold rescan with compactions (phase 2).
  const adversarial: [string, number, number, (r: Rng, row: number, c: number) => number][] = [
    // the best columns all in thread 0's slices (groups of 4 columns, 64 threads): forces the rescan, whose
    // ~625 candidates need compactions; n > 32768 also reloads the exclusion bitmap in the rescan
    ['top values in one thread', 3, 40_000, (r, _row, c) => ((c >> 2) % 64 === 0 ? 1000 + r.int(50) : r.int(1000))],
    // ascending: every chunk of the rescan beats the threshold, many compactions
    ['ascending', 2, 9_001, (_r, _row, c) => c],
    ['descending', 2, 3_333, (_r, _row, c) => -c],
    // one value everywhere: the order is the ids'
    ['all equal', 2, 5_000, () => 0.5],
    // ±inf, NaN (→ −inf) and −0 / 0 ties among few distinct values
    ['inf/NaN/−0', 4, 2_051, (r) => [Infinity, -Infinity, Number.NaN, -0, 0, 1, -1][r.int(7)]],
  ];
  for (const [name, rows, n, gen] of adversarial) {
    for (const k of [1, 20, 100]) {
      it(`${name}: R=${rows}, n=${n}, k=${k}, plain and masked, equals a full sort`, async () => {
        const r = rng(n + k);
        const scores = new Float32Array(rows * n);
        for (let i = 0; i < rows; i++) for (let c = 0; c < n; c++) scores[i * n + c] = gen(r, i, c);
        expectSame(await runTopK(await gpu(), rows, n, k, scores, null), reference(rows, n, k, (i, c) => scores[i * n + c], null), 'gpu plain');
        const ex = randExclusions(r, rows, n);
        const want = reference(rows, n, k, (i, c) => scores[i * n + c], ex, -1e8, true);
        expectSame(await runTopK(await gpu(), rows, n, k, scores, ex, { dropMasked: true }), want, 'gpu dropped');
      });
    }
  }

  it('all-masked rows: dropped → all padding; masked → the mask value, lowest ids first', async () => {
    const rows = 3;
    const n = 300;
    const k = 100;
    const r = rng(30);
    const scores = Float32Array.from(randArray(r, rows * n));
    // row 0 excludes every column, row 1 none, row 2 every column but 7 (so it has fewer than k candidates)
    const cols = [...Array.from({ length: n }, (_, c) => c), ...Array.from({ length: n }, (_, c) => c).filter((c) => c % 43 !== 0)];
    const ex = { rows, cols: n, rowPtr: Uint32Array.from([0, n, n, cols.length]), colIdx: Uint32Array.from(cols) };
    const dropped = await runTopK(await gpu(), rows, n, k, scores, ex, { dropMasked: true });
    expect(Array.from(dropped.ids.subarray(0, k))).toEqual(new Array(k).fill(TOPK_NONE));
    expect(Array.from(dropped.values.subarray(0, k))).toEqual(new Array(k).fill(-Infinity));
    expect(Array.from(dropped.ids.subarray(2 * k, 2 * k + 7)).sort((a, b) => a - b)).toEqual([0, 43, 86, 129, 172, 215, 258]);
    expect(dropped.ids[2 * k + 7]).toBe(TOPK_NONE);
    expectSame(dropped, reference(rows, n, k, (i, c) => scores[i * n + c], ex, -1e8, true), 'gpu dropped');
    const masked = await runTopK(await gpu(), rows, n, k, scores, ex);
    expect(Array.from(masked.ids.subarray(0, k))).toEqual(Array.from({ length: k }, (_, t) => t));
    expectSame(masked, reference(rows, n, k, (i, c) => scores[i * n + c], ex), 'gpu masked');
  });

  it('rejects bad k, n < k and mismatched outputs with messages naming them', () => {
    const be = cpu();
    const s = be.zeros([3, 4]);
    const ids = (k: number) => be.zeros([3, k], 'u32');
    const vals = (k: number) => be.zeros([3, k]);
    expect(() => topK(be, s, 5, ids(5), vals(5))).toThrow(/k = 5 exceeds the number of columns n = 4/);
    expect(() => topK(be, s, 0, ids(1), vals(1))).toThrow(/k must be an integer in \[1, 1024\]/);
    expect(() => topK(be, be.zeros([1, 2000]), 1025, be.zeros([1, 1025], 'u32'), be.zeros([1, 1025]))).toThrow(IrllrecError);
    expect(() => topK(be, s, 2, vals(2), vals(2))).toThrow(/ids .* dtype f32, expected u32/);
    expect(() => topK(be, s, 2, ids(2), vals(3))).toThrow(/values .* expected \[3, 2\]/);
    const ex = csrTensor(be, { rows: 2, cols: 4, rowPtr: new Uint32Array([0, 0, 0]), colIdx: new Uint32Array(0) });
    expect(() => topK(be, s, 2, ids(2), vals(2), { exclude: ex })).toThrow(/exclude is 2×4, expected 3×4/);
    expect(() => topK(be, s, 2, ids(2), vals(2), { maskValue: Number.NaN })).toThrow(/maskValue/);
    expect(() => scoreTopK(be, be.zeros([3, 2]), be.zeros([4, 3]), 2, ids(2), vals(2))).toThrow(/items .* expected \[\*, 2\]/);
  });
});

describe('scoreTopK (fused dot products + topK)', () => {
  for (const [rows, n, d, k, mode] of [
    [1, 1, 32, 1, 'plain'],
    [7, 300, 32, 20, 'masked'],
    [5, 5000, 32, 100, 'dropped'],
    [11, 999, 5, 20, 'plain'],
    [3, 150, 130, 100, 'masked'],
    [3, 2000, 32, 1000, 'masked'],
    [4, 1500, 5, 200, 'dropped'],
  ] as const) {
    it(`R=${rows}, n=${n}, d=${d}, k=${k}, ${mode}: equals topK of the explicit product`, async () => {
      const r = rng(rows + n + d + k);
      const u = Float32Array.from(randArray(r, rows * d));
      const it = Float32Array.from(randArray(r, n * d));
      // a few duplicated item rows: exact ties that must go to the lower id
      for (let c = 7; c < n; c += 97) it.copyWithin(c * d, (c - 7) * d, (c - 6) * d);
      const ex = mode === 'plain' ? null : randExclusions(r, rows, n);
      const drop = mode === 'dropped';
      const dot = (i: number, c: number) => {
        let s = 0;
        for (let t = 0; t < d; t++) s += u[i * d + t] * it[c * d + t];
        return s;
      };
      const want = reference(rows, n, k, dot, ex, -1e8, drop);
      const wantExt = reference(rows, n, k + 1, dot, ex, -1e8, drop); // one more rank: near-ties at the cut
      const tol = 1e-5 * d; // f32 dot products of d terms of size ≤ 1
      for (const be of [await gpu(), cpu('f32')] as Backend[]) {
        const U = be.tensor(u, [rows, d]);
        const I = be.tensor(it, [n, d]);
        const ids = be.zeros([rows, k], 'u32');
        const values = be.zeros([rows, k]);
        scoreTopK(be, U, I, k, ids, values, { exclude: ex ? csrTensor(be, ex) : null, dropMasked: drop });
        const gi = await be.read(ids);
        const gv = await be.read(values);
        const what = `${be.kind}`;
        // padding (−∞) must match exactly, the rest within the f32 dot-product tolerance
        const isPad = (v: number) => v === -Infinity;
        expect(Array.from(gv, isPad), `${what}: padding`).toEqual(Array.from(want.values, isPad));
        expectClose(gv.map((v) => (isPad(v) ? 0 : v)), want.values.map((v) => (isPad(v) ? 0 : v)), { atol: tol, rtol: 0 }, `${what}: values`);
        for (let i = 0; i < rows; i++) {
          const seen = new Set<number>();
          const ext = Array.from(wantExt.values.slice(i * (k + 1), (i + 1) * (k + 1)));
          for (let t = 0; t < k; t++) {
            const p = i * k + t;
            const id = gi[p];
            if (id !== TOPK_NONE) {
              expect(seen.has(id), `${what}: duplicate id ${id} in row ${i}`).toBe(false);
              seen.add(id);
              // the reported value is the id's own score (or the mask value)
              const own = ex && isExcluded(ex, i, id) ? -1e8 : dot(i, id);
              expect(Math.abs(own - gv[p]), `${what}: value of id ${id}`).toBeLessThanOrEqual(tol);
            }
            if (decidable(ext, t, 2 * tol)) expect(id, `${what}: row ${i} rank ${t}`).toBe(want.ids[p]);
          }
        }
      }
    });
  }
});

describe('scoreTopKAuto (GEMM score blocks + topK, or fused)', () => {
  for (const [rows, n, d, k, blockRows, mode] of [
    [70, 300, 32, 20, 8, 'masked'], // 9 blocks, the last one partial; 'auto' takes the GEMM path (≥ 64 rows)
    [20, 1001, 5, 100, 3, 'dropped'], // odd n and d
    [16, 64, 4, 1, 16, 'plain'], // one block
    [70, 1200, 8, 1000, 16, 'masked'], // the large-k kernel on score blocks
  ] as const) {
    it(`R=${rows}, n=${n}, d=${d}, k=${k}, ${blockRows}-row blocks, ${mode}: same as scoreTopK (both paths)`, async () => {
      const r = rng(rows * 7 + n);
      const u = Float32Array.from(randArray(r, rows * d));
      const it = Float32Array.from(randArray(r, n * d));
      for (let c = 5; c < n; c += 61) it.copyWithin(c * d, (c - 5) * d, (c - 4) * d); // exact ties → lower id
      const ex = mode === 'plain' ? null : randExclusions(r, rows, n);
      const drop = mode === 'dropped';
      const be = await gpu();
      const run = async (f: (U: Tensor, I: Tensor, ids: Tensor, vals: Tensor) => void) => {
        const U = be.tensor(u, [rows, d]);
        const I = be.tensor(it, [n, d]);
        const ids = be.zeros([rows, k], 'u32');
        const vals = be.zeros([rows, k]);
        be.write(ids, new Uint32Array(rows * k).fill(3)); // garbage: must be overwritten
        f(U, I, ids, vals);
        return { ids: await be.read(ids), values: await be.read(vals) };
      };
      const opts = { exclude: ex ? csrTensor(be, ex) : null, dropMasked: drop };
      const fused = await run((U, I, ids, vals) => scoreTopK(be, U, I, k, ids, vals, opts));
      const blocked = await run((U, I, ids, vals) => scoreTopKAuto(be, U, I, k, ids, vals, { ...opts, path: 'matmul', blockBytes: blockRows * n * 4 }));
      const auto = await run((U, I, ids, vals) => scoreTopKAuto(be, U, I, k, ids, vals, opts));
      const tol = 1e-5 * d;
      for (const [what, got] of [['blocked', blocked], ['auto', auto]] as const) {
        expectClose(Array.from(got.values, (v) => (v === -Infinity ? 0 : v)), Array.from(fused.values, (v) => (v === -Infinity ? 0 : v)), { atol: tol, rtol: 0 }, `${what}: values`);
        let differ = 0;
        for (let i = 0; i < got.ids.length; i++) if (got.ids[i] !== fused.ids[i]) differ++;
        // ids may swap only where two scores are within the rounding tolerance (random data: almost never)
        expect(differ, `${what}: ids differing from scoreTopK`).toBeLessThanOrEqual(2);
      }
    });
  }

  it('rejects an unknown path', async () => {
    const be = cpu();
    expect(() => scoreTopKAuto(be, be.zeros([2, 3]), be.zeros([4, 3]), 2, be.zeros([2, 2], 'u32'), be.zeros([2, 2]), { path: 'x' as 'auto' })).toThrow(/path must be/);
  });
});
