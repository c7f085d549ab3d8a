/**
 * The reference preset does not move: loss components at a fixed state and batch, the same after three training
 * steps, and the evaluation of the resulting weights, for every model kind and every dataset the reference has
 * settings for (and its fallback), equal — exactly, on the float64 CPU twin — the values the code gave before
 * presets existed (commit a6f37f7, recorded in reference-pin.json). The preset's configuration is pinned too.
 * Fields and loss slots added since (the backbones' L_cl and noise) must be at their off values there.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/data/graph.js';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { MODEL_KINDS, type ModelKind, modelConfig } from '../../src/models/config.js';
import { RecModel } from '../../src/models/model.js';
import { evaluate } from '../../src/train/evaluate.js';
import { Rng } from '../../src/util/random.js';
import { cpu } from '../helpers.js';

const pinned = JSON.parse(readFileSync(new URL('./reference-pin.json', import.meta.url), 'utf8')) as Record<string, { config: Record<string, unknown>; losses: object; after: object; metrics: object }>;
const data = syntheticDataset({ seed: 7, numUsers: 40, numItems: 56, numIntents: 4, textDim: 12, interactionsPerUser: 6 });

describe('the reference preset is unchanged (pinned to its values before presets existed)', () => {
  for (const key of Object.keys(pinned)) {
    const [kind, ds] = key.split('/') as [ModelKind, string];
    it(key, async () => {
      const be = cpu('f64');
      const cfg = modelConfig(kind, ds, { embeddingDim: 8, numIntents: 6 }, 'reference');
      const { preset, ...rest } = cfg;
      expect(preset).toBe('reference');
      const off = { clWeight: 0, clTemperature: 0.2, noiseEps: 0 };
      expect(rest).toEqual({ ...pinned[key].config, ...off });
      const m = RecModel.create(be, cfg, { numUsers: data.numUsers, numItems: data.numItems, graph: buildGraph(data), text: data.text }, { seed: 11 });
      const r = new Rng(3);
      const B = 24;
      const batch = { users: new Uint32Array(B), pos: new Uint32Array(B), neg: new Uint32Array(B) };
      for (let b = 0; b < B; b++) {
        const k = r.int(data.train.users.length);
        batch.users[b] = data.train.users[k];
        batch.pos[b] = data.train.items[k];
        batch.neg[b] = r.int(data.numItems);
      }
      expect(await m.loss(batch, { noiseSeed: 5, updateTeacher: true })).toEqual({ ...pinned[key].losses, cl: 0 });
      for (let s = 0; s < 3; s++) await m.trainStep(batch, { noiseSeed: 100 + s });
      expect(await m.loss(batch, { noiseSeed: 5 })).toEqual({ ...pinned[key].after, cl: 0 });
      expect(await evaluate(m, data, 'test', { ks: [5, 20] })).toEqual(pinned[key].metrics);
      m.dispose();
    });
  }
  it('datasets the reference has no settings for get its amazon values under the reference preset', () => {
    for (const kind of MODEL_KINDS) {
      expect(modelConfig(kind, 'movielens', {}, 'reference')).toEqual(modelConfig(kind, 'amazon', {}, 'reference'));
    }
  });
  it('a run that names no preset gets the reference on the paper datasets and the default elsewhere', () => {
    expect(modelConfig('irllrec', 'yelp').preset).toBe('reference');
    expect(modelConfig('irllrec', 'movielens').preset).toBe('default');
    expect(modelConfig('irllrec', 'synthetic').preset).toBe('default');
    expect(modelConfig('irllrec', 'yelp', {}, 'default').preset).toBe('default');
    expect(() => modelConfig('irllrec', 'yelp', {}, 'fast' as 'default')).toThrow(/unknown preset 'fast'/);
  });

  it('the backbones’ reference preset is the spec’s table (backbones spec §7), amazon also for other datasets', () => {
    const pick = (kind: ModelKind, ds: string) => {
      const c = modelConfig(kind, ds, {}, 'reference');
      return [c.layers, c.reg, c.keepRate, c.noiseEps, c.clWeight, c.clTemperature, c.kdWeight, c.kdTemperature, c.intWeight, c.intTemperature, c.sslWeight, c.itmWeight];
    };
    // L, λ, ρ, ε, w_cl, τ_cl, w_kd, τ_kd, w_int, τ_int, ssl, itm
    const table: Record<string, (number | null)[]> = {
      'sgl/amazon': [3, 1e-5, 0.8, 0, 1e-1, 0.2, 0, 0.2, 0, 0.2, 0, 0],
      'sgl/yelp': [3, 1e-6, 0.8, 0, 1e-3, 0.1, 0, 0.2, 0, 0.2, 0, 0],
      'sgl/movie': [3, 1e-6, 0.8, 0, 1e-2, 0.1, 0, 0.2, 0, 0.2, 0, 0],
      'sgl_plus/amazon': [3, 1e-5, 0.8, 0, 1e-1, 0.2, 1e-2, 0.5, 0, 0.2, 0, 0],
      'sgl_plus/yelp': [3, 1e-5, 0.8, 0, 1e-1, 0.2, 1e-2, 1.0, 0, 0.2, 0, 0],
      'sgl_plus/movie': [3, 1e-6, 0.8, 0, 1e-2, 0.1, 1e-2, 0.5, 0, 0.2, 0, 0],
      'sgl_int/amazon': [3, 1e-5, 0.8, 0, 1e-1, 0.2, 1e-2, 0.5, 1e-3, 0.1, 0, 0],
      'sgl_int/yelp': [3, 1e-5, 0.8, 0, 1e-1, 0.2, 1e-2, 1.0, 1e-2, 1.0, 0, 0],
      'sgl_int/movie': [3, 1e-6, 0.8, 0, 1e-2, 0.1, 1e-2, 0.5, 2e-2, 0.2, 0, 0],
      'simgcl/amazon': [3, 1e-5, 1, 0.9, 1e-1, 0.2, 0, 0.2, 0, 0.2, 0, 0],
      'simgcl/yelp': [3, 1e-5, 1, 0.9, 1e-1, 0.2, 0, 0.2, 0, 0.2, 0, 0],
      'simgcl/movie': [3, 1e-6, 1, 0.1, 2e-2, 0.1, 0, 0.2, 0, 0.2, 0, 0],
      'simgcl_plus/amazon': [3, 1e-5, 1, 0.9, 1e-1, 0.2, 1e-2, 0.2, 0, 0.2, 0, 0],
      'simgcl_plus/yelp': [3, 1e-5, 1, 0.9, 1e-1, 0.2, 1e-2, 0.1, 0, 0.2, 0, 0],
      'simgcl_plus/movie': [3, 1e-6, 1, 0.1, 2e-2, 0.1, 1e-2, 0.2, 0, 0.2, 0, 0],
      'simgcl_int/amazon': [3, 1e-5, 1, 0.9, 1e-1, 0.2, 1e-2, 0.2, 2e-2, 0.1, 0, 0],
      'simgcl_int/yelp': [3, 1e-5, 1, 0.9, 1e-1, 0.2, 1e-2, 0.1, 1e-2, 0.1, 0, 0],
      'simgcl_int/movie': [3, 1e-6, 1, 0.1, 2e-2, 0.1, 1e-2, 0.2, 3e-2, 0.2, 0, 0],
    };
    for (const [key, want] of Object.entries(table)) {
      const [kind, ds] = key.split('/') as [ModelKind, string];
      expect(pick(kind, ds), key).toEqual(want);
    }
    // The reference's names of the LightGCN rungs are aliases.
    expect(modelConfig('lightgcn_int', 'yelp')).toEqual(modelConfig('irllrec', 'yelp'));
    expect(modelConfig('lightgcn_plus', 'movie')).toEqual(modelConfig('rlmrec', 'movie'));
    expect(() => modelConfig('sgl_int', 'amazon', { sslWeight: 1e-7 })).toThrow(/sgl_int has no translation alignment or ITM/);
  });
});
