import { describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { datasetFromFiles, datasetFromSplits, parseInteractionText, splitInteractions } from '../../src/data/interactions.js';
import type { Interactions } from '../../src/data/types.js';
import { writeNpy } from '../../src/io/npy.js';

function pairs(inter: Interactions): [number, number][] {
  return Array.from(inter.users, (u, k) => [u, inter.items[k]]);
}

/** Runs fn and returns the IrllrecError it throws (fails the test if it throws nothing or something else). */
function thrown(fn: () => unknown): IrllrecError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(IrllrecError);
    return e as IrllrecError;
  }
  throw new Error('expected an IrllrecError, nothing was thrown');
}

describe('parseInteractionText', () => {
  it('parses tab-separated user/item lines as string ids', () => {
    const p = parseInteractionText('0\t8\n0\t14\n3\t2\n');
    expect(p.users).toEqual(['0', '0', '3']);
    expect(p.items).toEqual(['8', '14', '2']);
    expect(p.ratings).toBeUndefined();
    expect(p.timestamps).toBeUndefined();
  });

  it('ignores CRLF line ends, blank lines and surrounding spaces', () => {
    const p = parseInteractionText('\r\n1\t2\r\n\r\n  \n3\t4 \r\n');
    expect(p.users).toEqual(['1', '3']);
    expect(p.items).toEqual(['2', '4']);
  });

  it('reads commas and runs of spaces as separators', () => {
    expect(parseInteractionText('1,2\n3, 4\n').items).toEqual(['2', '4']);
    expect(parseInteractionText('1   2\n3 4\n').items).toEqual(['2', '4']);
    expect(parseInteractionText('"a1","b2"\n').users).toEqual(['a1']);
  });

  it('detects a header line with ratings and timestamps (MovieLens ratings.csv)', () => {
    const p = parseInteractionText('userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1260759179\n');
    expect(p.users).toEqual(['1', '1']);
    expect(p.items).toEqual(['31', '1029']);
    expect(Array.from(p.ratings!)).toEqual([2.5, 3]);
    expect(Array.from(p.timestamps!)).toEqual([1260759144, 1260759179]);
  });

  it('detects a header by column names even when the ids are strings', () => {
    expect(parseInteractionText('user_id\titem_id\nalice\tbookA\n').users).toEqual(['alice']);
    expect(parseInteractionText('user item\nalice 5\nbob 7\n').users).toEqual(['alice', 'bob']);
  });

  it('keeps a first line of string ids that is not a header', () => {
    expect(parseInteractionText('alice\t5\nbob\t7\n').users).toEqual(['alice', 'bob']);
    expect(parseInteractionText('0\t1\n').users).toEqual(['0']);
  });

  it('names the source and line of a line with too few fields', () => {
    const e = thrown(() => parseInteractionText('0\t1\n\n2\n', 'train.tsv'));
    expect(e.code).toBe('data');
    expect(e.message).toMatch(/train\.tsv line 3/);
    expect(e.message).toMatch(/expected 2 fields/);
  });

  it('rejects a non-numeric rating with its line number', () => {
    const e = thrown(() => parseInteractionText('u,i,r\n1,2,4\n1,3,good\n', 'r.csv'));
    expect(e.message).toMatch(/r\.csv line 3: rating 'good' is not a number/);
  });

  it('rejects more than four fields and empty ids', () => {
    expect(thrown(() => parseInteractionText('1 2 3 4 5\n')).message).toMatch(/line 1: expected 2 to 4 fields/);
    expect(thrown(() => parseInteractionText('1,2\n,3\n')).message).toMatch(/line 2: empty user id/);
  });

  it('returns empty arrays for empty text', () => {
    expect(parseInteractionText('\n\n').users).toEqual([]);
  });
});

describe('datasetFromSplits', () => {
  it('sorts each split by (user, item) and removes duplicates', () => {
    const ds = datasetFromSplits({ train: '2\t1\n0\t3\n0\t1\n2\t1\n0\t3\n', val: '1\t1\n', test: '2\t3\n' });
    expect(pairs(ds.train)).toEqual([
      [0, 1],
      [0, 3],
      [2, 1],
    ]);
    expect(ds.numUsers).toBe(3);
    expect(ds.numItems).toBe(4);
    expect(ds.userIds).toBeUndefined();
    expect(ds.warnings).toContain('train: 2 duplicate pairs removed');
  });

  it('takes numUsers/numItems from options and rejects ids out of range, naming split and line', () => {
    const ds = datasetFromSplits({ train: '0\t0\n1\t1\n' }, { numUsers: 5, numItems: 7 });
    expect([ds.numUsers, ds.numItems]).toEqual([5, 7]);
    expect(ds.val.users.length).toBe(0);
    const e = thrown(() => datasetFromSplits({ train: '0\t0\n', test: '0\t1\n1\t2\n1\t5\n' }, { numUsers: 2, numItems: 5 }));
    expect(e.code).toBe('range');
    expect(e.message).toMatch(/test line 3: item id 5 is out of range \(numItems = 5\)/);
  });

  it('maps string ids in order of first appearance in train, then val, then test', () => {
    const ds = datasetFromSplits({ train: 'bob\tx\nalice\ty\nbob\ty\n', val: 'carol\tx\n', test: 'alice\tz\n' });
    expect(ds.userIds).toEqual(['bob', 'alice', 'carol']);
    expect(ds.itemIds).toEqual(['x', 'y', 'z']);
    expect(pairs(ds.train)).toEqual([
      [0, 0],
      [0, 1],
      [1, 1],
    ]);
    expect(pairs(ds.val)).toEqual([[2, 0]]);
    expect(pairs(ds.test)).toEqual([[1, 2]]);
  });

  it('remaps very sparse numeric ids and keeps the originals', () => {
    const ds = datasetFromSplits({ train: '5\t193609\n5\t31\n9\t31\n' });
    expect(ds.numItems).toBe(2);
    expect(ds.itemIds).toEqual(['193609', '31']);
    expect(ds.numUsers).toBe(10); // users 0…9 are dense enough to keep as they are
    expect(ds.userIds).toBeUndefined();
  });

  it('keeps only ratings ≥ minRating, and needs a rating column for it', () => {
    const ds = datasetFromSplits({ train: 'u,i,r\n0,0,5\n0,1,2\n1,1,3.5\n' }, { minRating: 3.5 });
    expect(pairs(ds.train)).toEqual([
      [0, 0],
      [1, 1],
    ]);
    expect(thrown(() => datasetFromSplits({ train: '0\t0\n' }, { minRating: 3 })).message).toMatch(/no rating column/);
  });

  it('accepts val/test items absent from train with a warning, not an error', () => {
    const ds = datasetFromSplits({ train: '0\t0\n1\t1\n', val: '0\t2\n', test: '1\t0\n' });
    expect(ds.numItems).toBe(3);
    expect(ds.warnings).toEqual(['val: 1 pairs have an item with no training interaction']);
  });

  it('rejects an empty training split', () => {
    expect(thrown(() => datasetFromSplits({ train: '\n' })).message).toMatch(/no interactions/);
  });
});

describe('splitInteractions', () => {
  // 30 users with 10 distinct items each over 40 items, plus duplicates.
  const lines: string[] = [];
  for (let u = 0; u < 30; u++) for (let q = 0; q < 10; q++) lines.push(`${u}\t${(u * 7 + q * 3) % 40}`);
  const text = `${lines.join('\n')}\n0\t0\n`;

  it('splits each user 60/20/20, disjoint, deterministic per seed', () => {
    const a = splitInteractions(text, { seed: 2023, val: 0.2, test: 0.2, dropUnseen: false });
    const b = splitInteractions(text, { seed: 2023, val: 0.2, test: 0.2, dropUnseen: false });
    const c = splitInteractions(text, { seed: 7, val: 0.2, test: 0.2, dropUnseen: false });
    expect(pairs(a.train)).toEqual(pairs(b.train));
    expect(pairs(a.test)).toEqual(pairs(b.test));
    expect(pairs(a.test)).not.toEqual(pairs(c.test));
    for (let u = 0; u < 30; u++) {
      const per = (s: Interactions) => pairs(s).filter(([x]) => x === u).map(([, i]) => i);
      const [tr, va, te] = [per(a.train), per(a.val), per(a.test)];
      expect([tr.length, va.length, te.length]).toEqual([6, 2, 2]);
      expect(new Set([...tr, ...va, ...te]).size).toBe(10);
    }
  });

  it('keeps at least one training item per user', () => {
    const ds = splitInteractions('0\t0\n1\t1\n1\t2\n', { seed: 1, val: 0.4, test: 0.4 });
    expect(pairs(ds.train).map(([u]) => u)).toContain(0);
    expect(pairs(ds.train).map(([u]) => u)).toContain(1);
  });

  it('drops val/test pairs whose item never occurs in train (default)', () => {
    const ds = splitInteractions(text, { seed: 3, val: 0.2, test: 0.2 });
    const seen = new Set(ds.train.items);
    for (const i of [...ds.val.items, ...ds.test.items]) expect(seen.has(i)).toBe(true);
  });

  it('rejects bad fractions', () => {
    expect(thrown(() => splitInteractions(text, { seed: 1, val: 0.6, test: 0.5 })).message).toMatch(/val \+ test must be < 1/);
    expect(thrown(() => splitInteractions(text, { seed: 1.5, val: 0.2, test: 0.2 })).message).toMatch(/seed/);
  });
});

describe('datasetFromFiles', () => {
  const emb = (rows: number, cols: number) => writeNpy({ rows, cols, data: new Float32Array(rows * cols).fill(0.5) });

  it('reads splits, meta.json counts and embeddings', () => {
    const ds = datasetFromFiles({
      'train.tsv': new TextEncoder().encode('0\t0\n1\t2\n'),
      'test.tsv': '1\t0\n',
      'meta.json': '{"users": 3, "items": 4, "name": "tiny"}',
      'user_profile.npy': emb(3, 5),
      'item_intent.npy': emb(4, 2),
      'notes.txt': 'ignored',
    });
    expect([ds.name, ds.numUsers, ds.numItems]).toEqual(['tiny', 3, 4]);
    expect(ds.text.userProfile).toMatchObject({ rows: 3, cols: 5 });
    expect(ds.text.itemIntent).toMatchObject({ rows: 4, cols: 2 });
    expect(ds.text.itemProfile).toBeUndefined();
  });

  it('names the embedding file, rows found and rows expected on a row mismatch', () => {
    const e = thrown(() => datasetFromFiles({ 'train.tsv': '0\t0\n', 'meta.json': '{"users": 2, "items": 3}', 'item_profile.npy': emb(2, 4) }));
    expect(e.code).toBe('shape');
    expect(e.message).toMatch(/item_profile\.npy: 2 rows found, 3 expected/);
  });

  it('requires train.tsv and binary .npy contents', () => {
    expect(thrown(() => datasetFromFiles({ 'val.tsv': '0\t0\n' })).message).toMatch(/'train\.tsv' is missing/);
    expect(thrown(() => datasetFromFiles({ 'train.tsv': '0\t0\n', 'user_intent.npy': 'x' })).message).toMatch(/user_intent\.npy: must be given as bytes/);
    expect(thrown(() => datasetFromFiles({ 'train.tsv': '0\t0\n', 'meta.json': '{"users": -1}' })).message).toMatch(/meta\.json: 'users'/);
    expect(thrown(() => datasetFromFiles({ 'train.tsv': new Uint8Array([0x30, 0x09, 0xff, 0x0a]) })).message).toMatch(/train\.tsv: not valid UTF-8/);
  });

  it('names the file and line of a bad row', () => {
    expect(thrown(() => datasetFromFiles({ 'train.tsv': '0\t0\n', 'val.tsv': '0\t1\nx\n' })).message).toMatch(/val\.tsv line 2/);
  });
});
