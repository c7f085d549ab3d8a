/**
 * Seeded fuzzing of every loader (see ./fuzz.ts for the mutations and the per-case contract). CI size:
 * 300 cases per loader; `npm run fuzz` (bench/fuzz.ts) runs 10,000.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type FuzzTarget, fuzzTarget, fuzzTargets } from './fuzz.js';

const CASES = 300;
let targets: FuzzTarget[] = [];

beforeAll(async () => {
  targets = await fuzzTargets();
});

describe('loader fuzzing', () => {
  for (const name of ['interactions (tsv/csv)', 'npy', 'safetensors', 'model file', 'checkpoint']) {
    it(`${name}: ${CASES} mutated inputs end in a result or a typed IrllrecError, quickly and without huge allocations`, () => {
      const target = targets.find((t) => t.name === name)!;
      expect(target).toBeDefined();
      // Every seed itself loads.
      for (const s of target.seeds) expect(() => target.load(s)).not.toThrow();
      const report = fuzzTarget(target, CASES, 20261122);
      const shown = report.failures.slice(0, 3).map((f) => `case ${f.caseIndex} [${f.mutations.join(' + ')}]: ${f.problem}`);
      expect(shown).toEqual([]);
      expect(report.valid + report.typed).toBe(CASES);
      // The mutations must actually reach the error paths.
      expect(report.typed).toBeGreaterThan(CASES / 4);
    });
  }
});

describe('the fuzz harness itself', () => {
  it('reports untyped exceptions, empty messages, slow cases and oversized allocations', async () => {
    const { IrllrecError } = await import('../../src/errors.js');
    const seeds = [new Uint8Array(64)];
    const run = (load: (b: Uint8Array) => unknown, maxCaseMs?: number) => fuzzTarget({ name: 'broken', seeds, load }, 20, 3, { maxCaseMs });
    expect(run(() => null).failures).toEqual([]);
    expect(run(() => { throw new IrllrecError('format', 'bad'); }).typed).toBe(20);
    expect(run((b) => b[1000]!.toFixed()).failures.length).toBe(20); // TypeError
    expect(run(() => { throw new IrllrecError('format', ' '); }).failures.length).toBe(20);
    expect(run(() => { throw 'a string'; }).failures.length).toBe(20);
    expect(run(() => { const t = Date.now(); while (Date.now() - t < 3); }, 1).failures.length).toBe(20);
    const kept: ArrayBuffer[] = [];
    expect(run(() => kept.push(new ArrayBuffer(80 << 20))).failures[0].problem).toMatch(/arrayBuffers grew/);
    kept.length = 0;
  });
});

describe('regressions found by the fuzzer', () => {
  it("meta.json declaring 2^32 − 1 users and items loads without allocating per-user tables (was: ~17 GiB, OOM)", async () => {
    const { datasetFromFiles } = await import('../../src/data/interactions.js');
    const enc = new TextEncoder();
    for (const count of [4294967295, 100_000_000]) {
      const before = process.memoryUsage().arrayBuffers;
      const t0 = performance.now();
      const ds = datasetFromFiles({
        'train.tsv': enc.encode('5\t1\n0\t2\n5\t1\n7\t3\n'),
        'val.tsv': enc.encode('0\t9\n'),
        'meta.json': enc.encode(JSON.stringify({ users: count, items: count })),
      });
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
      expect([ds.numUsers, ds.numItems]).toEqual([count, count]);
      // Same sorting, deduplication and warnings as the dense path.
      expect(Array.from(ds.train.users)).toEqual([0, 5, 7]);
      expect(Array.from(ds.train.items)).toEqual([2, 1, 3]);
      expect(ds.warnings).toEqual(['train: 1 duplicate pairs removed', 'val: 1 pairs have an item with no training interaction']);
    }
  });
});
