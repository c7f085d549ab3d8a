/**
 * Seeded fuzzing of every loader (see ./fuzz.ts for the mutations and the per-case contract), and
 * structure-aware fuzzing that uses what it loads (./fuzz-use.ts: load, recommend, fit one step, resume).
 * CI size: 300 cases per loader, 40 per end-to-end target; `npm run fuzz` (bench/fuzz.ts) runs 10,000 of each.
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

describe('structure-aware fuzzing that uses what it loads (model file, checkpoint, dataset)', () => {
  const USE_CASES = 40;
  for (const name of ['model file → load, recommend, fit 1 step', 'checkpoint → resumeFrom, fit, recommend', 'dataset → datasetFromFiles, fit 1 step, recommend']) {
    it(`${name}: ${USE_CASES} edited inputs end in a correct result or a typed IrllrecError, quickly and without huge allocations`, async () => {
      const { fuzzUse, useTargets } = await import('./fuzz-use.js');
      const target = (await useTargets()).find((t) => t.name === name)!;
      expect(target).toBeDefined();
      // Every seed itself is used successfully.
      for (const s of target.seeds) await target.use(s);
      const report = await fuzzUse(target, USE_CASES, 20261206);
      const shown = report.failures.slice(0, 3).map((f) => `case ${f.caseIndex} [${f.mutations.join(' + ')}]: ${f.problem}`);
      expect(shown).toEqual([]);
      expect(report.valid + report.typed).toBe(USE_CASES);
      // Both outcomes occur: the edits reach the checks, and some edited inputs are still usable.
      expect(report.typed).toBeGreaterThan(USE_CASES / 4);
      expect(report.valid).toBeGreaterThan(0);
    }, 120_000);
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
  it('meta.json declaring 2^32 − 1 users or items is refused at once, naming the field, value and limit (was: loaded, then ~17 GiB planned downstream)', async () => {
    const { datasetFromFiles } = await import('../../src/data/interactions.js');
    const { IrllrecError } = await import('../../src/errors.js');
    const enc = new TextEncoder();
    for (const [key, count] of [['users', 4294967295], ['items', 100_000_000]] as const) {
      const before = process.memoryUsage().arrayBuffers;
      const t0 = performance.now();
      let err: unknown;
      try {
        datasetFromFiles({ 'train.tsv': enc.encode('5\t1\n0\t2\n5\t1\n7\t3\n'), 'val.tsv': enc.encode('0\t9\n'), 'meta.json': enc.encode(JSON.stringify({ [key]: count })) });
      } catch (e) {
        err = e;
      }
      expect(performance.now() - t0).toBeLessThan(200);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
      expect(err).toBeInstanceOf(IrllrecError);
      expect((err as InstanceType<typeof IrllrecError>).code).toBe('limit');
      expect((err as Error).message).toContain(`meta.json '${key}' = ${count} is over the limit of ${key === 'users' ? 2 * 8 + 1024 : 2 * 10 + 1024}`);
    }
    // Within the limit a declared count adds rows without interactions.
    const ds = datasetFromFiles({ 'train.tsv': enc.encode('5\t1\n0\t2\n5\t1\n7\t3\n'), 'meta.json': enc.encode(JSON.stringify({ users: 1040, items: 12 })) });
    expect([ds.numUsers, ds.numItems]).toEqual([1040, 12]);
    expect(Array.from(ds.train.users)).toEqual([0, 5, 7]);
  });
});
