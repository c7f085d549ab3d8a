import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { syntheticDataset } from '../../src/data/synthetic.js';
import type { Dataset } from '../../src/data/types.js';
import { IrllrecError } from '../../src/errors.js';
import { serializeModel } from '../../src/io/modelfile.js';
import type { ModelConfig, ModelKind } from '../../src/models/config.js';
import type { RecModel } from '../../src/models/model.js';
import { checkpointToFile, loadCheckpoint } from '../../src/node/serve.js';
import type { Backend } from '../../src/ops/tensor.js';
import { type TrainingCheckpoint, captureCheckpoint, parseCheckpoint, resumeFrom, serializeCheckpoint } from '../../src/train/checkpoint.js';
import { type FitCheckpointOptions, type FitOptions, fit } from '../../src/train/trainer.js';
import { cpu, expectClose, gpu } from '../helpers.js';

afterAll(async () => (await gpu()).destroy());

const tiny = (): Dataset => syntheticDataset({ seed: 11, numUsers: 50, numItems: 61, numIntents: 4, textDim: 8, interactionsPerUser: 8 });

function options(kind: ModelKind): FitOptions {
  // Dropout (keepRate < 1) makes every step draw a mask from (model seed, step): resuming must reproduce it.
  // SGL redraws two edge masks and SimGCL 2L noise tables every step, from the same (seed, step).
  const config: Partial<ModelConfig> =
    kind === 'lightgcn'
      ? { embeddingDim: 8, layers: 2, keepRate: 0.8 }
      : kind === 'irllrec'
        ? { embeddingDim: 8, layers: 2, numIntents: 4, sslWeight: 0.1, itmWeight: 0.1, intWeight: 0.05, kdWeight: 0.05 }
        : { embeddingDim: 8, layers: 2, numIntents: 4, intWeight: 0.05, kdWeight: 0.05, clWeight: 0.1 };
  return { model: kind, config, batchSize: 64, lr: 5e-3, seed: 17, evalEvery: 1, patience: 0, ks: [5, 10, 20] };
}

async function parametersOf(model: RecModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of [...model.params, ...model.teacher]) out.set(name, Float32Array.from(await model.be.read(t)));
  return out;
}

/**
 * Train `epochs` epochs uninterrupted; train again checkpointing every epoch and abort in the middle of epoch
 * `abortAt`; resume from the last checkpoint (through its bytes) to `epochs`. Returns both final models'
 * parameters and results.
 */
async function interruptedVersusUninterrupted(be: Backend, kind: ModelKind, epochs: number, abortAt: number) {
  const data = tiny();
  const base = options(kind);
  const a = await fit(be, data, { ...base, epochs });
  const controller = new AbortController();
  let last: Uint8Array | null = null;
  const hooks: Omit<FitCheckpointOptions, 'resume'> = {
    onCheckpoint: async (state, model, snap) => {
      last = serializeCheckpoint(await captureCheckpoint(model, state, snap, data));
    },
  };
  const b = await fit(be, data, {
    ...base,
    epochs,
    signal: controller.signal,
    checkpoint: hooks,
    onStep: (s) => {
      if (s.epoch === abortAt && s.step === 2) controller.abort();
    },
  });
  expect(b.aborted).toBe(true);
  b.model.dispose();
  expect(last).not.toBeNull();
  const ckpt = parseCheckpoint(last!, 'last checkpoint');
  expect(ckpt.trainer.epoch).toBe(abortAt);
  const c = await fit(be, data, { ...base, epochs, ...resumeFrom(be, data, ckpt, hooks) });
  return { a, c, ckpt, data };
}

function expectSameParameters(x: Map<string, Float32Array>, y: Map<string, Float32Array>, tol: { atol: number; rtol: number }): void {
  expect([...x.keys()].sort()).toEqual([...y.keys()].sort());
  for (const [name, v] of x) expectClose(y.get(name)!, v, tol, name);
}

describe('training checkpoints: a resumed run continues exactly where it stopped', () => {
  it('LightGCN with edge dropout on WebGPU: interrupted in epoch 3 of 5, resumed → the same parameters and history', async () => {
    const g = await gpu();
    const { a, c } = await interruptedVersusUninterrupted(g, 'lightgcn', 5, 3);
    expect(c.steps).toBe(a.steps);
    expect(c.bestEpoch).toBe(a.bestEpoch);
    expect(c.history.map((h) => h.val?.['recall@20'])).toEqual(a.history.map((h) => h.val?.['recall@20']));
    expect(c.history.map((h) => h.losses.total)).toEqual(a.history.map((h) => h.losses.total));
    // Same kernels in the same order on the same device: equal to float tolerance (in practice bit for bit).
    expectSameParameters(await parametersOf(a.model), await parametersOf(c.model), { atol: 1e-7, rtol: 1e-6 });
    expect(c.test['recall@20']).toBeCloseTo(a.test['recall@20'], 6);
    a.model.dispose();
    c.model.dispose();
  });

  it('IRLLRec (intents, towers, EMA teacher, ssl noise) on the CPU: interrupted in epoch 2 of 3, resumed → the same parameters', async () => {
    const be = cpu('f32');
    const { a, c, ckpt } = await interruptedVersusUninterrupted(be, 'irllrec', 3, 2);
    expect(ckpt.teacher.size).toBe(4);
    expect(ckpt.snapshot).not.toBeNull();
    expect(ckpt.step).toBeGreaterThan(0);
    expectSameParameters(await parametersOf(a.model), await parametersOf(c.model), { atol: 0, rtol: 0 });
    expect(c.history.map((h) => h.losses.total)).toEqual(a.history.map((h) => h.losses.total));
    a.model.dispose();
    c.model.dispose();
  });

  for (const [kind, backend] of [
    ['sgl_int', 'WebGPU'],
    ['simgcl_int', 'the CPU'],
  ] as const) {
    it(`${kind} (per-step augmented views, intents, towers) on ${backend}: interrupted in epoch 2 of 3, resumed → the same parameters`, async () => {
      const be = backend === 'WebGPU' ? await gpu() : cpu('f32');
      const { a, c, ckpt } = await interruptedVersusUninterrupted(be, kind, 3, 2);
      expect(ckpt.teacher.size).toBe(0);
      expect(c.history.map((h) => h.losses.cl)).toEqual(a.history.map((h) => h.losses.cl));
      expect(a.history[0].losses.cl).toBeGreaterThan(0);
      expectSameParameters(await parametersOf(a.model), await parametersOf(c.model), backend === 'WebGPU' ? { atol: 1e-7, rtol: 1e-6 } : { atol: 0, rtol: 0 });
      a.model.dispose();
      c.model.dispose();
    });
  }

  it('the test can fail: resuming with a different RNG state diverges', async () => {
    const be = cpu('f32');
    const data = tiny();
    const base = { ...options('lightgcn'), epochs: 2 };
    const a = await fit(be, data, base);
    let first: TrainingCheckpoint | null = null;
    const b = await fit(be, data, {
      ...base,
      epochs: 1,
      checkpoint: { onCheckpoint: async (s, m, snap) => void (first = await captureCheckpoint(m, s, snap, data)) },
    });
    b.model.dispose();
    const ck = first! as TrainingCheckpoint;
    const same = await fit(be, data, { ...base, ...resumeFrom(be, data, ck) });
    const other = await fit(be, data, { ...base, ...resumeFrom(be, data, { ...ck, trainer: { ...ck.trainer, rngState: ck.trainer.rngState ^ 1 } }) });
    const pa = await parametersOf(a.model);
    expectSameParameters(pa, await parametersOf(same.model), { atol: 0, rtol: 0 });
    const po = await parametersOf(other.model);
    expect(Array.from(po.get('E0')!)).not.toEqual(Array.from(pa.get('E0')!));
    for (const r of [a, same, other]) r.model.dispose();
  });
});

describe('resuming at a stopping point', () => {
  it('a run checkpointed when early stopping fired, or at maxSteps, stops again without training', async () => {
    const be = cpu('f32');
    const data = tiny();
    const base = { ...options('lightgcn'), epochs: 4, patience: 2 };
    let ck: TrainingCheckpoint | null = null;
    const r = await fit(be, data, { ...base, epochs: 1, checkpoint: { onCheckpoint: async (s, m, snap) => void (ck = await captureCheckpoint(m, s, snap, data)) } });
    r.model.dispose();
    const c = ck! as TrainingCheckpoint;
    const stopped = await fit(be, data, { ...base, ...resumeFrom(be, data, { ...c, trainer: { ...c.trainer, patience: 2 } }) });
    expect(stopped.stoppedEarly).toBe(true);
    expect(stopped.steps).toBe(c.trainer.steps);
    expect(stopped.history).toHaveLength(1);
    const capped = await fit(be, data, { ...base, maxSteps: c.trainer.steps, ...resumeFrom(be, data, c) });
    expect(capped.steps).toBe(c.trainer.steps);
    expect(capped.history).toHaveLength(1);
    const more = await fit(be, data, { ...base, ...resumeFrom(be, data, c) });
    expect(more.history.length).toBeGreaterThan(1);
    for (const x of [stopped, capped, more]) x.model.dispose();
  });
});

describe('checkpoint files', () => {
  async function oneCheckpoint(): Promise<{ bytes: Uint8Array; data: Dataset }> {
    const be = cpu('f32');
    const data = tiny();
    let bytes: Uint8Array | null = null;
    const r = await fit(be, data, {
      ...options('irllrec'),
      epochs: 1,
      checkpoint: { onCheckpoint: async (s, m, snap) => void (bytes = serializeCheckpoint(await captureCheckpoint(m, s, snap, data))) },
    });
    r.model.dispose();
    return { bytes: bytes!, data };
  }

  it('round-trips every tensor and the trainer state; damaged files get clear errors', async () => {
    const { bytes, data } = await oneCheckpoint();
    const c = parseCheckpoint(bytes);
    expect(c.config.kind).toBe('irllrec');
    expect(c.trainer.epoch).toBe(1);
    expect(c.trainer.history).toHaveLength(1);
    expect(c.params.get('E0')!.shape).toEqual([data.numUsers + data.numItems, 8]);
    expect(serializeCheckpoint(parseCheckpoint(serializeCheckpoint(c)))).toEqual(serializeCheckpoint(c));
    const err = (f: () => unknown, code: string, msg: RegExp) => {
      let e: unknown = null;
      try {
        f();
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(IrllrecError);
      expect((e as IrllrecError).code).toBe(code);
      expect((e as Error).message).toMatch(msg);
    };
    err(() => parseCheckpoint(bytes.subarray(0, bytes.length - 3), 'ck'), 'format', /^ck: /);
    err(() => parseCheckpoint(bytes.subarray(0, 4), 'ck'), 'format', /shorter than the 8-byte header/);
    const nan = bytes.slice();
    new DataView(nan.buffer).setFloat32(nan.length - 4, Number.NaN, true);
    err(() => parseCheckpoint(nan, 'ck'), 'nonfinite', /non-finite value/);
    const model = (await fit(cpu('f32'), data, { ...options('lightgcn'), epochs: 1 })).model;
    const modelFile = await serializeModel(model);
    err(() => parseCheckpoint(modelFile, 'model.safetensors'), 'format', /not an irllrec training checkpoint/);
    model.dispose();
    // Resuming on other data is refused.
    const other = syntheticDataset({ seed: 12, numUsers: 50, numItems: 61, numIntents: 4, textDim: 8, interactionsPerUser: 8 });
    err(() => resumeFrom(cpu('f32'), other, c), 'data', /training interactions differ/);
  });

  it('checkpointToFile writes atomically every N epochs; loadCheckpoint reads it back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'irllrec-ckpt-'));
    try {
      const path = join(dir, 'run.ckpt');
      const data = tiny();
      const seen: number[] = [];
      const hooks = checkpointToFile(path, { every: 2, data });
      const r = await fit(cpu('f32'), data, {
        ...options('lightgcn'),
        epochs: 3,
        checkpoint: { ...hooks, onCheckpoint: async (s, m, snap) => (seen.push(s.epoch), hooks.onCheckpoint!(s, m, snap)) },
      });
      r.model.dispose();
      expect(seen).toEqual([2]);
      expect(readdirSync(dir)).toEqual(['run.ckpt']); // no temporary files left behind
      const c = await loadCheckpoint(path);
      expect(c.trainer.epoch).toBe(2);
      expect(c.dataFingerprint).not.toBeNull();
      writeFileSync(path, 'not a checkpoint');
      await expect(loadCheckpoint(path)).rejects.toThrow(/run\.ckpt: /);
      await expect(loadCheckpoint(path, { maxBytes: 3 })).rejects.toThrow(/more than maxBytes = 3/);
      expect(existsSync(path)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
