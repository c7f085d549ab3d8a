/**
 * Resume after device loss: a run checkpoints every epoch to host bytes (serializeCheckpoint, nothing kept
 * on the device), its device is destroyed in the middle of a later epoch, `fit` rejects with a
 * DeviceLostError, and the last checkpoint is restored onto a NEW backend and resumed. The resumed run must
 * equal an uninterrupted run with the same seed on another fresh backend: final parameters, history
 * (losses, validation metrics, improved flags; wall-clock seconds excluded), best epoch, the final
 * val/test metrics, and the full training state after the last epoch (parameters, Adam moments, EMA teacher,
 * best snapshot, RNG state — from a checkpoint at the last epoch, since the returned model is the restored best
 * snapshot, which may predate the loss). Training is deterministic (same adapter, same kernels, float32 checkpoints round-trip
 * exactly), so the comparison is exact (tolerance 0).
 *
 * Negative controls keep the comparison honest: the same checkpoint resumed with the RNG state of epoch 0
 * (wrong negatives and shuffles), or resumed as if from epoch 0 (two extra epochs), must NOT match.
 */
import { afterAll, expect, it } from 'vitest';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { DeviceLostError } from '../../src/errors.js';
import { createBackend } from '../../src/node/index.js';
import type { WebGpuBackend } from '../../src/ops/tensor.js';
import { type HostTensor, type TrainingCheckpoint, captureCheckpoint, parseCheckpoint, resumeFrom, serializeCheckpoint } from '../../src/train/checkpoint.js';
import { type EpochReport, type FitCheckpointOptions, type FitOptions, type FitResult, fit } from '../../src/train/trainer.js';
import { Rng } from '../../src/util/random.js';

const backends: WebGpuBackend[] = [];
afterAll(() => {
  for (const be of backends) be.destroy();
});

async function freshBackend(): Promise<WebGpuBackend> {
  const be = (await createBackend({ backend: 'webgpu' })) as WebGpuBackend;
  backends.push(be);
  return be;
}

const data = syntheticDataset({ seed: 8, numUsers: 60, numItems: 80, numIntents: 3, textDim: 8, interactionsPerUser: 6 });
const EPOCHS = 4;
const BATCH = 128;

type Host = Map<string, HostTensor>;
const plain = (m: Host | null) => (m ? Object.fromEntries([...m].map(([k, t]) => [k, { shape: t.shape, data: Array.from(t.data) }])) : null);
const noSeconds = (h: EpochReport[]) => h.map(({ seconds: _s, ...rest }) => rest);

/**
 * The comparable outcome of a run: the returned (best) model's parameters, history without timings,
 * metrics, and the state after the last epoch from `final` (the checkpoint taken at the end of training).
 */
async function outcome(be: WebGpuBackend, r: FitResult, final: TrainingCheckpoint) {
  const params: Record<string, number[]> = {};
  for (const [name, t] of r.model.params) params[name] = Array.from(await be.read(t));
  return {
    params,
    history: noSeconds(r.history),
    bestEpoch: r.bestEpoch,
    val: r.val,
    test: r.test,
    steps: r.steps,
    final: {
      step: final.step,
      trainer: { ...final.trainer, history: noSeconds(final.trainer.history) },
      params: plain(final.params),
      adamM: plain(final.adamM),
      adamV: plain(final.adamV),
      teacher: plain(final.teacher),
      snapshot: plain(final.snapshot),
    },
  };
}

/** `onCheckpoint` that keeps each checkpoint as host bytes in `into`. */
const keepBytes = (into: Uint8Array[]): NonNullable<FitCheckpointOptions['onCheckpoint']> => async (s, model, snap) =>
  void into.push(serializeCheckpoint(await captureCheckpoint(model, s, snap, data)));
const lastOf = (saved: Uint8Array[]) => parseCheckpoint(saved[saved.length - 1]);

for (const kind of ['lightgcn', 'irllrec'] as const) {
  it(`${kind}: a run whose device is lost mid-epoch resumes on a new backend from its last checkpoint and equals the uninterrupted run`, async () => {
    const opts: FitOptions = {
      model: kind,
      config: kind === 'lightgcn' ? { embeddingDim: 8, layers: 2 } : { embeddingDim: 8, layers: 2, numIntents: 3 },
      epochs: EPOCHS,
      batchSize: BATCH,
      evalEvery: 1,
      patience: 0,
      seed: 11,
    };
    const stepsPerEpoch = Math.ceil(data.train.users.length / BATCH);
    expect(stepsPerEpoch).toBeGreaterThanOrEqual(2); // so that "mid-epoch" exists

    // Uninterrupted reference on its own backend.
    const beRef = await freshBackend();
    const refSaved: Uint8Array[] = [];
    const ref = await fit(beRef, data, { ...opts, checkpoint: { onCheckpoint: keepBytes(refSaved) } });
    expect(refSaved.length).toBe(EPOCHS);
    const want = await outcome(beRef, ref, lastOf(refSaved));
    ref.model.dispose();
    expect(want.history.length).toBe(EPOCHS);

    // The interrupted run: a checkpoint per epoch as host bytes; the device is destroyed at the second
    // step of epoch 2 (after checkpoints for epochs 0 and 1, with a step of epoch 2 already applied).
    const beLost = await freshBackend();
    const saved: Uint8Array[] = [];
    const lossStep = 2 * stepsPerEpoch + 2;
    let stepsSeen = 0;
    const lost = await fit(beLost, data, {
      ...opts,
      checkpoint: { onCheckpoint: keepBytes(saved) },
      onStep: () => {
        if (++stepsSeen === lossStep) beLost.device.destroy();
      },
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(lost instanceof DeviceLostError ? 'DeviceLostError' : String(lost)).toBe('DeviceLostError');
    expect(saved.length).toBe(2);
    const last = lastOf(saved);
    expect(last.trainer.epoch).toBe(2);
    expect(last.trainer.history.length).toBe(2);

    // Resume on a new backend; keep checkpointing so that the hooks work on the resumed run too.
    const beNew = await freshBackend();
    const resumedSaved: Uint8Array[] = [];
    const resumed = await fit(beNew, data, { ...opts, ...resumeFrom(beNew, data, last, { onCheckpoint: keepBytes(resumedSaved) }) });
    expect(resumedSaved.map((b) => parseCheckpoint(b).trainer.epoch)).toEqual([3, 4]);
    const got = await outcome(beNew, resumed, lastOf(resumedSaved));
    resumed.model.dispose();
    // Exact: same adapter, same kernels, float32 state restored bit for bit.
    expect(got.history).toEqual(want.history);
    expect(got.bestEpoch).toBe(want.bestEpoch);
    expect(got.val).toEqual(want.val);
    expect(got.test).toEqual(want.test);
    expect(got.steps).toBe(want.steps);
    expect(Object.keys(got.params).sort()).toEqual(Object.keys(want.params).sort());
    for (const name of Object.keys(want.params)) expect(got.params[name], name).toEqual(want.params[name]);
    expect(got.final).toEqual(want.final);

    // Negative controls: the comparison above must be able to fail. Resuming with the RNG state of epoch 0
    // (other negatives and shuffles), or from epoch 0 with the epoch-2 weights, ends elsewhere.
    const rngAtStart = new Rng((opts.seed as number) ^ 0x5eed).state;
    expect(last.trainer.rngState).not.toBe(rngAtStart);
    const wrongRng = lastOf(saved);
    wrongRng.trainer.rngState = rngAtStart;
    const fromZero = lastOf(saved);
    fromZero.trainer = { ...fromZero.trainer, epoch: 0, history: [] };
    for (const bad of [wrongRng, fromZero]) {
      const badSaved: Uint8Array[] = [];
      const r = await fit(beNew, data, { ...opts, ...resumeFrom(beNew, data, bad, { onCheckpoint: keepBytes(badSaved) }) });
      const o = await outcome(beNew, r, lastOf(badSaved));
      r.model.dispose();
      expect(o.final.params).not.toEqual(want.final.params);
      expect(o.history).not.toEqual(want.history);
    }
  });
}
