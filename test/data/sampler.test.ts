import { describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { userItemCsr } from '../../src/data/graph.js';
import { epochBatches, sampleNegatives } from '../../src/data/sampler.js';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { Rng } from '../../src/util/random.js';

describe('sampleNegatives', () => {
  const ds = syntheticDataset({ seed: 5, numUsers: 120, numItems: 90, interactionsPerUser: 20 });
  const csr = userItemCsr(ds.numUsers, ds.numItems, ds.train);
  const trainPairs = new Set(Array.from(ds.train.users, (u, k) => u * ds.numItems + ds.train.items[k]));

  it('never returns a training pair of the same user, and stays in range', () => {
    for (let seed = 0; seed < 5; seed++) {
      const neg = sampleNegatives(new Rng(seed), ds.numItems, ds.train, csr);
      expect(neg.length).toBe(ds.train.users.length);
      for (let k = 0; k < neg.length; k++) {
        expect(neg[k]).toBeLessThan(ds.numItems);
        if (trainPairs.has(ds.train.users[k] * ds.numItems + neg[k])) throw new Error(`pair ${k}: negative ${neg[k]} is a training item`);
      }
    }
  });

  it('is deterministic per seed and differs across seeds', () => {
    const a = sampleNegatives(new Rng(11), ds.numItems, ds.train, csr);
    const b = sampleNegatives(new Rng(11), ds.numItems, ds.train, csr);
    const c = sampleNegatives(new Rng(12), ds.numItems, ds.train, csr);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('finds the only free item of a user who has all the others, and may draw val/test items', () => {
    // user 0 has items 0–4 except 3; 400 draws must all be 3.
    const train = { users: new Uint32Array(400).fill(0), items: Uint32Array.from({ length: 400 }, (_, k) => [0, 1, 2, 4][k % 4]) };
    const neg = sampleNegatives(new Rng(1), 5, train, userItemCsr(1, 5, train));
    expect(new Set(neg)).toEqual(new Set([3]));
  });

  it('draws uniformly over the allowed items (chi-square, 9 d.o.f.)', () => {
    const train = { users: new Uint32Array(20000).fill(0), items: Uint32Array.from({ length: 20000 }, (_, k) => (k % 2) * 10) };
    const neg = sampleNegatives(new Rng(3), 12, train, userItemCsr(1, 12, train));
    const counts = new Array(12).fill(0);
    for (const j of neg) counts[j]++;
    expect(counts[0]).toBe(0);
    expect(counts[10]).toBe(0);
    const expected = 20000 / 10;
    const chi2 = counts.reduce((s, c, j) => (j === 0 || j === 10 ? s : s + (c - expected) ** 2 / expected), 0);
    expect(chi2).toBeLessThan(27.9); // p = 0.001 quantile of chi-square with 9 d.o.f.
  });

  it('names a user who interacted with every item', () => {
    const train = { users: Uint32Array.of(0, 1, 1), items: Uint32Array.of(0, 0, 1) };
    const e = (() => {
      try {
        sampleNegatives(new Rng(1), 2, train, userItemCsr(2, 2, train));
      } catch (err) {
        return err as IrllrecError;
      }
      throw new Error('no error');
    })();
    expect(e).toBeInstanceOf(IrllrecError);
    expect(e.message).toMatch(/user 1 interacted with all 2 items/);
  });
});

describe('epochBatches', () => {
  it('covers every index exactly once, in chunks of batchSize with the last shorter one kept', () => {
    const batches = epochBatches(new Rng(9), 10001, 4096);
    expect(batches.map((b) => b.length)).toEqual([4096, 4096, 1809]);
    const seen = new Uint8Array(10001);
    for (const b of batches) for (const k of b) seen[k]++;
    expect(seen.every((c) => c === 1)).toBe(true);
  });

  it('gives the step counts of spec §1.4 (amazon 30, yelp 41, movie 33)', () => {
    expect(epochBatches(new Rng(1), 120464, 4096).length).toBe(30);
    expect(epochBatches(new Rng(1), 166620, 4096).length).toBe(41);
    expect(epochBatches(new Rng(1), 134649, 4096).length).toBe(33);
  });

  it('is a fresh permutation per call, deterministic per seed', () => {
    const rng = new Rng(4);
    const first = Array.from(epochBatches(rng, 50, 7).flatMap((b) => Array.from(b)));
    const second = Array.from(epochBatches(rng, 50, 7).flatMap((b) => Array.from(b)));
    expect(first).not.toEqual(second);
    expect(first).not.toEqual(Array.from({ length: 50 }, (_, k) => k));
    expect(Array.from(epochBatches(new Rng(4), 50, 7).flatMap((b) => Array.from(b)))).toEqual(first);
  });

  it('handles an empty epoch and rejects a bad batch size', () => {
    expect(epochBatches(new Rng(1), 0, 8)).toEqual([]);
    expect(() => epochBatches(new Rng(1), 10, 0)).toThrow(/batchSize must be a positive integer/);
  });
});
