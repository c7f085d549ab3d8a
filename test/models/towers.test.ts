/**
 * Text towers in row blocks with recomputed activations (src/models/mlp.ts) give exactly the losses and
 * gradients of one pass over all rows with every activation kept (the pre-blocking code, restated here as
 * the reference), on the WebGPU backend and on the CPU backend, for f32 and packed-f16 inputs.
 */
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/data/graph.js';
import type { Matrix } from '../../src/data/types.js';
import { modelConfig } from '../../src/models/config.js';
import { LEAKY_SLOPE, type MlpTensors, initMlp, mlpBackward, mlpForward, mlpShapes } from '../../src/models/mlp.js';
import { type Batch, RecModel } from '../../src/models/model.js';
import { TOWER_BLOCK_BYTES } from '../../src/models/plan.js';
import { type MatmulOperand, leakyRelu, leakyReluBackward, matmul, packF16Matrix, sumRows } from '../../src/ops/dense.js';
import type { Backend, Tensor } from '../../src/ops/tensor.js';
import { Rng } from '../../src/util/random.js';
import { cpu, gpu, randArray, rng } from '../helpers.js';

const KEYS = ['w1', 'b1', 'w2', 'b2'] as const;

/** The unblocked tower with H and A of every row kept for the backward (the code before blocking). */
function referenceTower(be: Backend, p: MlpTensors, x: MatmulOperand, out: Tensor, gOut: Tensor, grads: MlpTensors): void {
  const hidden = p.w1.shape[0];
  const h = be.zeros([x.rows, hidden], 'f32', 'ref.h');
  const a = be.zeros([x.rows, hidden], 'f32', 'ref.a');
  matmul(be, x, p.w1, h, { transB: true, bias: p.b1 });
  leakyRelu(be, h, a, { slope: LEAKY_SLOPE });
  matmul(be, a, p.w2, out, { transB: true, bias: p.b2 });
  matmul(be, gOut, a, grads.w2, { transA: true, accumulate: true });
  sumRows(be, gOut, grads.b2, { accumulate: true });
  const gA = be.zeros(h.shape, 'f32', 'ref.gA');
  const gH = be.zeros(h.shape, 'f32', 'ref.gH');
  matmul(be, gOut, p.w2, gA);
  leakyReluBackward(be, h, gA, gH, { slope: LEAKY_SLOPE });
  matmul(be, gH, x, grads.w1, { transA: true, accumulate: true });
  sumRows(be, gH, grads.b1, { accumulate: true });
  for (const t of [h, a, gA, gH]) t.dispose();
}

/** The bits of a tensor's values (so that −0 vs +0 and NaN payloads count). */
async function bits(be: Backend, t: Tensor): Promise<number[]> {
  return Array.from(new Uint32Array(Float32Array.from(await be.read(t)).buffer));
}

const backends: [string, () => Promise<Backend>][] = [
  ['WebGPU', gpu],
  ['CPU f32', async () => cpu('f32')],
  ['CPU f64', async () => cpu('f64')],
];

describe('text tower: row blocks and recomputed activations are bit-identical to one unblocked pass', () => {
  for (const [name, make] of backends) {
    for (const f16 of [false, true]) {
      it(`${name}, ${f16 ? 'packed f16' : 'f32'} input: output and every parameter gradient`, async () => {
        const be = await make();
        const r = rng(5);
        // Awkward sizes: 37 rows (blocks of 8 leave 5), 70 inputs, hidden 37, d = 5; values that go negative.
        const [rows, din, d] = [37, 70, 5];
        const xs = randArray(r, rows * din);
        const x: MatmulOperand = f16 ? packF16Matrix(be, xs, rows, din, 'x') : be.tensor(xs, [rows, din], 'f32', 'x');
        const init = initMlp(new Rng(9), din, d);
        const shapes = mlpShapes(din, d);
        const p = Object.fromEntries(KEYS.map((k) => [k, be.tensor(init[k], shapes[k], 'f32', k)])) as unknown as MlpTensors;
        const gOut = be.tensor(randArray(r, rows * d), [rows, d], 'f32', 'gOut');
        const fresh = () => Object.fromEntries(KEYS.map((k) => [k, be.zeros(shapes[k], 'f32', `g.${k}`)])) as unknown as MlpTensors;
        const refOut = be.zeros([rows, d], 'f32', 'refOut');
        const refGrads = fresh();
        referenceTower(be, p, x, refOut, gOut, refGrads);
        const want = { out: await bits(be, refOut), ...Object.fromEntries(await Promise.all(KEYS.map(async (k) => [k, await bits(be, refGrads[k])]))) };
        // The reference really exercises both LeakyReLU branches.
        const h = await be.read(refGrads.b1);
        expect(h.some((v) => v !== 0)).toBe(true);
        const gOutBits = await bits(be, gOut);
        for (const blockRows of [1, 8, rows, 100]) {
          for (const keep of [false, true]) {
            const out = be.zeros([rows, d], 'f32', 'out');
            const grads = fresh();
            const activations = keep ? be.zeros([rows, shapes.w1[0]], 'f32', 'A') : undefined;
            mlpForward(be, p, x, out, { blockRows, label: 'tower', activations });
            mlpBackward(be, p, x, gOut, grads, { blockRows, label: 'tower', activations });
            const what = `blocks of ${blockRows}, ${keep ? 'A kept' : 'A recomputed'}`;
            expect(await bits(be, out), `${what}: output`).toEqual(want.out);
            for (const k of KEYS) expect(await bits(be, grads[k]), `${what}: ∂${k}`).toEqual(want[k]);
            expect(await bits(be, gOut), `${what}: gOut untouched`).toEqual(gOutBits);
          }
        }
      });
    }
  }
});

// A small IRLLRec model: 23 users, 19 items, text widths 14 and 11, every loss term on.
function smallData() {
  const r = new Rng(3);
  const [numUsers, numItems] = [23, 19];
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < numUsers; u++) for (let i = 0; i < numItems; i++) if (r.next() < 0.2 || i === u % numItems) {
    users.push(u);
    items.push(i);
  }
  const train = { users: Uint32Array.from(users), items: Uint32Array.from(items) };
  const mat = (rows: number, cols: number): Matrix => ({ rows, cols, data: Float32Array.from({ length: rows * cols }, () => r.uniform(-1, 1)) });
  const text = { userProfile: mat(numUsers, 14), itemProfile: mat(numItems, 14), userIntent: mat(numUsers, 11), itemIntent: mat(numItems, 11) };
  return { numUsers, numItems, graph: buildGraph({ numUsers, numItems, train }), text };
}

const BATCH: Batch = {
  users: Uint32Array.from([0, 3, 3, 7, 22, 11, 15, 2]),
  pos: Uint32Array.from([0, 3, 3, 7, 3, 11, 15, 18]),
  neg: Uint32Array.from([5, 1, 9, 2, 17, 0, 4, 4]),
};

describe('training step: tower blocking changes no loss, gradient or parameter', () => {
  for (const [name, make] of backends.slice(0, 2)) {
    it(`${name}: losses, gradients and the parameters after one step`, async () => {
      const be = await make();
      const config = modelConfig('irllrec', 'default', { embeddingDim: 8, numIntents: 4, kdWeight: 0.5, intWeight: 0.6, sslWeight: 0.5, itmWeight: 0.4, reg: 1e-2 });
      const run = async (towers: RecModel['towerMemory'] | null) => {
        const model = RecModel.create(be, config, smallData(), { seed: 4 });
        // The default for these widths: all 42 rows in one block, activations recomputed.
        if (!towers) expect(model.towerMemory).toEqual({ blockRows: Math.floor(TOWER_BLOCK_BYTES / (4 * 14)), keepActivations: false });
        if (towers) model.towerMemory = towers;
        const losses = await model.computeGradients(BATCH, { noiseSeed: 77, updateTeacher: true });
        const grads: Record<string, number[]> = {};
        for (const [k, g] of model.grads) grads[k] = await bits(be, g);
        await model.trainStep(BATCH, { noiseSeed: 78 });
        const params: Record<string, number[]> = {};
        for (const [k, t] of [...model.params, ...model.teacher]) params[k] = await bits(be, t);
        model.dispose();
        return { losses, grads, params };
      };
      const want = await run(null);
      expect(want.losses.kd).toBeGreaterThan(0);
      expect(want.losses.kd_int).toBeGreaterThan(0);
      expect(want.losses.itm).not.toBe(0);
      for (const towers of [
        { blockRows: 5, keepActivations: false },
        { blockRows: 5, keepActivations: true },
        { blockRows: 1, keepActivations: false },
        { blockRows: 42, keepActivations: true },
      ]) {
        const got = await run(towers);
        const what = `blocks of ${towers.blockRows}${towers.keepActivations ? ', A kept' : ''}`;
        expect(got.losses, what).toEqual(want.losses);
        expect(Object.keys(got.grads)).toEqual(Object.keys(want.grads));
        for (const k of Object.keys(want.grads)) expect(got.grads[k], `${what}: ∂${k}`).toEqual(want.grads[k]);
        for (const k of Object.keys(want.params)) expect(got.params[k], `${what}: ${k} after a step`).toEqual(want.params[k]);
      }
    });
  }
});
