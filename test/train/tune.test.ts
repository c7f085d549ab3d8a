import { describe, expect, it } from 'vitest';
import { syntheticDataset } from '../../src/data/synthetic.js';
import type { Dataset } from '../../src/data/types.js';
import { IrllrecError } from '../../src/errors.js';
import { MODEL_KINDS } from '../../src/models/config.js';
import { parseRunConfig } from '../../src/train/runconfig.js';
import { fit } from '../../src/train/trainer.js';
import {
  type Objective,
  type SearchSpace,
  type StudySettingsInput,
  type StudyState,
  type StudyStore,
  type TrialConfig,
  defaultSearchSpace,
  parseSearchSpace,
  rungBudgets,
  runStudy,
  studySettings,
  tune,
} from '../../src/train/tune.js';
import { Rng } from '../../src/util/random.js';
import { cpu } from '../helpers.js';

const SPACE: SearchSpace = {
  lr: { type: 'float', low: 1e-4, high: 1e-1, log: true },
  layers: { type: 'int', low: 1, high: 4 },
  embeddingDim: { type: 'choice', values: [16, 32, 64] },
};

/** Known optimum: lr 3e-3, 2 layers, width 32; the score rises with the epochs trained. */
function quality(c: TrialConfig): number {
  return 1 - Math.abs(Math.log10(Number(c.lr)) - Math.log10(3e-3)) / 3 - 0.1 * Math.abs(Number(c.layers) - 2) - (c.embeddingDim === 32 ? 0 : 0.05);
}
const scoreAt = (c: TrialConfig, epochs: number) => quality(c) * (1 - Math.exp(-epochs / 4));

/**
 * A fake objective on a fake clock: every epoch costs `secondsPerEpoch`; a trial continues from the epochs in
 * its slot (else from 0); it reports after each epoch and stops when its signal fires.
 */
function fake(clock: { t: number }, secondsPerEpoch = 1, calls: { trial: number; rung: number; from: number }[] = []): Objective {
  return async (config, budget, ctx) => {
    const from = (ctx.slot.value as number | undefined) ?? 0;
    calls.push({ trial: ctx.trial, rung: ctx.rung, from });
    let e = from;
    while (e < budget && !ctx.signal.aborted) {
      clock.t += secondsPerEpoch;
      e++;
      ctx.epochDone();
    }
    ctx.slot.value = e;
    return { recall: scoreAt(config, e), ndcg: scoreAt(config, e) / 2, epochs: e, bestEpoch: e - 1, stoppedEarly: false, aborted: e < budget };
  };
}

const settings = (over: Partial<StudySettingsInput> = {}) => studySettings({ model: 'lightgcn', space: SPACE, trials: 9, eta: 3, epochs: 9, minEpochs: 1, seed: 7, ...over });

/** A store that keeps the state as JSON text (so it must be JSON-serialisable, and nothing is shared). */
function memoryStore(): StudyStore & { text: string | null; saves: number } {
  return {
    text: null,
    saves: 0,
    load() {
      return this.text === null ? null : (JSON.parse(this.text) as StudyState);
    },
    save(state) {
      this.text = JSON.stringify(state);
      this.saves++;
    },
  };
}

/** What a study decided: every trial's config, status and rung results (without timings). */
const decisions = (state: StudyState) => state.trials.map((t) => ({ id: t.id, config: t.config, status: t.status, admitted: t.admitted, rungs: t.rungs.map(({ seconds: _, ...r }) => r) }));

describe('tune: search spaces', () => {
  it('accepts the default space of every model kind, and refuses alignment fields on models without them', () => {
    for (const kind of MODEL_KINDS) expect(Object.keys(parseSearchSpace(defaultSearchSpace(kind), 'default', kind))).toEqual(Object.keys(defaultSearchSpace(kind)));
    // The backbones search L_cl's weight and temperature; SGL its keep rate, SimGCL its noise instead.
    expect(Object.keys(defaultSearchSpace('sgl_int'))).toEqual(expect.arrayContaining(['clWeight', 'clTemperature', 'keepRate', 'intWeight', 'kdWeight']));
    expect(Object.keys(defaultSearchSpace('simgcl'))).toEqual(expect.arrayContaining(['clWeight', 'clTemperature', 'noiseEps']));
    expect(Object.keys(defaultSearchSpace('simgcl'))).not.toContain('keepRate');
    expect(() => parseSearchSpace(defaultSearchSpace('simgcl'), 'space.json', 'sgl')).toThrow(/field 'noiseEps' has no effect on model 'sgl'/);
    expect(() => parseSearchSpace({ sslWeight: { type: 'float', low: 1e-8, high: 1e-6, log: true } }, 'space.json', 'sgl_int')).toThrow(/field 'sslWeight' has no effect on model 'sgl_int'/);
    expect(() => parseSearchSpace({ clWeight: { type: 'float', low: 1e-3, high: 1e-1, log: true } }, 'space.json', 'irllrec')).toThrow(/field 'clWeight' has no effect on model 'irllrec'/);
    expect(Object.keys(defaultSearchSpace('irllrec'))).toEqual(expect.arrayContaining(['intWeight', 'intTemperature', 'kdWeight', 'kdTemperature', 'lr', 'reg', 'layers', 'embeddingDim', 'keepRate']));
    expect(() => parseSearchSpace(defaultSearchSpace('irllrec'), 'space.json', 'lightgcn')).toThrow(/space\.json: field 'kdWeight' has no effect on model 'lightgcn'/);
  });

  const bad: [string, unknown, RegExp][] = [
    ['not an object', [1, 2], /must be a JSON object/],
    ['empty space', {}, /no fields to search/],
    ['unknown field', { learningRate: { type: 'float', low: 1, high: 2 } }, /field 'learningRate': unknown/],
    ['study field', { epochs: { type: 'int', low: 1, high: 9 } }, /field 'epochs' is a setting of the whole study/],
    ['unknown type', { lr: { type: 'uniform', low: 1e-4, high: 1e-2 } }, /"type" must be "float", "int" or "choice", got "uniform"/],
    ['unknown key', { lr: { type: 'float', low: 1e-4, high: 1e-2, step: 2 } }, /unknown key 'step' for type 'float'/],
    ['inverted range', { reg: { type: 'float', low: 1e-3, high: 1e-5 } }, /field 'reg': inverted range: low 0\.001 > high 0\.00001/],
    ['empty range', { layers: { type: 'int', low: 2, high: 2 } }, /field 'layers': empty range: low = high = 2/],
    ['log range through 0', { reg: { type: 'float', low: 0, high: 1e-3, log: true } }, /field 'reg': a log range needs low > 0, got low 0/],
    ['negative weight', { kdWeight: { type: 'float', low: -1e-2, high: 1e-2 } }, /field 'kdWeight': low -0\.01 is not allowed: kdWeight must be a number ≥ 0/],
    ['keepRate above 1', { keepRate: { type: 'float', low: 0.5, high: 1.5 } }, /field 'keepRate': high 1\.5 is not allowed: keepRate must be a number in \(0, 1\]/],
    ['zero temperature', { intTemperature: { type: 'choice', values: [0.1, 0] } }, /field 'intTemperature': choice 0 is not allowed: intTemperature must be a positive number/],
    ['empty choice', { embeddingDim: { type: 'choice', values: [] } }, /field 'embeddingDim': "values" must be a non-empty list/],
    ['repeated choice', { embeddingDim: { type: 'choice', values: [32, 32] } }, /lists a value twice/],
    ['float over an integer field', { layers: { type: 'float', low: 1, high: 4 } }, /layers takes integers/],
    ['fractional int ends', { layers: { type: 'int', low: 1.5, high: 4 } }, /an int range needs integer ends/],
    ['string choice for a number', { lr: { type: 'choice', values: ['fast'] } }, /choice "fast" is not allowed: lr must be a positive number/],
    ['non-numeric end', { lr: { type: 'float', low: '1e-4', high: 1e-2 } }, /"low" and "high" must be finite numbers/],
  ];
  for (const [what, space, message] of bad) {
    it(`refuses a bad space before any trial: ${what}`, async () => {
      expect(() => parseSearchSpace(space, 'space.json', 'irllrec')).toThrow(message);
      try {
        parseSearchSpace(space, 'space.json', 'irllrec');
      } catch (e) {
        expect(e).toBeInstanceOf(IrllrecError);
        expect((e as Error).message.startsWith('space.json: ')).toBe(true);
      }
      // Through the real tuner: it fails before any training (no progress ever reported).
      let reports = 0;
      const ds = syntheticDataset({ seed: 1, numUsers: 30, numItems: 40, numIntents: 4, textDim: 8 });
      await expect(tune(cpu('f32'), ds, { model: 'irllrec', space: space as SearchSpace, onProgress: () => reports++ })).rejects.toThrow(message);
      expect(reports).toBe(0);
    });
  }

  it('refuses bad study settings', () => {
    expect(() => studySettings({ model: 'lightgcn', trials: 0 })).toThrow(/trials must be an integer ≥ 1, got 0/);
    expect(() => studySettings({ model: 'lightgcn', eta: 1 })).toThrow(/eta must be an integer ≥ 2, got 1/);
    expect(() => studySettings({ model: 'lightgcn', epochs: 3, minEpochs: 5 })).toThrow(/minEpochs 5 exceeds epochs 3/);
    expect(() => studySettings({ model: 'lightgcn', lr: -1 })).toThrow(/lr must be a positive number, got -1/);
  });
});

describe('tune: the scheduler on a fake objective', () => {
  it('rung budgets divide by η down to the smallest allowed', () => {
    expect(rungBudgets(9, 3, 1)).toEqual([1, 3, 9]);
    expect(rungBudgets(30, 3, 4)).toEqual([10, 30]);
    expect(rungBudgets(3, 3, 4)).toEqual([3]);
    expect(rungBudgets(16, 2, 2)).toEqual([2, 4, 8, 16]);
  });

  it('successive halving promotes the best 1/η at each rung and continues survivors from their state', async () => {
    const clock = { t: 0 };
    const calls: { trial: number; rung: number; from: number }[] = [];
    const r = await runStudy({ settings: settings(), objective: fake(clock, 1, calls), clock: () => clock.t });
    expect(r.stopped).toBe('complete');
    const byQuality = [...r.trials].sort((a, b) => quality(b.config) - quality(a.config) || a.id - b.id).map((t) => t.id);
    const admitted = (k: number) => r.trials.filter((t) => t.admitted >= k).map((t) => t.id).sort((a, b) => a - b);
    expect(admitted(0)).toHaveLength(9);
    expect(admitted(1)).toEqual(byQuality.slice(0, 3).sort((a, b) => a - b));
    expect(admitted(2)).toEqual(byQuality.slice(0, 1));
    expect(r.best?.trial).toBe(byQuality[0]);
    expect(r.best?.rung).toBe(2);
    expect(r.best?.recall).toBe(scoreAt(r.trials[byQuality[0]].config, 9));
    expect(r.trials.map((t) => t.status).sort()).toEqual(['done', ...Array(8).fill('pruned')]);
    // Survivors continue: 9 trials × 1 epoch, 3 × (3 − 1), 1 × (9 − 3).
    expect(clock.t).toBe(9 + 6 + 6);
    expect(calls.filter((c) => c.rung > 0).every((c) => c.from > 0)).toBe(true);
    // The best configuration is a run configuration with the epochs the trial ran.
    const rc = parseRunConfig(JSON.stringify(r.best!.runConfig));
    expect(rc.model).toBe('lightgcn');
    expect(rc.trainer).toEqual({ epochs: 9, patience: 5, evalEvery: 3, batchSize: 4096, lr: r.trials[byQuality[0]].config.lr, seed: 7 });
    expect(rc.config).toEqual({ layers: r.trials[byQuality[0]].config.layers, embeddingDim: r.trials[byQuality[0]].config.embeddingDim });
  });

  it('respects the budget: no run starts that the budget cannot cover, a running one is stopped at the budget', async () => {
    const clock = { t: 0 };
    const calls: { trial: number; rung: number; from: number }[] = [];
    const progress: number[] = [];
    // Rung 0 costs 9 s; the first rung-1 run needs 2 more epochs (2 s) and 9 + 2 > 10.
    const r = await runStudy({ settings: settings(), objective: fake(clock, 1, calls), clock: () => clock.t, budgetSeconds: 10, onProgress: (p) => progress.push(p.etaSeconds ?? -1) });
    expect(r.stopped).toBe('budget');
    expect(clock.t).toBe(9);
    expect(calls.every((c) => c.rung === 0)).toBe(true);
    expect(r.state.elapsedSeconds).toBeLessThanOrEqual(10);
    expect(r.trials.filter((t) => t.status === 'pending' && t.admitted === 1)).toHaveLength(3);
    expect(progress.every((eta) => eta >= 0 && eta <= 10)).toBe(true);
    expect(r.best?.rung).toBe(0);

    // The first run has no measurement to go by and starts; the budget stops it mid-way.
    const c2 = { t: 0 };
    const r2 = await runStudy({ settings: settings({ trials: 1, epochs: 20, minEpochs: 20 }), objective: fake(c2, 1), clock: () => c2.t, budgetSeconds: 5 });
    expect(r2.stopped).toBe('budget');
    expect(c2.t).toBe(5);
    expect(r2.trials[0].status).toBe('stopped');
    expect(r2.trials[0].rungs).toHaveLength(0);
    expect(r2.best).toBeNull();
  });

  it('resumes after a kill: finished runs are not re-run and the result equals an uninterrupted study', async () => {
    const clockA = { t: 0 };
    const whole = await runStudy({ settings: settings(), objective: fake(clockA), clock: () => clockA.t });

    const store = memoryStore();
    const clockB = { t: 0 };
    let n = 0;
    const inner = fake(clockB);
    const killing: Objective = async (config, budget, ctx) => {
      if (++n === 11) throw new Error('killed'); // the second run of rung 1
      return inner(config, budget, ctx);
    };
    await expect(runStudy({ settings: settings(), objective: killing, clock: () => clockB.t, store })).rejects.toThrow('killed');
    const saved = JSON.parse(store.text!) as StudyState;
    const finished = new Set(saved.trials.flatMap((t) => t.rungs.map((_, k) => `${t.id}@${k}`)));
    expect(finished.size).toBe(10);
    expect(saved.trials.filter((t) => t.status === 'running')).toHaveLength(1);

    const calls: { trial: number; rung: number; from: number }[] = [];
    const clockC = { t: 0 };
    const resumed = await runStudy({ settings: settings(), objective: fake(clockC, 1, calls), clock: () => clockC.t, store });
    expect(resumed.runs).toBe(calls.length);
    for (const c of calls) expect(finished.has(`${c.trial}@${c.rung}`)).toBe(false);
    // The killed run and the rest: 2 more at rung 1, 1 at rung 2 (in-memory states are gone: from epoch 0).
    expect(calls.map((c) => `${c.trial}@${c.rung}:${c.from}`)).toEqual([...calls.filter((c) => c.rung === 1).map((c) => `${c.trial}@1:0`), `${whole.best!.trial}@2:0`]);
    expect(calls.filter((c) => c.rung === 1)).toHaveLength(2);
    expect(decisions(resumed.state)).toEqual(decisions(whole.state));
    expect(resumed.best).toEqual(whole.best);

    // A finished study does nothing more; a study with other settings is refused.
    const again = await runStudy({ settings: settings(), objective: fake(clockC, 1, calls), clock: () => clockC.t, store });
    expect(again.runs).toBe(0);
    expect(again.stopped).toBe('complete');
    await expect(runStudy({ settings: settings({ seed: 8 }), objective: fake(clockC), store })).rejects.toThrow(/started with seed = 7, this run has 8/);
  });

  it('the same seed reproduces the configurations and decisions; another seed samples others', async () => {
    const run = async (seed: number) => {
      const clock = { t: 0 };
      return runStudy({ settings: settings({ seed }), objective: fake(clock), clock: () => clock.t });
    };
    const [a, b, c] = [await run(11), await run(11), await run(12)];
    expect(decisions(a.state)).toEqual(decisions(b.state));
    expect(a.best).toEqual(b.best);
    expect(a.trials.map((t) => t.config)).not.toEqual(c.trials.map((t) => t.config));
    // Samples stay inside the space, on its grid (3 significant digits) and distinct.
    for (const t of c.trials) {
      expect(Number(t.config.lr)).toBeGreaterThanOrEqual(1e-4);
      expect(Number(t.config.lr)).toBeLessThanOrEqual(1e-1);
      expect(Number(t.config.lr)).toBe(Number(Number(t.config.lr).toPrecision(3)));
      expect([1, 2, 3, 4]).toContain(t.config.layers);
      expect([16, 32, 64]).toContain(t.config.embeddingDim);
    }
    expect(new Set(c.trials.map((t) => JSON.stringify(t.config))).size).toBe(9);
  });

  it('a trial whose training fails is recorded as failed and the study goes on', async () => {
    const clock = { t: 0 };
    const inner = fake(clock);
    const objective: Objective = async (config, budget, ctx) => {
      if (ctx.trial === 0) throw new IrllrecError('nonfinite', "fit: loss 'total' became NaN");
      return inner(config, budget, ctx);
    };
    const r = await runStudy({ settings: settings(), objective, clock: () => clock.t });
    expect(r.trials[0].status).toBe('failed');
    expect(r.trials[0].error).toMatch(/NaN/);
    expect(r.trials[0].admitted).toBe(0);
    expect(r.stopped).toBe('complete');
    expect(r.best?.trial).not.toBe(0);
  });
});

describe('tune: a real study on synthetic data', () => {
  const small = (): Dataset => syntheticDataset({ seed: 3, numUsers: 120, numItems: 150, numIntents: 6, textDim: 16, interactionsPerUser: 10 });

  it('the best configuration, trained again through its run configuration, gives the reported validation Recall@20', async () => {
    const ds = small();
    const be = cpu('f32');
    const lines: string[] = [];
    const space: SearchSpace = { intWeight: { type: 'float', low: 1e-4, high: 3e-2, log: true }, lr: { type: 'float', low: 1e-3, high: 2e-2, log: true }, numIntents: { type: 'choice', values: [4, 8] } };
    const r = await tune(be, ds, { model: 'irllrec', space, trials: 3, eta: 3, epochs: 3, minEpochs: 1, evalEvery: 1, patience: 2, batchSize: 128, seed: 5, onProgress: (p) => lines.push(`${p.runsDone}/${p.runsTotal}`) });
    expect(r.stopped).toBe('complete');
    expect(lines).toEqual(['1/4', '2/4', '3/4', '4/4']);
    const best = r.best!;
    expect(best.rung).toBe(1);
    const t = r.trials[best.trial];
    // The survivor continued from its rung-0 state (3 epochs trained in all, not 1 + 3).
    expect(t.epochs).toBe(3);
    expect(best.recall).toBeGreaterThan(0);
    const rc = parseRunConfig(JSON.stringify(best.runConfig), 'best.json');
    expect(rc).toMatchObject({ model: 'irllrec', preset: 'default', trainer: { epochs: 3, patience: 2, evalEvery: 1, batchSize: 128, seed: 5 } });
    const again = await fit(be, ds, { model: rc.model, preset: rc.preset, config: rc.config, ...rc.trainer });
    expect(again.val['recall@20']).toBe(best.recall);
    expect(again.val['ndcg@20']).toBe(best.ndcg);
    again.model.dispose();
  });
});
