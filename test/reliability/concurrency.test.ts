/**
 * Two models training at once on ONE WebGPU backend (Promise.all of two `fit`s: their awaits interleave,
 * so one model's dispatches are recorded between the other's) must give exactly the results each gives
 * alone with the same seeds: parameters, per-epoch losses and metrics. Run alone twice first: training
 * is deterministic, so any difference comes from the sharing.
 *
 * Serving beside training: a Recommender answering `recommend` in a loop while a `fit` runs on the same
 * backend must give the recommendations it gives alone, and the fit the result it gives alone. A
 * Recommender built with `fromModel` from the model being trained copies E_fin and the parameters it
 * needs, recorded in one go between two steps (a step is recorded synchronously, and the queue runs work
 * in recording order), so it serves exactly the parameters after one whole step, never a half-updated mix,
 * and later steps do not reach it.
 */
import { afterAll, expect, it } from 'vitest';
import { syntheticDataset } from '../../src/data/synthetic.js';
import type { Dataset } from '../../src/data/types.js';
import type { WebGpuBackend } from '../../src/ops/tensor.js';
import type { PersonalizedUser } from '../../src/serve/personalize.js';
import { type Recommendation, Recommender } from '../../src/serve/recommender.js';
import { type FitOptions, type FitResult, createModel, fit } from '../../src/train/trainer.js';
import { gpu } from '../helpers.js';

afterAll(async () => (await gpu()).destroy());

const dataA = syntheticDataset({ seed: 21, numUsers: 60, numItems: 80, numIntents: 3, textDim: 8, interactionsPerUser: 6 });
const dataB = syntheticDataset({ seed: 22, numUsers: 50, numItems: 70, numIntents: 3, textDim: 8, interactionsPerUser: 7 });
const optsA: FitOptions = { model: 'lightgcn', config: { embeddingDim: 8, layers: 2, keepRate: 0.8 }, epochs: 3, batchSize: 64, evalEvery: 1, patience: 0, seed: 3 };
const optsB: FitOptions = {
  model: 'irllrec',
  config: { embeddingDim: 8, layers: 2, numIntents: 3 },
  epochs: 3,
  batchSize: 48,
  evalEvery: 1,
  patience: 0,
  seed: 4,
};

interface Outcome {
  params: Record<string, number[]>;
  history: unknown;
  val: unknown;
  test: unknown;
  steps: number;
}

async function outcome(be: WebGpuBackend, res: FitResult): Promise<Outcome> {
  const params: Record<string, number[]> = {};
  for (const [name, t] of [...res.model.params, ...res.model.teacher]) params[name] = Array.from(await be.read(t));
  res.model.dispose();
  // Per-epoch records without wall-clock fields.
  const history = res.history.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !/seconds|ms|time/i.test(k))));
  return { params, history, val: res.val, test: res.test, steps: res.steps };
}

async function alone(be: WebGpuBackend, data: Dataset, opts: FitOptions): Promise<Outcome> {
  return outcome(be, await fit(be, data, opts));
}

/** Names of the parameters that differ and the largest |difference| of each. */
function differences(a: Outcome, b: Outcome): string[] {
  const out: string[] = [];
  for (const name of Object.keys(a.params)) {
    const x = a.params[name];
    const y = b.params[name];
    let maxDiff = 0;
    for (let k = 0; k < x.length; k++) maxDiff = Math.max(maxDiff, Math.abs(x[k] - y[k]));
    if (maxDiff > 0) out.push(`${name}: max |Δ| ${maxDiff}`);
  }
  return out;
}

it('two fits on one device at once give the results each gives alone', async () => {
  const be = await gpu();
  const a1 = await alone(be, dataA, optsA);
  const b1 = await alone(be, dataB, optsB);
  // Determinism baseline: alone twice is identical.
  const a2 = await alone(be, dataA, optsA);
  expect(differences(a1, a2)).toEqual([]);
  const order: string[] = [];
  const [ra, rb] = await Promise.all([
    fit(be, dataA, { ...optsA, onStep: () => order.push('A') }),
    fit(be, dataB, { ...optsB, onStep: () => order.push('B') }),
  ]);
  // The two runs really interleaved: B stepped before A's last step (and A before B's last).
  expect(order.indexOf('B')).toBeLessThan(order.lastIndexOf('A'));
  expect(order.indexOf('A')).toBeLessThan(order.lastIndexOf('B'));
  const [ca, cb] = [await outcome(be, ra), await outcome(be, rb)];
  expect(differences(a1, ca)).toEqual([]);
  expect(differences(b1, cb)).toEqual([]);
  expect(ca.history).toEqual(a1.history);
  expect(cb.history).toEqual(b1.history);
  expect([ca.val, ca.test, ca.steps]).toEqual([a1.val, a1.test, a1.steps]);
  expect([cb.val, cb.test, cb.steps]).toEqual([b1.val, b1.test, b1.steps]);
  expect(be.liveTensorCount).toBe(0);
});

it('two fits of the same model kind and seed at once are identical to each other and to one alone', async () => {
  const be = await gpu();
  const solo = await alone(be, dataA, optsA);
  const [r1, r2] = await Promise.all([fit(be, dataA, optsA), fit(be, dataA, optsA)]);
  const [o1, o2] = [await outcome(be, r1), await outcome(be, r2)];
  expect(differences(solo, o1)).toEqual([]);
  expect(differences(solo, o2)).toEqual([]);
  expect(o1.history).toEqual(solo.history);
});

// ----------------------------------------------------------------------------------------------------
// Serving while training on the same backend.

const allUsersB = Array.from({ length: dataB.numUsers }, (_, u) => u);

/** A fixed mix of recommend calls: single users, a batch, a filter, personalised users, both scorings. */
async function serveRound(rec: Recommender, me: PersonalizedUser): Promise<Recommendation[][]> {
  return [
    [await rec.recommend(3, { k: 10 })],
    await rec.recommend(allUsersB, { k: 10 }),
    await rec.recommend([5, 6, 7], { k: 5, filter: (i) => i % 2 === 0 }),
    [await rec.recommend(me, { k: 10 })],
    await rec.recommend([me, 2, 11], { k: 8, scoring: 'matmul' }),
  ];
}

it('recommend on a trained model while another fit runs on the same backend: both give what they give alone', async () => {
  const be = await gpu();
  const trained = await fit(be, dataB, optsB);
  const rec = await Recommender.fromModel(trained.model, { interactions: dataB.train, userProfiles: dataB.text!.userProfile });
  trained.model.dispose();
  const me = await rec.personalize({ items: [1, 4, 9] });
  const served = await serveRound(rec, me);
  const solo = await alone(be, dataA, optsA);

  const order: string[] = [];
  let done = false;
  const running = fit(be, dataA, { ...optsA, onStep: () => order.push('F') }).then((r) => {
    done = true;
    return r;
  });
  let rounds = 0;
  while (!done) {
    expect(await serveRound(rec, me)).toEqual(served);
    order.push('R');
    rounds++;
  }
  const beside = await outcome(be, await running);
  // Serving really interleaved with training (rounds between steps), and neither disturbed the other.
  expect(rounds).toBeGreaterThan(1);
  expect(order.indexOf('R')).toBeLessThan(order.lastIndexOf('F'));
  expect(differences(solo, beside)).toEqual([]);
  expect(beside.history).toEqual(solo.history);
  expect([beside.val, beside.test, beside.steps]).toEqual([solo.val, solo.test, solo.steps]);
  me.dispose();
  rec.dispose();
  expect(be.liveTensorCount).toBe(0);
});

it('Recommender.fromModel on a model being trained copies the parameters of one step boundary; later steps do not reach it', async () => {
  const be = await gpu();
  const S = 2;
  // Reference: the model after exactly S steps (fit stops there and keeps it: it is also the best snapshot).
  const ref = await fit(be, dataA, { ...optsA, maxSteps: S });
  const refRec = await Recommender.fromModel(ref.model, { interactions: dataA.train });
  ref.model.dispose();
  const all = Array.from({ length: dataA.numUsers }, (_, u) => u);
  const want = await refRec.recommend(all, { k: 10 });
  refRec.dispose();

  // The same run in full, with a recommender built from the live model after step S (fit's step callback
  // runs between steps) and queried at once, while training goes on.
  const model = createModel(be, dataA, { model: optsA.model, config: optsA.config, seed: optsA.seed });
  let steps = 0;
  let mid: Promise<{ rec: Recommender; first: Recommendation[] }> | null = null;
  const res = await fit(be, dataA, {
    ...optsA,
    init: model,
    onStep: () => {
      if (++steps !== S) return;
      mid = Recommender.fromModel(model, { interactions: dataA.train }).then(async (rec) => ({ rec, first: await rec.recommend(all, { k: 10 }) }));
    },
  });
  expect(steps).toBeGreaterThan(S + 2);
  const { rec, first } = await mid!;
  expect(first).toEqual(want);
  // After the remaining steps and the final restore, the recommender still serves step S's parameters …
  expect(await rec.recommend(all, { k: 10 })).toEqual(want);
  // … which differ from the trained model's (so sharing them would have shown).
  const after = await Recommender.fromModel(res.model, { interactions: dataA.train });
  expect(await after.recommend(all, { k: 10 })).not.toEqual(want);
  for (const r of [rec, after]) r.dispose();
  res.model.dispose();
  expect(be.liveTensorCount).toBe(0);
});
