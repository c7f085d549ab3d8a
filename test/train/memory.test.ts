/**
 * Memory budget (src/train/memory.ts, fit's maxMemory) and the memory report (src/gpu/memory.ts).
 */
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/data/graph.js';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { IrllrecError } from '../../src/errors.js';
import { MEMORY_ROLES, MemoryProfiler, memoryRole, memoryTable } from '../../src/gpu/memory.js';
import { modelConfig } from '../../src/models/config.js';
import { modelPlanInput, towerMemory } from '../../src/models/plan.js';
import { parseMemorySize } from '../../src/node/cli-memory.js';
import { createModel, fit } from '../../src/train/trainer.js';
import { planTraining } from '../../src/train/memory.js';
import { gpu } from '../helpers.js';

const data = syntheticDataset({ seed: 4, numUsers: 300, numItems: 250, textDim: 96, interactionsPerUser: 6 });
const config = modelConfig('irllrec', 'default', { sslWeight: 0.1, itmWeight: 0.1 });
const input = modelPlanInput(config, { ...data, graph: buildGraph(data) });
const plan = (maxMemory?: number, usersPerChunk?: number) => planTraining(input, { batchSize: 128, k: 20, evalUsers: data.numUsers, usersPerChunk, maxMemory, where: 'test' });

describe('planTraining: the fastest plan that fits the budget', () => {
  it('recomputes the towers in smaller blocks and evaluates in smaller chunks as the budget shrinks, and refuses what cannot fit', () => {
    // The amazon shape (pure arithmetic: nothing is allocated): 1536-d text, hidden 784, 4096 per batch.
    const amazon = { config: modelConfig('irllrec', 'amazon'), numUsers: 11000, numItems: 9332, edges: 240928, profileDim: 1536, intentDim: 1536, withText: true };
    const at = (maxMemory?: number) => planTraining(amazon, { batchSize: 4096, k: 20, evalUsers: 11000, maxMemory, where: 'amazon' });
    const free = at();
    expect(free.towers).toEqual({ blockRows: Math.floor((4 << 20) / (4 * 1536)), keepActivations: false });
    expect(free.usersPerChunk).toBe(2048);
    expect(free.bytes.total).toBe(free.bytes.model + free.bytes.step + free.bytes.evaluate);
    // Text tables alone are 2 × 20332 × 1536 × 4 bytes.
    expect(free.bytes.model).toBeGreaterThan(2 * 20332 * 1536 * 4);
    // A budget at or above the default plan's bytes changes nothing.
    expect(at(2 ** 31)).toEqual(free);
    expect(at(free.bytes.total)).toEqual(free);
    // Less: smaller evaluation chunks or tower blocks, never more than the budget.
    const tighter = at(free.bytes.total - 1);
    expect(tighter.towers.blockRows < free.towers.blockRows || tighter.usersPerChunk < free.usersPerChunk).toBe(true);
    expect(tighter.bytes.total).toBeLessThanOrEqual(free.bytes.total - 1);
    // Down to the smallest budget that fits, in 1 MiB steps: never over budget, blocks never grow, and both
    // the blocks and the evaluation chunks have shrunk before the plan gives up.
    let budget = free.bytes.total;
    let last = free;
    for (;;) {
      budget -= 1 << 20;
      let p: typeof free;
      try {
        p = at(budget);
      } catch (e) {
        expect((e as IrllrecError).code).toBe('limit');
        break;
      }
      expect(p.bytes.total).toBeLessThanOrEqual(budget);
      expect(p.towers.blockRows).toBeLessThanOrEqual(last.towers.blockRows);
      last = p;
    }
    expect(last.towers.blockRows).toBeLessThan(free.towers.blockRows);
    expect(last.usersPerChunk).toBeLessThan(2048);
    let error: unknown;
    try {
      at(free.bytes.model);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(IrllrecError);
    expect((error as IrllrecError).code).toBe('limit');
    expect((error as Error).message).toMatch(/amazon: the run needs at least [\d.]+ MiB of device memory but maxMemory is [\d.]+ MiB: [\d.]+ MiB for the model/);
    expect(() => at(0)).toThrow(/maxMemory must be a positive number/);
  });

  it('fit refuses a budget it cannot meet before allocating anything; under a budget it trains to the same results', async () => {
    const be = await gpu();
    const before = be.poolStats.created;
    const opts = { model: config, epochs: 1, maxSteps: 2, batchSize: 128, seed: 3 };
    await expect(fit(be, data, { ...opts, maxMemory: 64 * 1024 })).rejects.toThrow(/fit|createModel/);
    await expect(fit(be, data, { ...opts, maxMemory: 64 * 1024 })).rejects.toMatchObject({ code: 'limit' });
    expect(be.poolStats.created).toBe(before);
    expect(() => createModel(be, data, { model: config, batchSize: 128, maxMemory: 64 * 1024 })).toThrow(/maxMemory is 0\.1 MiB/);
    expect(be.poolStats.created).toBe(before);
    const free = await fit(be, data, opts);
    // A budget that forces recomputed towers in smaller blocks or smaller evaluation chunks.
    const squeezed = await fit(be, data, { ...opts, maxMemory: plan().bytes.total - 1 });
    expect(squeezed.history.map((h) => h.losses)).toEqual(free.history.map((h) => h.losses));
    expect(squeezed.test).toEqual(free.test);
    expect(squeezed.val).toEqual(free.val);
    const roomy = await fit(be, data, { ...opts, maxMemory: 1 << 30 });
    expect(roomy.history.map((h) => h.losses)).toEqual(free.history.map((h) => h.losses));
    expect(roomy.test).toEqual(free.test);
    for (const r of [free, squeezed, roomy]) r.model.dispose();
  });
});

describe('memory report', () => {
  it('names the role of every buffer label the model and its phases use', () => {
    const cases: [string, string][] = [
      ['text.profile', 'text tables'],
      ['E0', 'parameters'],
      ['int_mlp.0.weight', 'parameters'],
      ['mlp.2.bias', 'parameters'],
      ['grad.E0', 'gradients'],
      ['adam.v.mlp.0.weight', 'Adam moments'],
      ['int_mlp_m.0.weight', 'teacher'],
      ['profile.A', 'profile tower activations'],
      ['intent.gH', 'intent tower activations'],
      ['teacher.h', 'teacher tower activations'],
      ['eval.items', 'evaluation blocks'],
      ['scoreTopKAuto.scoreBlock', 'evaluation blocks'],
      ['snapshot.E0', 'snapshot (best epoch)'],
      ['graph.colIdx', 'graph'],
      ['E1', 'step temporaries'],
      ['mlp.h', 'step temporaries'],
    ];
    for (const [label, role] of cases) expect(memoryRole(label), label).toBe(role);
  });

  it('reports the sample with the largest RSS; the roles add up to it on a software adapter', async () => {
    const be = await gpu();
    let rss = 500 << 20;
    const profiler = new MemoryProfiler(be.pool, { rss: () => rss, arrayBuffers: () => 7 << 20, heap: () => 20 << 20, highWaterMark: () => 900 << 20 }, true);
    const t = be.zeros([1 << 20], 'f32', 'text.intent');
    const g = be.zeros([1 << 18], 'f32', 'grad.E0');
    profiler.sample('first');
    rss = 400 << 20;
    profiler.sample('lower');
    const r = profiler.report();
    expect(r.peak.where).toBe('first');
    expect(r.samples).toBe(2);
    expect(r.highWaterMark).toBe(900 << 20);
    expect(r.peak.roles['text tables']).toBe(4 << 20);
    expect(r.peak.roles.gradients).toBe(1 << 20);
    expect(r.peak.roles['host arrays (JS)']).toBe(7 << 20);
    const sum = MEMORY_ROLES.reduce((s, k) => s + r.peak.roles[k], 0);
    expect(sum).toBe(500 << 20);
    expect(memoryTable(r)).toMatch(/text tables\s+4\.0/);
    t.dispose();
    g.dispose();
  });

  it('--max-memory sizes: bytes or binary units; anything else is refused', () => {
    expect(parseMemorySize('1G')).toBe(1024 ** 3);
    expect(parseMemorySize('768M')).toBe(768 * 1024 ** 2);
    expect(parseMemorySize('1.5GiB')).toBe(1.5 * 1024 ** 3);
    expect(parseMemorySize('4096')).toBe(4096);
    for (const bad of ['', '0', '-1G', '1T', 'lots', '1e9']) expect(() => parseMemorySize(bad), bad).toThrow(/--max-memory must be a positive size/);
  });
});
