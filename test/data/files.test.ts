import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { writeNpy } from '../../src/io/npy.js';
import { loadDatasetDir, loadInteractionsFile, writeFileAtomic } from '../../src/node/files.js';
import type { Interactions } from '../../src/data/types.js';
import { itWithData, sharedData } from '../helpers.js';


function isSortedUnique(inter: Interactions): boolean {
  for (let k = 1; k < inter.users.length; k++) {
    const du = inter.users[k] - inter.users[k - 1];
    if (du < 0 || (du === 0 && inter.items[k] <= inter.items[k - 1])) return false;
  }
  return true;
}

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'irllrec-files-'));
  tempDirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

describe('loadDatasetDir', () => {
  itWithData('loads ../shared/data/movielens with its four 512-d embedding files', async () => {
    const ds = await loadDatasetDir(sharedData('movielens'));
    expect([ds.name, ds.numUsers, ds.numItems]).toEqual(['movielens', 663, 4418]);
    expect([ds.train.users.length, ds.val.users.length, ds.test.users.length]).toEqual([35703, 11673, 11635]);
    for (const split of [ds.train, ds.val, ds.test]) expect(isSortedUnique(split)).toBe(true);
    expect(ds.text.userProfile).toMatchObject({ rows: 663, cols: 512 });
    expect(ds.text.userIntent).toMatchObject({ rows: 663, cols: 512 });
    expect(ds.text.itemProfile).toMatchObject({ rows: 4418, cols: 512 });
    expect(ds.text.itemIntent).toMatchObject({ rows: 4418, cols: 512 });
    expect(ds.warnings).toBeUndefined(); // every val/test item occurs in train; splits disjoint
    expect(ds.userIds).toBeUndefined();
  });

  itWithData('loads ../shared/data/amazon without text', async () => {
    const ds = await loadDatasetDir(sharedData('amazon'), { name: 'amazon-book' });
    expect([ds.name, ds.numUsers, ds.numItems]).toEqual(['amazon-book', 11000, 9332]);
    expect([ds.train.users.length, ds.val.users.length, ds.test.users.length]).toEqual([120464, 40290, 40106]);
    expect(ds.text).toEqual({});
  });

  it('names the directory, file, rows found and rows expected on an embedding row mismatch', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'train.tsv'), '0\t0\n1\t1\n2\t0\n');
    await writeFile(join(dir, 'user_intent.npy'), writeNpy({ rows: 2, cols: 4, data: new Float32Array(8) }));
    const err = await loadDatasetDir(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IrllrecError);
    expect((err as IrllrecError).message).toBe(`${dir}: user_intent.npy: 2 rows found, 3 expected (one per user: numUsers = 3)`);
  });

  it('fails clearly on a directory without train.tsv', async () => {
    const dir = await tempDir();
    await expect(loadDatasetDir(dir)).rejects.toThrow(/no train\.tsv in this directory/);
  });
});

describe('loadInteractionsFile', () => {
  it('splits a ratings CSV per user with a seed, keeping positives only', async () => {
    const dir = await tempDir();
    const rows = ['userId,movieId,rating,timestamp'];
    for (let u = 1; u <= 20; u++) for (let q = 0; q < 10; q++) rows.push(`${u},${100 + ((u * 3 + q * 7) % 50)},${q % 5 === 0 ? 2 : 4.5},${1e9 + q}`);
    const path = join(dir, 'ratings.csv');
    await writeFile(path, rows.join('\r\n'));
    const a = await loadInteractionsFile(path, { seed: 2023, val: 0.2, test: 0.2, minRating: 3.5 });
    const b = await loadInteractionsFile(path, { seed: 2023, val: 0.2, test: 0.2, minRating: 3.5 });
    expect(a.name).toBe('ratings');
    expect(a.train.users.length + a.val.users.length + a.test.users.length).toBeLessThanOrEqual(20 * 8);
    expect(Array.from(a.test.items)).toEqual(Array.from(b.test.items));
    expect(new Set(a.train.users).size).toBe(20); // users 1…20 kept as ids (dense enough), 0 has nothing
    expect(a.numUsers).toBe(21);
  });
});

describe('writeFileAtomic', () => {
  it('writes and replaces a file, leaving no temporary file behind', async () => {
    const dir = await tempDir();
    const path = join(dir, 'model.safetensors');
    await writeFileAtomic(path, Uint8Array.of(1, 2, 3));
    expect(Array.from(await readFile(path))).toEqual([1, 2, 3]);
    await writeFileAtomic(path, 'replaced');
    expect(await readFile(path, 'utf8')).toBe('replaced');
    expect(await readdir(dir)).toEqual(['model.safetensors']);
  });

  it('streams the parts of an async iterable; one that throws leaves the previous file and no temporary file', async () => {
    const dir = await tempDir();
    const path = join(dir, 'recs.tsv');
    async function* parts(fail: boolean) {
      yield 'user\titem\n';
      yield Uint8Array.from(Buffer.from('a\t1\n'));
      if (fail) throw new Error('device lost mid-export');
      yield 'b\t2\n';
    }
    await writeFileAtomic(path, parts(false));
    expect(await readFile(path, 'utf8')).toBe('user\titem\na\t1\nb\t2\n');
    await expect(writeFileAtomic(path, parts(true))).rejects.toThrow(/device lost mid-export/);
    expect(await readFile(path, 'utf8')).toBe('user\titem\na\t1\nb\t2\n');
    expect(await readdir(dir)).toEqual(['recs.tsv']);
  });

  it('removes the temporary file when the final rename fails', async () => {
    const dir = await tempDir();
    const target = join(dir, 'occupied');
    await mkdir(target);
    await writeFile(join(target, 'inner'), 'x'); // a non-empty directory cannot be replaced by a file
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['occupied']);
  });

  it('fails when the directory does not exist', async () => {
    const dir = await tempDir();
    await expect(writeFileAtomic(join(dir, 'missing', 'f.bin'), 'x')).rejects.toThrow(/ENOENT/);
  });
});
