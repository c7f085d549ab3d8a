/**
 * The training loop (spec §7): per epoch, fresh negatives and a fresh shuffle, one optimiser step per
 * mini-batch; validation every `evalEvery` epochs (after epochs 0, 3, 6, …) with early stopping on
 * validation Recall@20 (strictly better resets patience; `patience` evaluations without improvement stop);
 * at the end the best snapshot of all parameters (teacher included) is restored and evaluated on
 * validation and test.
 */
import { buildGraph, userItemCsr } from '../data/graph.js';
import { epochBatches, sampleNegatives } from '../data/sampler.js';
import type { Dataset } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import { LOSS_NAMES, type LossComponents, type ModelConfig, type ModelKind, type PresetName, modelConfig } from '../models/config.js';
import { type Batch, RecModel } from '../models/model.js';
import { type ModelPlanInput, checkPlan, modelPlanInput, planBindings } from '../models/plan.js';
import { type TrainingMemoryPlan, planTraining } from './memory.js';
import type { Backend, Tensor } from '../ops/tensor.js';
import { Rng } from '../util/random.js';
import { type EvaluateOptions, evaluate } from './evaluate.js';
import { DEFAULT_METRICS, type Metrics } from './metrics.js';

export interface EpochReport {
  epoch: number;
  steps: number;
  /** Mean of each loss component over the epoch's steps. */
  losses: LossComponents;
  /** Validation metrics when this epoch was evaluated. */
  val?: Metrics;
  seconds: number;
  /** Whether this evaluation improved the best validation Recall@20. */
  improved?: boolean;
}

export interface StepReport {
  epoch: number;
  /** Steps done in this epoch (1 … stepsInEpoch). */
  step: number;
  stepsInEpoch: number;
  /** Epochs the run may take (`epochs`; early stopping or `maxSteps` may end it sooner). */
  epochs: number;
  /** Optimiser steps done in the whole run (resumed runs count the earlier steps). */
  steps: number;
  losses: LossComponents;
}

/**
 * The trainer's own state at an epoch boundary (what a checkpoint needs besides the model's tensors; see
 * src/train/checkpoint.ts). Resuming from it continues the run exactly: same negatives, shuffles,
 * evaluations and early-stopping decisions.
 */
export interface TrainerState {
  /** Epochs completed: the next epoch to run. */
  epoch: number;
  /** Optimiser steps taken in total. */
  steps: number;
  /** State of the trainer's `Rng` (negatives, shuffles) at the start of epoch `epoch`. */
  rngState: number;
  /** Best validation Recall@20 so far (−Infinity before the first evaluation), its epoch and the patience count. */
  best: number;
  bestEpoch: number;
  patience: number;
  history: EpochReport[];
}

/** Checkpointing hooks of `fit`. */
export interface FitCheckpointOptions {
  /** Call `onCheckpoint` after every `every`-th completed epoch (default 1). */
  every?: number;
  /**
   * Receives the trainer state, the model and the best snapshot so far (parameters and teacher by name,
   * on the device; null before the first improvement). Awaited before training continues.
   */
  onCheckpoint?: (state: TrainerState, model: RecModel, snapshot: ReadonlyMap<string, Tensor> | null) => void | Promise<void>;
  /**
   * Continue from this state (pass the restored model as `init`): epochs start at `resume.epoch` and
   * `epochs` counts from the beginning of the run. `snapshot` holds the best parameters by name.
   */
  resume?: TrainerState & { snapshot?: ReadonlyMap<string, { shape: readonly number[]; data: ArrayLike<number> }> | null };
}

export interface FitOptions {
  /** Model kind, or a full config (default 'irllrec' with the dataset's preset). */
  model?: ModelKind | ModelConfig;
  /**
   * The hyperparameters to start from (see `PresetName`): 'reference' (the authors' per-dataset values) or
   * 'default' (this library's measured defaults). Omitted: 'reference' on amazon, yelp and movie, else 'default'.
   * Ignored when `model` is a full config.
   */
  preset?: PresetName;
  /** Overrides of the preset (e.g. `{ layers: 2 }`). */
  config?: Partial<ModelConfig>;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  /** Validate every N epochs (3). */
  evalEvery?: number;
  /** Evaluations without improvement before stopping (5); 0 disables early stopping. */
  patience?: number;
  /** Stop after this many optimiser steps in total (smoke runs, benchmarks). */
  maxSteps?: number;
  ks?: number[];
  signal?: AbortSignal;
  onEpoch?: (r: EpochReport) => void;
  onStep?: (r: StepReport) => void;
  /** Start from this model (fine-tuning) instead of a fresh one. */
  init?: RecModel;
  evaluation?: EvaluateOptions;
  /** Checkpoint hooks and resuming (see `FitCheckpointOptions`). */
  checkpoint?: FitCheckpointOptions;
  /**
   * A budget of device memory (bytes) that the run plans within (src/train/memory.ts): the text towers'
   * activations kept or recomputed in smaller blocks, smaller evaluation chunks; results are the same. A run
   * that cannot fit it fails with a 'limit' IrllrecError before the model is allocated. Default: no budget.
   */
  maxMemory?: number;
}

export interface FitResult {
  model: RecModel;
  /** The preset the run's hyperparameters started from (undefined for a model built from a config without one). */
  preset?: PresetName;
  history: EpochReport[];
  bestEpoch: number;
  val: Metrics;
  test: Metrics;
  steps: number;
  seconds: number;
  stoppedEarly: boolean;
  aborted: boolean;
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/**
 * Create the model for `data` on `be` (config from the dataset's preset and overrides). With `batchSize`, the
 * training steps' buffers are checked against the device limits too, before anything is allocated.
 */
export function createModel(
  be: Backend,
  data: Dataset,
  opts: { model?: ModelKind | ModelConfig; preset?: PresetName; config?: Partial<ModelConfig>; seed?: number; batchSize?: number; maxMemory?: number; ks?: number[] } = {},
): RecModel {
  const cfg = typeof opts.model === 'object' ? { ...opts.model, ...opts.config } : modelConfig(opts.model ?? 'irllrec', data.name, opts.config, opts.preset);
  const graph = buildGraph(data);
  // Batches never exceed the training set (epochBatches).
  const batchSize = opts.batchSize === undefined ? undefined : Math.min(opts.batchSize, data.train.users.length);
  const where = `createModel(${data.name}, ${cfg.kind})`;
  const input = modelPlanInput(cfg, { ...data, graph });
  if (batchSize !== undefined) checkPlan(be, planBindings(input, { batchSize }), where);
  // With a budget (and a batch size), the run's memory plan is checked before anything is allocated.
  const memory = opts.maxMemory !== undefined && batchSize !== undefined ? memoryPlan(input, data, batchSize, opts.maxMemory, opts.ks, undefined, where) : null;
  const model = RecModel.create(be, cfg, { numUsers: data.numUsers, numItems: data.numItems, graph, text: data.text }, { seed: opts.seed });
  if (memory) model.towerMemory = memory.towers;
  return model;
}

function memoryPlan(input: ModelPlanInput, data: Dataset, batchSize: number, maxMemory: number, ks: number[] | undefined, usersPerChunk: number | undefined, where: string): TrainingMemoryPlan {
  return planTraining(input, { batchSize, k: Math.max(...(ks ?? [5, 10, 20])), evalUsers: data.numUsers, usersPerChunk, maxMemory, where });
}

/** Train on `data` (see FitOptions); resolves with the restored best model and its metrics. */
export async function fit(be: Backend, data: Dataset, opts: FitOptions = {}): Promise<FitResult> {
  const seed = opts.seed ?? 2023;
  const epochs = opts.epochs ?? 3000;
  const batchSize = opts.batchSize ?? 4096;
  const evalEvery = opts.evalEvery ?? 3;
  const patienceLimit = opts.patience ?? 5;
  if (!Number.isInteger(evalEvery) || evalEvery < 1) throw new IrllrecError('range', `fit: evalEvery must be a positive integer, got ${evalEvery}`);
  if (!Number.isInteger(patienceLimit) || patienceLimit < 0) throw new IrllrecError('range', `fit: patience must be a non-negative integer (0: never stop early), got ${patienceLimit}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new IrllrecError('range', `fit: batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(epochs) || epochs < 1) throw new IrllrecError('range', `fit: epochs must be a positive integer, got ${epochs}`);
  if (data.train.users.length === 0) throw new IrllrecError('data', `fit: dataset '${data.name}' has no training interactions`);
  if (opts.init) {
    // `init` (fine-tuning, resumeFrom) decides the model: a different kind or other data is refused, never a silent switch.
    const want = typeof opts.model === 'object' ? opts.model.kind : opts.model;
    if (want !== undefined && want !== opts.init.config.kind) throw new IrllrecError('range', `fit: options.model is ${want} but options.init is a ${opts.init.config.kind} model`);
    if (opts.init.numUsers !== data.numUsers || opts.init.numItems !== data.numItems) {
      throw new IrllrecError('data', `fit: options.init has ${opts.init.numUsers} users / ${opts.init.numItems} items, dataset '${data.name}' ${data.numUsers} / ${data.numItems}`);
    }
  }
  if (opts.init) checkPlan(be, planBindings(opts.init.planInput(), { batchSize: Math.min(batchSize, data.train.users.length) }), `fit(${data.name}, ${opts.init.config.kind})`);
  const model = opts.init ?? createModel(be, data, { ...opts, seed, batchSize });
  if (opts.lr !== undefined) model.adam = { ...model.adam, lr: opts.lr };
  const memory =
    opts.maxMemory === undefined
      ? null
      : memoryPlan(model.planInput(), data, Math.min(batchSize, data.train.users.length), opts.maxMemory, opts.ks, opts.evaluation?.usersPerChunk, `fit(${data.name}, ${model.config.kind})`);
  if (memory) model.towerMemory = memory.towers;
  const rng = new Rng(seed ^ 0x5eed);
  const resume = opts.checkpoint?.resume;
  const checkpointEvery = opts.checkpoint?.every ?? 1;
  if (!Number.isInteger(checkpointEvery) || checkpointEvery < 1) throw new IrllrecError('range', `fit: checkpoint.every must be a positive integer, got ${checkpointEvery}`);
  if (resume) rng.state = resume.rngState;
  const userItems = userItemCsr(data.numUsers, data.numItems, data.train);
  const t0 = now();
  const history: EpochReport[] = resume ? [...resume.history] : [];
  let best = resume?.best ?? -Infinity;
  let bestEpoch = resume?.bestEpoch ?? -1;
  let patience = resume?.patience ?? 0;
  let snapshot: Map<string, Tensor> | null = resume?.snapshot ? snapshotFromHost(model, resume.snapshot) : null;
  let steps = resume?.steps ?? 0;
  // A resumed run whose checkpoint was taken at its stopping point stops again without training.
  let stoppedEarly = resume !== undefined && patienceLimit > 0 && patience >= patienceLimit;
  const stepsDone = resume !== undefined && opts.maxSteps !== undefined && steps >= opts.maxSteps;
  let aborted = false;
  const count = data.train.users.length;
  const hasVal = data.val.users.length > 0;
  // Early stopping reads Recall: it is computed whatever else `evaluation.metrics` asks for.
  const asked = opts.evaluation?.metrics ?? DEFAULT_METRICS;
  const evalOpts: EvaluateOptions = { ...opts.evaluation, ks: opts.ks, metrics: asked.includes('recall') ? asked : ['recall', ...asked], ...(memory ? { usersPerChunk: memory.usersPerChunk } : {}) };

  try {
    outer: for (let epoch = stoppedEarly || stepsDone ? epochs : (resume?.epoch ?? 0); epoch < epochs; epoch++) {
      const te = now();
      const negatives = sampleNegatives(rng, data.numItems, data.train, userItems);
      const batches = epochBatches(rng, count, batchSize);
      const sums = Object.fromEntries([...LOSS_NAMES, 'total'].map((k) => [k, 0])) as LossComponents;
      let epochSteps = 0;
      for (const idx of batches) {
        if (opts.signal?.aborted) {
          aborted = true;
          break outer;
        }
        const batch: Batch = { users: new Uint32Array(idx.length), pos: new Uint32Array(idx.length), neg: new Uint32Array(idx.length) };
        for (let b = 0; b < idx.length; b++) {
          const k = idx[b];
          batch.users[b] = data.train.users[k];
          batch.pos[b] = data.train.items[k];
          batch.neg[b] = negatives[k];
        }
        const losses = await model.trainStep(batch);
        for (const k of [...LOSS_NAMES, 'total'] as const) {
          if (!Number.isFinite(losses[k])) {
            throw new IrllrecError('nonfinite', `fit: loss '${k}' became ${losses[k]} at epoch ${epoch}, step ${epochSteps} (total step ${steps + 1}); the best snapshot so far is restored`);
          }
          sums[k] += losses[k];
        }
        steps++;
        epochSteps++;
        opts.onStep?.({ epoch, step: epochSteps, stepsInEpoch: batches.length, epochs, steps, losses });
        if (opts.maxSteps !== undefined && steps >= opts.maxSteps) break;
      }
      for (const k of Object.keys(sums) as (keyof LossComponents)[]) sums[k] /= Math.max(1, epochSteps);
      const report: EpochReport = { epoch, steps: epochSteps, losses: sums, seconds: 0 };
      const lastEpoch = epoch === epochs - 1 || (opts.maxSteps !== undefined && steps >= opts.maxSteps);
      if (hasVal && (epoch % evalEvery === 0 || (lastEpoch && snapshot === null))) {
        const val = await evaluate(model, data, 'val', evalOpts);
        report.val = val;
        const r20 = val['recall@20'] ?? val[`recall@${Math.max(...(opts.ks ?? [20]))}`];
        if (r20 > best) {
          best = r20;
          bestEpoch = epoch;
          patience = 0;
          snapshot = takeSnapshot(model, snapshot);
          report.improved = true;
        } else {
          patience++;
          report.improved = false;
        }
      }
      report.seconds = (now() - te) / 1000;
      history.push(report);
      opts.onEpoch?.(report);
      // A checkpoint only at the end of a whole epoch (one cut short by maxSteps could not be resumed exactly).
      if (opts.checkpoint?.onCheckpoint && epochSteps === batches.length && (epoch + 1) % checkpointEvery === 0) {
        await opts.checkpoint.onCheckpoint({ epoch: epoch + 1, steps, rngState: rng.state, best, bestEpoch, patience, history: [...history] }, model, snapshot);
      }
      if (patienceLimit > 0 && patience >= patienceLimit) {
        stoppedEarly = true;
        break;
      }
      if (opts.maxSteps !== undefined && steps >= opts.maxSteps) break;
    }
  } finally {
    // Also when training fails (e.g. a non-finite loss): the best snapshot is restored and released.
    if (snapshot) {
      restoreSnapshot(model, snapshot);
      for (const t of snapshot.values()) t.dispose();
    }
  }
  const val = hasVal ? await evaluate(model, data, 'val', evalOpts) : {};
  const test = data.test.users.length > 0 ? await evaluate(model, data, 'test', evalOpts) : {};
  return { model, preset: model.config.preset, history, bestEpoch, val, test, steps, seconds: (now() - t0) / 1000, stoppedEarly, aborted };
}

/** Copy every parameter and the teacher on the device (no readback). */
function takeSnapshot(model: RecModel, previous: Map<string, Tensor> | null): Map<string, Tensor> {
  const snap = previous ?? new Map<string, Tensor>();
  for (const [name, t] of [...model.params, ...model.teacher]) {
    let s = snap.get(name);
    if (!s) {
      s = model.be.zeros(t.shape, 'f32', `snapshot.${name}`);
      snap.set(name, s);
    }
    model.be.copy(t, s);
  }
  return snap;
}

/** Snapshot tensors from host arrays (resuming). */
function snapshotFromHost(model: RecModel, host: ReadonlyMap<string, { shape: readonly number[]; data: ArrayLike<number> }>): Map<string, Tensor> {
  const snap = new Map<string, Tensor>();
  for (const [name, t] of host) snap.set(name, model.be.tensor(t.data, t.shape, 'f32', `snapshot.${name}`));
  return snap;
}

function restoreSnapshot(model: RecModel, snap: Map<string, Tensor>): void {
  for (const [name, t] of [...model.params, ...model.teacher]) {
    const s = snap.get(name);
    if (s) model.be.copy(s, t);
  }
}
