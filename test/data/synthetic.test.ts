import { describe, expect, it } from 'vitest';
import { syntheticDataset } from '../../src/data/synthetic.js';
import type { Dataset, Interactions, Matrix } from '../../src/data/types.js';

function keys(inter: Interactions, numItems: number): number[] {
  return Array.from(inter.users, (u, k) => u * numItems + inter.items[k]);
}

function rowDot(a: Matrix, r: number, b: Matrix, s: number): number {
  let sum = 0;
  for (let c = 0; c < a.cols; c++) sum += a.data[r * a.cols + c] * b.data[s * b.cols + c];
  return sum;
}

/** FNV-1a over 32-bit words (float32 data by their bit patterns): independent of the host's byte order. */
function fnv32(arrays: (Uint32Array | Float32Array)[]): string {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    const words = a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a;
    for (let k = 0; k < words.length; k++) {
      for (let s = 0; s < 32; s += 8) {
        h ^= (words[k] >>> s) & 0xff;
        h = Math.imul(h, 0x01000193) >>> 0;
      }
    }
  }
  return h.toString(16).padStart(8, '0');
}

describe('syntheticDataset', () => {
  const ds = syntheticDataset();

  it('reproduces the golden checksums for the default seed (bit-identical on every platform)', () => {
    // Only exactly-rounded IEEE operations are used, so these hold on any engine; a change to the generator
    // must update them on purpose.
    expect(fnv32([ds.train.users, ds.train.items, ds.val.users, ds.val.items, ds.test.users, ds.test.items])).toBe('969b2949');
    const t = ds.text;
    expect(fnv32([t.userProfile!.data, t.itemProfile!.data, t.userIntent!.data, t.itemIntent!.data])).toBe('c48fc0d8');
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const again = syntheticDataset();
    for (const split of ['train', 'val', 'test'] as const) {
      expect(Array.from(again[split].users)).toEqual(Array.from(ds[split].users));
      expect(Array.from(again[split].items)).toEqual(Array.from(ds[split].items));
    }
    expect(Array.from(again.text.itemProfile!.data)).toEqual(Array.from(ds.text.itemProfile!.data));
    const other = syntheticDataset({ seed: 2 });
    expect(Array.from(other.train.items)).not.toEqual(Array.from(ds.train.items));
  });

  it('has the default sizes and about 8 interactions per user', () => {
    expect([ds.name, ds.numUsers, ds.numItems]).toEqual(['synthetic', 600, 800]);
    const total = ds.train.users.length + ds.val.users.length + ds.test.users.length;
    expect(total / ds.numUsers).toBeGreaterThan(6.5);
    expect(total / ds.numUsers).toBeLessThan(9.5);
  });

  it('gives every user training items; val/test items occur in train; splits are disjoint, sorted, in range', () => {
    const check = (d: Dataset) => {
      const trainUsers = new Set(d.train.users);
      for (let u = 0; u < d.numUsers; u++) expect(trainUsers.has(u)).toBe(true);
      const trainItems = new Set(d.train.items);
      for (const i of [...d.val.items, ...d.test.items]) expect(trainItems.has(i)).toBe(true);
      const all = [keys(d.train, d.numItems), keys(d.val, d.numItems), keys(d.test, d.numItems)];
      for (const k of all) {
        for (let p = 1; p < k.length; p++) expect(k[p]).toBeGreaterThan(k[p - 1]); // sorted by (user, item), no duplicates
        for (const x of k) expect(x).toBeLessThan(d.numUsers * d.numItems);
      }
      expect(new Set(all.flat()).size).toBe(all[0].length + all[1].length + all[2].length);
    };
    check(ds);
    check(syntheticDataset({ seed: 9, numUsers: 37, numItems: 23, numIntents: 3, interactionsPerUser: 5, textDim: 7 }));
  });

  it('has sparse, skewed item popularity (a long tail)', () => {
    const deg = new Uint32Array(ds.numItems);
    for (const i of ds.train.items) deg[i]++;
    const sorted = Array.from(deg).sort((a, b) => a - b);
    expect(sorted[sorted.length >> 1]).toBeLessThanOrEqual(5); // median item is rare
    expect(sorted[sorted.length - 1]).toBeGreaterThan(30); // head items are popular
  });

  it('gives unit-norm text embeddings of textDim for users and items', () => {
    for (const [m, rows] of [
      [ds.text.userProfile, 600],
      [ds.text.itemProfile, 800],
      [ds.text.userIntent, 600],
      [ds.text.itemIntent, 800],
    ] as const) {
      expect(m).toMatchObject({ rows, cols: 64 });
      for (let r = 0; r < rows; r++) expect(Math.abs(rowDot(m!, r, m!, r) - 1)).toBeLessThan(1e-5);
    }
  });

  it('puts signal in the text: users are closer to their held-out items than to random items', () => {
    const P = ds.text.userProfile!;
    const Q = ds.text.itemProfile!;
    let pos = 0;
    for (let k = 0; k < ds.test.users.length; k++) pos += rowDot(P, ds.test.users[k], Q, ds.test.items[k]);
    pos /= ds.test.users.length;
    let all = 0;
    for (let u = 0; u < ds.numUsers; u += 7) for (let i = 0; i < ds.numItems; i++) all += rowDot(P, u, Q, i);
    all /= Math.ceil(ds.numUsers / 7) * ds.numItems;
    expect(pos - all).toBeGreaterThan(0.2);
  });

  it('rejects bad options', () => {
    expect(() => syntheticDataset({ numUsers: 0 })).toThrow(/numUsers must be an integer ≥ 1/);
    expect(() => syntheticDataset({ textNoise: -1 })).toThrow(/textNoise/);
    expect(() => syntheticDataset({ numItems: 10, numIntents: 11 })).toThrow(/numIntents/);
  });
});
