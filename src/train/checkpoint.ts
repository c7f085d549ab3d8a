/**
 * Training checkpoints: everything needed to continue a `fit` run exactly where it stopped — every
 * parameter, the Adam moments and step count, the EMA teacher, the trainer's RNG state, the epoch and step
 * counters, the early-stopping bookkeeping (best Recall@20, its epoch, patience, history) and the best
 * snapshot. The per-step noise of the model (ssl noise, dropout masks) is a function of the model seed and
 * the Adam step, so it needs no extra state.
 *
 *   // save every epoch (Node: saveCheckpoint / checkpointToFile in the `node` entry write atomically)
 *   await fit(be, data, { checkpoint: { onCheckpoint: async (s, model, snap) =>
 *     store(serializeCheckpoint(await captureCheckpoint(model, s, snap, data))) } });
 *   // resume: same data, same options; `epochs` counts from the start of the run
 *   await fit(be, data, { ...opts, ...resumeFrom(be, data, parseCheckpoint(bytes)) });
 *
 * File layout: safetensors (F32 tensors `param.<name>`, `adam_m.<name>`, `adam_v.<name>`, `teacher.<name>`,
 * `best.<name>`, with the model's internal names, e.g. `param.E0`), scalars and the trainer state as JSON in
 * `__metadata__`. Float32 round-trips exactly, so a resumed run on the same backend reproduces the
 * uninterrupted one bit for bit. Browser-safe.
 */
import { buildGraph } from '../data/graph.js';
import type { Dataset, Interactions } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import { type SafeTensor, float32Tensor, readSafetensors, tensorToFloat32, writeSafetensors } from '../io/safetensors.js';
import { type ModelConfig, storedConfig, validateConfig } from '../models/config.js';
import { RecModel, checkScoreRange } from '../models/model.js';
import type { AdamConfig } from '../ops/optim.js';
import type { Backend, Tensor } from '../ops/tensor.js';
import type { FitCheckpointOptions, FitOptions, TrainerState } from './trainer.js';

export const CHECKPOINT_FORMAT = 'irllrec-checkpoint';
export const CHECKPOINT_VERSION = '1';

/** A tensor on the host. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** A training checkpoint in memory (see the module comment). */
export interface TrainingCheckpoint {
  config: ModelConfig;
  numUsers: number;
  numItems: number;
  /** The model's seed (drives its per-step noise). */
  modelSeed: number;
  /** Adam steps taken. */
  step: number;
  adam: AdamConfig;
  /** Trainable parameters by internal name ('E0', 'user_intent', 'mlp.0.weight', …). */
  params: Map<string, HostTensor>;
  adamM: Map<string, HostTensor>;
  adamV: Map<string, HostTensor>;
  /** EMA teacher (IRLLRec; empty otherwise). */
  teacher: Map<string, HostTensor>;
  trainer: TrainerState;
  /** Best snapshot (parameters and teacher) or null before the first improvement. */
  snapshot: Map<string, HostTensor> | null;
  /** Fingerprint of the training interactions (checked on resume); null when unknown. */
  dataFingerprint: string | null;
  datasetName?: string;
}

const GROUPS = ['param', 'adam_m', 'adam_v', 'teacher', 'best'] as const;
type Group = (typeof GROUPS)[number];

/** FNV-1a over the counts and the (user, item) pairs: a cheap check that a resume uses the same training data. */
export function trainingFingerprint(numUsers: number, numItems: number, train: Interactions): string {
  let h = 0x811c9dc5;
  const mix = (x: number) => {
    h = Math.imul(h ^ (x & 0xffff), 0x01000193) >>> 0;
    h = Math.imul(h ^ (x >>> 16), 0x01000193) >>> 0;
  };
  mix(numUsers);
  mix(numItems);
  mix(train.users.length);
  for (let k = 0; k < train.users.length; k++) {
    mix(train.users[k]);
    mix(train.items[k]);
  }
  return h.toString(16).padStart(8, '0');
}

async function readAll(be: Backend, tensors: Iterable<[string, Tensor]>): Promise<Map<string, HostTensor>> {
  const entries = [...tensors];
  const data = await be.readAll(entries.map(([, t]) => t));
  return new Map(entries.map(([name, t], i) => [name, { shape: [...t.shape], data: Float32Array.from(data[i]) }]));
}

/**
 * Read a checkpoint of `model` at the trainer state `state` (what `fit`'s `onCheckpoint` receives). With
 * `data`, the training interactions' fingerprint is stored so that a resume on other data is refused.
 */
export async function captureCheckpoint(
  model: RecModel,
  state: TrainerState,
  snapshot: ReadonlyMap<string, Tensor> | null,
  data?: Pick<Dataset, 'numUsers' | 'numItems' | 'train'> & { name?: string },
): Promise<TrainingCheckpoint> {
  const be = model.be;
  const { m, v } = model.optimizerState();
  return {
    config: { ...model.config },
    numUsers: model.numUsers,
    numItems: model.numItems,
    modelSeed: model.seed,
    step: model.step,
    adam: { ...model.adam },
    params: await readAll(be, model.params),
    adamM: await readAll(be, m),
    adamV: await readAll(be, v),
    teacher: await readAll(be, model.teacher),
    trainer: { ...state, history: state.history.map((r) => ({ ...r })) },
    snapshot: snapshot ? await readAll(be, snapshot) : null,
    dataFingerprint: data ? trainingFingerprint(data.numUsers, data.numItems, data.train) : null,
    datasetName: data?.name,
  };
}

/** The checkpoint as safetensors bytes. */
export function serializeCheckpoint(c: TrainingCheckpoint): Uint8Array {
  const tensors: Record<string, SafeTensor> = {};
  const put = (group: Group, map: Map<string, HostTensor> | null) => {
    if (map) for (const [name, t] of map) tensors[`${group}.${name}`] = float32Tensor(t.data, t.shape);
  };
  put('param', c.params);
  put('adam_m', c.adamM);
  put('adam_v', c.adamV);
  put('teacher', c.teacher);
  put('best', c.snapshot);
  const trainer = { ...c.trainer, best: Number.isFinite(c.trainer.best) ? c.trainer.best : null };
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    format_version: CHECKPOINT_VERSION,
    config: JSON.stringify(c.config),
    num_users: String(c.numUsers),
    num_items: String(c.numItems),
    model_seed: String(c.modelSeed),
    adam_step: String(c.step),
    adam: JSON.stringify(c.adam),
    trainer: JSON.stringify(trainer),
    has_snapshot: c.snapshot ? '1' : '0',
  };
  if (c.dataFingerprint) metadata.data_fingerprint = c.dataFingerprint;
  if (c.datasetName) metadata.dataset = c.datasetName;
  return writeSafetensors(tensors, metadata);
}

function formatError(source: string, msg: string): IrllrecError {
  return new IrllrecError('format', `${source}: ${msg}`);
}

function json<T>(source: string, key: string, text: string | undefined): T {
  if (text === undefined) throw formatError(source, `metadata '${key}' is missing`);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw formatError(source, `metadata '${key}' is not valid JSON (${(e as Error).message})`);
  }
}

function integer(source: string, key: string, text: string | undefined, min = 0): number {
  const v = Number(text);
  if (text === undefined || !/^-?\d+$/.test(text) || !Number.isSafeInteger(v) || v < min) throw formatError(source, `metadata '${key}' must be an integer ≥ ${min}, got ${text ?? '(missing)'}`);
  return v;
}

/**
 * Parse and validate checkpoint bytes. Errors: 'format' (not a checkpoint, truncated, malformed metadata,
 * inconsistent tensors), 'nonfinite' (NaN/Inf values).
 */
export function parseCheckpoint(bytes: Uint8Array, source = 'checkpoint'): TrainingCheckpoint {
  const { tensors, metadata } = readSafetensors(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw formatError(source, `not an irllrec training checkpoint (metadata format is ${metadata.format === undefined ? 'missing' : `'${metadata.format}'`}; a model file is loaded with parseModelFile)`);
  }
  if (metadata.format_version !== CHECKPOINT_VERSION) throw formatError(source, `checkpoint format version ${metadata.format_version} is not supported (expected ${CHECKPOINT_VERSION})`);
  const config = storedConfig(json<unknown>(source, 'config', metadata.config));
  try {
    validateConfig(config);
  } catch (e) {
    throw new IrllrecError(e instanceof IrllrecError && e.code === 'limit' ? 'limit' : 'format', `${source}: metadata 'config': ${(e as Error).message}`);
  }
  const adam = json<AdamConfig>(source, 'adam', metadata.adam);
  for (const k of ['lr', 'beta1', 'beta2', 'eps'] as const) {
    if (typeof adam?.[k] !== 'number' || !Number.isFinite(adam[k])) throw formatError(source, `metadata 'adam' lacks a finite '${k}'`);
  }
  const t = json<Record<string, unknown>>(source, 'trainer', metadata.trainer);
  const intField = (k: string, min: number) => {
    const v = t?.[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw formatError(source, `trainer state '${k}' must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return v;
  };
  const best = t?.best === null ? -Infinity : t?.best;
  if (typeof best !== 'number' || Number.isNaN(best)) throw formatError(source, `trainer state 'best' must be a number or null, got ${JSON.stringify(t?.best)}`);
  if (!Array.isArray(t?.history)) throw formatError(source, "trainer state 'history' must be an array");
  const trainer: TrainerState = {
    epoch: intField('epoch', 0),
    steps: intField('steps', 0),
    rngState: intField('rngState', 0),
    best,
    bestEpoch: intField('bestEpoch', -1),
    patience: intField('patience', 0),
    history: t.history as TrainerState['history'],
  };
  if (trainer.rngState > 0xffffffff) throw formatError(source, `trainer state 'rngState' ${trainer.rngState} is not a 32-bit value`);
  // The counters must describe a run that can have happened: one history entry per epoch, at least one step
  // per epoch, the best epoch and the patience count within the epochs run, a best Recall@20 in [0, 1].
  if (trainer.history.length !== trainer.epoch) throw formatError(source, `trainer state has ${trainer.history.length} history entries for epoch ${trainer.epoch}`);
  if (trainer.steps < trainer.epoch) throw formatError(source, `trainer state 'steps' ${trainer.steps} is less than 'epoch' ${trainer.epoch}`);
  if (trainer.bestEpoch >= trainer.epoch) throw formatError(source, `trainer state 'bestEpoch' ${trainer.bestEpoch} is not an epoch already run (epoch ${trainer.epoch})`);
  if (trainer.patience > trainer.epoch) throw formatError(source, `trainer state 'patience' ${trainer.patience} exceeds 'epoch' ${trainer.epoch}`);
  if (best !== -Infinity && !(best >= 0 && best <= 1)) throw formatError(source, `trainer state 'best' ${best} is not a Recall@20 in [0, 1]`);
  if ((best === -Infinity) !== (trainer.bestEpoch === -1)) throw formatError(source, `trainer state 'best' ${JSON.stringify(t.best)} and 'bestEpoch' ${trainer.bestEpoch} disagree`);
  if (!(adam.lr > 0) || !(adam.beta1 >= 0 && adam.beta1 < 1) || !(adam.beta2 >= 0 && adam.beta2 < 1) || !(adam.eps > 0)) {
    throw formatError(source, `metadata 'adam' ${JSON.stringify(adam)} is not an Adam configuration (lr > 0, 0 ≤ beta1, beta2 < 1, eps > 0)`);
  }

  const groups = new Map<Group, Map<string, HostTensor>>(GROUPS.map((g) => [g, new Map()]));
  for (const [key, raw] of tensors) {
    const dot = key.indexOf('.');
    const group = key.slice(0, dot) as Group;
    if (dot < 0 || !groups.has(group)) throw formatError(source, `unexpected tensor '${key}'`);
    if (raw.dtype !== 'F32') throw formatError(source, `tensor '${key}' has unsupported dtype ${raw.dtype} (checkpoints hold F32)`);
    const data = tensorToFloat32(raw, key);
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new IrllrecError('nonfinite', `${source}: tensor '${key}' has a non-finite value at index ${i}`);
    }
    if (group === 'adam_v') {
      // Adam's second moments are averages of squares: a negative one would make the step's square root NaN.
      const neg = data.findIndex((x) => x < 0);
      if (neg >= 0) throw formatError(source, `tensor '${key}' has a negative second moment ${data[neg]} at index ${neg}`);
    }
    groups.get(group)!.set(key.slice(dot + 1), { shape: raw.shape, data });
  }
  const params = groups.get('param')!;
  const sameNames = (what: string, m: Map<string, HostTensor>) => {
    for (const [name, p] of params) {
      const x = m.get(name);
      if (!x) throw formatError(source, `${what} has no tensor for parameter '${name}'`);
      if (x.shape.join(',') !== p.shape.join(',')) throw formatError(source, `${what} '${name}' has shape [${x.shape}], the parameter [${p.shape}]`);
    }
    if (m.size !== params.size) throw formatError(source, `${what} has ${m.size} tensors for ${params.size} parameters`);
  };
  sameNames('adam_m', groups.get('adam_m')!);
  sameNames('adam_v', groups.get('adam_v')!);
  const hasSnapshot = metadata.has_snapshot === '1';
  const best_ = groups.get('best')!;
  if (!hasSnapshot && best_.size > 0) throw formatError(source, 'best-snapshot tensors are present but has_snapshot is not 1');
  if (!params.has('E0')) throw formatError(source, "no 'param.E0' tensor");
  const numUsers = integer(source, 'num_users', metadata.num_users);
  const numItems = integer(source, 'num_items', metadata.num_items);
  const e0 = params.get('E0')!;
  if (e0.shape.length !== 2 || e0.shape[0] !== numUsers + numItems || e0.shape[1] !== config.embeddingDim) {
    throw formatError(source, `param.E0 has shape [${e0.shape}], expected [${numUsers + numItems}, ${config.embeddingDim}]`);
  }
  return {
    config,
    numUsers,
    numItems,
    modelSeed: integer(source, 'model_seed', metadata.model_seed),
    step: integer(source, 'adam_step', metadata.adam_step),
    adam,
    params,
    adamM: groups.get('adam_m')!,
    adamV: groups.get('adam_v')!,
    teacher: groups.get('teacher')!,
    trainer,
    snapshot: hasSnapshot ? best_ : null,
    dataFingerprint: metadata.data_fingerprint ?? null,
    datasetName: metadata.dataset,
  };
}

/** Write host tensors into a model's tensors by name, requiring the same names and shapes. */
function writeGroup(what: string, into: Map<string, Tensor>, from: Map<string, HostTensor>): [Tensor, Float32Array][] {
  const updates: [Tensor, Float32Array][] = [];
  for (const [name, t] of into) {
    const h = from.get(name);
    if (!h) throw new IrllrecError('format', `checkpoint: ${what} has no tensor '${name}', which this model needs`);
    if (h.shape.join(',') !== t.shape.join(',')) throw new IrllrecError('shape', `checkpoint: ${what} '${name}' has shape [${h.shape}], the model [${t.shape}]`);
    updates.push([t, h.data]);
  }
  for (const name of from.keys()) if (!into.has(name)) throw new IrllrecError('format', `checkpoint: ${what} '${name}' is not a tensor of this ${into.size ? 'model' : 'model (it has none)'}`);
  return updates;
}

/**
 * A model for `data` with the checkpoint's parameters, Adam state, step and teacher (the text embeddings
 * come from `data`). Refuses data whose fingerprint differs from the checkpoint's.
 */
export function modelFromCheckpoint(be: Backend, data: Dataset, c: TrainingCheckpoint): RecModel {
  if (data.numUsers !== c.numUsers || data.numItems !== c.numItems) {
    throw new IrllrecError('data', `checkpoint: it was taken with ${c.numUsers} users / ${c.numItems} items, the dataset has ${data.numUsers} / ${data.numItems}`);
  }
  if (c.dataFingerprint === null) {
    throw new IrllrecError('data', 'checkpoint: it carries no data fingerprint (captured without its dataset), so it cannot be shown to belong to this data; capture it with the dataset (captureCheckpoint(model, state, snapshot, data))');
  }
  if (c.dataFingerprint !== trainingFingerprint(data.numUsers, data.numItems, data.train)) {
    throw new IrllrecError('data', `checkpoint: the training interactions differ from those it was taken with${c.datasetName ? ` ('${c.datasetName}')` : ''}`);
  }
  checkScoreRange(c.params.get('E0')!.data, c.config.layers, 'checkpoint: param.E0');
  const model = RecModel.create(be, c.config, { numUsers: data.numUsers, numItems: data.numItems, graph: buildGraph(data), text: data.text }, { seed: c.modelSeed });
  try {
    const { m, v } = model.optimizerState();
    // Validate everything before writing anything.
    const updates = [
      ...writeGroup('param', model.params, c.params),
      ...writeGroup('adam_m', m, c.adamM),
      ...writeGroup('adam_v', v, c.adamV),
      ...writeGroup('teacher', model.teacher, c.teacher),
    ];
    if (c.snapshot) {
      for (const [name, t] of [...model.params, ...model.teacher]) {
        const s = c.snapshot.get(name);
        if (!s || s.shape.join(',') !== t.shape.join(',')) throw new IrllrecError('format', `checkpoint: the best snapshot lacks '${name}' [${t.shape}]`);
      }
    }
    for (const [t, d] of updates) be.write(t, d);
    model.step = c.step;
    model.adam = { ...c.adam };
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * `fit` options that continue the checkpointed run: the restored model as `init` and the trainer state as
 * `checkpoint.resume`; `hooks` (e.g. the same `onCheckpoint`) keep checkpointing the resumed run.
 */
export function resumeFrom(be: Backend, data: Dataset, c: TrainingCheckpoint, hooks: Omit<FitCheckpointOptions, 'resume'> = {}): Pick<FitOptions, 'init' | 'checkpoint'> {
  const init = modelFromCheckpoint(be, data, c);
  return { init, checkpoint: { ...hooks, resume: { ...c.trainer, snapshot: c.snapshot } } };
}
