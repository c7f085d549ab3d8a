import { afterAll, describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/data/graph.js';
import type { Matrix } from '../../src/data/types.js';
import { MODEL_KINDS, type ModelKind, modelConfig, modelParts } from '../../src/models/config.js';
import { type Batch, RecModel } from '../../src/models/model.js';
import type { Backend } from '../../src/ops/tensor.js';
import { Rng } from '../../src/util/random.js';
import { cpu, expectClose, gpu } from '../helpers.js';

// A tiny graph: 5 users, 6 items (item 5 has no training interaction: an isolated node), d = 4, K = 3.
function tinyData(seed = 7) {
  const r = new Rng(seed);
  const numUsers = 5;
  const numItems = 6;
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < numUsers; u++) for (let i = 0; i < numItems - 1; i++) if (r.next() < 0.45 || i === u) {
    users.push(u);
    items.push(i);
  }
  const train = { users: Uint32Array.from(users), items: Uint32Array.from(items) };
  const mat = (rows: number, cols: number): Matrix => {
    const data = new Float32Array(rows * cols);
    for (let i = 0; i < data.length; i++) data[i] = r.uniform(-1, 1);
    return { rows, cols, data };
  };
  const text = { userProfile: mat(numUsers, 6), itemProfile: mat(numItems, 6), userIntent: mat(numUsers, 5), itemIntent: mat(numItems, 5) };
  const graph = buildGraph({ numUsers, numItems, train });
  return { numUsers, numItems, train, graph, text };
}

// A batch with repeated users and items.
const BATCH: Batch = {
  users: Uint32Array.from([0, 1, 1, 3, 4, 0, 2]),
  pos: Uint32Array.from([0, 1, 1, 3, 4, 2, 2]),
  neg: Uint32Array.from([5, 3, 0, 1, 5, 5, 4]),
};

// Weights raised above the reference's 1e-7 so every term is visible to the check. SGL drops edges of its
// augmented views at 0.8 and SimGCL adds noise of norm 0.9: the draws are fixed by the step's noise seed.
function testConfig(kind: ModelKind) {
  const parts = modelParts(kind);
  return modelConfig(kind, 'default', {
    embeddingDim: 4,
    numIntents: 3,
    layers: parts.intents ? 3 : 2,
    reg: 1e-2,
    kdWeight: parts.profile ? 0.5 : 0,
    intWeight: parts.intents ? 0.6 : 0,
    sslWeight: parts.teacher ? 0.5 : 0,
    itmWeight: parts.teacher ? 0.4 : 0,
    clWeight: parts.backbone === 'lightgcn' ? 0 : 0.3,
    clTemperature: 0.5,
    keepRate: parts.backbone === 'simgcl' || kind === 'irllrec' ? 1 : 0.8,
    noiseEps: parts.backbone === 'simgcl' ? 0.9 : 0,
  });
}

function build(be: Backend, kind: ModelKind, seed = 11) {
  const d = tinyData();
  return RecModel.create(be, testConfig(kind), d, { seed });
}

describe('full model loss: finite-difference gradient check (float64 CPU backend)', () => {
  for (const kind of MODEL_KINDS) {
    it(`${kind}: every parameter tensor's gradient matches central differences`, async () => {
      const be = cpu('f64');
      const model = build(be, kind);
      // Make the teacher differ from the student so ITM is non-trivial.
      const noiseSeed = 12345;
      const base = await model.computeGradients(BATCH, { noiseSeed });
      for (const k of ['bpr', 'reg'] as const) expect(base[k]).toBeGreaterThan(0);
      const parts = modelParts(kind);
      if (parts.profile) expect(base.kd).toBeGreaterThan(0);
      if (parts.intents) expect(base.kd_int).toBeGreaterThan(0);
      if (parts.teacher) {
        expect(base.ssl).toBeGreaterThan(0);
        expect(Math.abs(base.itm)).toBeGreaterThan(0);
      }
      if (parts.backbone !== 'lightgcn') expect(base.cl).toBeGreaterThan(0);
      const grads = new Map<string, Float64Array>();
      for (const [name, g] of model.grads) grads.set(name, Float64Array.from(g.f));
      const r = new Rng(99);
      for (const [name, p] of model.params) {
        const x = p.f as Float64Array;
        const idx = new Set<number>();
        while (idx.size < Math.min(14, x.length)) idx.add(r.int(x.length));
        const g = grads.get(name)!;
        let scale = 0;
        for (const v of g) scale = Math.max(scale, Math.abs(v));
        for (const i of idx) {
          const h = 1e-6;
          const x0 = x[i];
          x[i] = x0 + h;
          const fp = (await model.loss(BATCH, { noiseSeed })).total;
          x[i] = x0 - h;
          const fm = (await model.loss(BATCH, { noiseSeed })).total;
          x[i] = x0;
          const numeric = (fp - fm) / (2 * h);
          const err = Math.abs(numeric - g[i]);
          expect(err, `${kind} ∂L/∂${name}[${i}]: analytic ${g[i]}, numeric ${numeric}`).toBeLessThanOrEqual(1e-6 * Math.max(scale, 1e-3) + 1e-5 * Math.abs(numeric));
        }
      }
      model.dispose();
    });
  }

  it('the EMA teacher update of a step uses the pre-Adam student: θm ← 0.999·θm + 0.001·θs', async () => {
    const be = cpu('f64');
    const model = build(be, 'irllrec');
    const t0 = Float64Array.from(model.teacher.get('int_mlp_m.0.weight')!.f);
    const s0 = Float64Array.from(model.params.get('int_mlp.0.weight')!.f);
    await model.trainStep(BATCH, { noiseSeed: 1 });
    const t1 = model.teacher.get('int_mlp_m.0.weight')!.f;
    const want = t0.map((t, i) => 0.999 * t + 0.001 * s0[i]);
    expectClose(t1, want, { atol: 1e-15, rtol: 1e-12 }, 'teacher');
    // The teacher-initialisation quirk: biases equal, weights independent.
    const fresh = build(be, 'irllrec');
    expect(Array.from(fresh.teacher.get('int_mlp_m.0.bias')!.f)).toEqual(Array.from(fresh.params.get('int_mlp.0.bias')!.f));
    expect(fresh.teacher.get('int_mlp_m.0.weight')!.f[0]).not.toBe(fresh.params.get('int_mlp.0.weight')!.f[0]);
  });
});

describe('one training step: WebGPU and the CPU twin agree', () => {
  afterAll(async () => (await gpu()).destroy());

  for (const kind of ['irllrec', 'sgl_int', 'simgcl_int'] as const) it(`a ${kind} training step is one queue submission that reads back only the loss vector`, async () => {
    const g = await gpu();
    const m = build(g, kind);
    await m.trainStep(BATCH, { noiseSeed: 5 }); // compiles pipelines
    const rec = g.recorder;
    const submits = rec.submits;
    const reads: number[] = [];
    const origRead = g.readRange.bind(g);
    g.readRange = async (t, offset, count) => {
      reads.push(count);
      return origRead(t, offset, count);
    };
    try {
      await m.trainStep(BATCH, { noiseSeed: 6 });
    } finally {
      g.readRange = origRead;
    }
    expect(rec.submits - submits).toBe(1);
    expect(reads).toEqual([8]); // the loss slots
    m.dispose();
  });

  for (const kind of MODEL_KINDS) {
    it(`${kind}: loss components and updated parameters`, async () => {
      const g = await gpu();
      const c = cpu('f32');
      const mg = build(g, kind);
      const mc = build(c, kind);
      const grads = await mc.computeGradients(BATCH, { noiseSeed: 77 });
      const lg = await mg.trainStep(BATCH, { noiseSeed: 77 });
      const lc = await mc.trainStep(BATCH, { noiseSeed: 77 });
      // Loss components: f32 on both sides, different summation orders: 1e-4 relative.
      for (const k of Object.keys(lc) as (keyof typeof lc)[]) expectClose([lg[k]], [lc[k]], { atol: 1e-6, rtol: 1e-4 }, `loss ${k}`);
      expect(grads.total).toBeCloseTo(lc.total, 5);
      // Adam's first step moves each parameter by ≈ lr·sign(g): where |g| is not tiny both must agree to
      // 2e-5; where it is (sign decided by rounding), within 2·lr.
      for (const [name, pc] of mc.params) {
        const pg = await g.read(mg.params.get(name)!);
        const gc = mc.grads.get(name)!.f;
        let scale = 0;
        for (const v of gc) scale = Math.max(scale, Math.abs(v));
        for (let i = 0; i < pg.length; i++) {
          const diff = Math.abs(pg[i] - pc.f[i]);
          const tol = Math.abs(gc[i]) > 1e-3 * scale ? 2e-5 : 2.1e-3;
          if (diff > tol) expect.fail(`${kind} ${name}[${i}]: GPU ${pg[i]} vs CPU ${pc.f[i]} (grad ${gc[i]})`);
        }
      }
      mg.dispose();
      mc.dispose();
    });
  }
});
