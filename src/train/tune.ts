/**
 * Hyper-parameter search on the validation split (`tune`), in the spirit of RecBole's tuning and Optuna
 * studies: N configurations sampled from a declared search space with the study's seed, trained under
 * successive halving over epochs, within a wall-clock budget.
 *
 * Schedule. Rung budgets are epoch counts b_0 < b_1 < … < b_last = `epochs` (b_j ≈ epochs / η^(last−j), the
 * smallest ≥ `minEpochs`). At rung 0 every trial trains b_0 epochs; after each rung the best ⌊n/η⌋ (at least
 * one) by validation Recall@20 go on to the next rung, the others are pruned. Every trial trains with early
 * stopping (validation every `evalEvery` epochs, `patience` evaluations without improvement); a trial that
 * stops early is finished and keeps its score at later rungs. A trial's score at a rung is the validation
 * Recall@20 of its restored best snapshot, which is what `fit` reports as `val`.
 *
 * Continuation. A promoted trial continues from its own state: the real objective keeps a checkpoint
 * (`captureCheckpoint`, on the host) taken at the end of the rung and resumes `fit` from it, which continues
 * the run exactly (same negatives, shuffles, evaluations and early-stopping decisions). The rung's result is
 * therefore the result of one `fit` with `epochs` = the rung's budget, which is what the best configuration
 * says (see `trialRunConfig`). These checkpoints live in memory only: after a restart, a promoted trial retrains
 * from its start to the rung's budget, which gives the same result.
 *
 * Budget. Before each run the remaining budget must cover its epochs at the measured mean seconds per epoch
 * (the first run of a study has no measurement and always starts); a running trial is stopped through its
 * AbortSignal once the budget is spent (between optimiser steps; `fit` then still evaluates the restored
 * model), and its unfinished rung does not count. Time is counted over every session of a study.
 *
 * Resuming. The study's state (`StudyState`) is a plain JSON object saved to `store` when a run starts and
 * after every run and rung; a study started again with the same store and settings skips every run already
 * finished and re-runs one that was cut off from the trial's last finished rung (from its start when its
 * in-memory checkpoint is gone).
 *
 * The scheduler (`runStudy`) takes any `Objective` and a clock, so it is tested without training; `tune`
 * wraps `fit`. Browser-safe.
 */
import type { Dataset } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import { MODEL_NAMES, type ModelKind, type PresetName, canonicalKind, modelParts, presetFor } from '../models/config.js';
import type { Backend } from '../ops/tensor.js';
import { Rng } from '../util/random.js';
import { type TrainingCheckpoint, captureCheckpoint, resumeFrom, trainingFingerprint } from './checkpoint.js';
import { MODEL_CONFIG_FIELDS, RUN_CONFIG_FIELDS, checkRunField, isIntegerRunField, runConfigFromObject } from './runconfig.js';
import { createModel, fit } from './trainer.js';

/** One searched field: a float or integer range (log-uniform with `log`), or a list of values. */
export type SearchParam =
  | { type: 'float'; low: number; high: number; log?: boolean }
  | { type: 'int'; low: number; high: number; log?: boolean }
  | { type: 'choice'; values: (number | string)[] };

/** Run-configuration field name → how it is searched. */
export type SearchSpace = Record<string, SearchParam>;

/** One sampled configuration: field → value. */
export type TrialConfig = Record<string, number | string>;

/** Trainer settings a space may search; the others (epochs, patience, evalEvery, seed) are the study's. */
const TUNABLE_TRAINER = ['batchSize', 'lr'];
const STUDY_FIELDS = ['model', 'preset', 'epochs', 'patience', 'evalEvery', 'seed'];
/** Model fields that only some model kinds read. */
const PROFILE_FIELDS = ['kdWeight', 'kdTemperature', 'textPrecision'];
const INTENT_FIELDS = ['intWeight', 'intTemperature', 'numIntents'];
const TEACHER_FIELDS = ['sslWeight', 'itmWeight', 'emaMomentum', 'teacherInit'];
/** Whether field `name` changes anything in a model of `kind`. */
function readsField(kind: ModelKind, name: string): boolean {
  const parts = modelParts(kind);
  if (PROFILE_FIELDS.includes(name)) return parts.profile;
  if (INTENT_FIELDS.includes(name)) return parts.intents;
  if (TEACHER_FIELDS.includes(name)) return parts.teacher;
  if (name === 'clWeight' || name === 'clTemperature') return parts.backbone !== 'lightgcn';
  if (name === 'noiseEps') return parts.backbone === 'simgcl';
  if (name === 'keepRate') return parts.backbone !== 'simgcl';
  return true;
}

/**
 * The default search space of a model kind: lr, reg, layers, embeddingDim (32 or 64) and keepRate (not on
 * SimGCL, which has no dropout); RLMRec-Con adds the profile alignment's weight and temperature, IRLLRec the
 * intent alignment's too (weights log-uniform, reaching small values: the intent alignment's weight down to
 * 1e-4); SGL and SimGCL add L_cl's weight and temperature, SimGCL its noise magnitude ε.
 */
export function defaultSearchSpace(kind: ModelKind): SearchSpace {
  const { backbone } = modelParts(kind);
  const space: SearchSpace = {
    lr: { type: 'float', low: 1e-4, high: 1e-2, log: true },
    reg: { type: 'float', low: 1e-8, high: 1e-4, log: true },
    layers: { type: 'int', low: 1, high: 4 },
    embeddingDim: { type: 'choice', values: [32, 64] },
  };
  if (backbone !== 'simgcl') space.keepRate = { type: 'float', low: 0.6, high: 1 };
  if (backbone !== 'lightgcn') {
    space.clWeight = { type: 'float', low: 1e-3, high: 0.5, log: true };
    space.clTemperature = { type: 'float', low: 0.05, high: 1, log: true };
  }
  if (backbone === 'simgcl') space.noiseEps = { type: 'float', low: 0.01, high: 1, log: true };
  if (modelParts(kind).profile) {
    space.kdWeight = { type: 'float', low: 1e-4, high: 1e-1, log: true };
    space.kdTemperature = { type: 'float', low: 0.05, high: 1, log: true };
  }
  if (modelParts(kind).intents) {
    space.intWeight = { type: 'float', low: 1e-4, high: 3e-2, log: true };
    space.intTemperature = { type: 'float', low: 0.05, high: 1, log: true };
  }
  return space;
}

/**
 * Validate a search space (e.g. parsed from a --space file; `source` names it in errors) before any trial
 * runs. With `kind`, fields that model kind does not read are refused too. Errors ('range', 'format') name
 * the field, the value and the rule: unknown or study-level fields, unknown keys, empty or inverted ranges,
 * log ranges that are not above 0, ends or choices the run configuration refuses (negative weights, a
 * keepRate above 1, …), float ranges over integer fields, empty or repeated choices.
 */
export function parseSearchSpace(obj: unknown, source = 'search space', kind?: ModelKind): SearchSpace {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new IrllrecError('format', `${source}: must be a JSON object of field → {"type": "float"|"int"|"choice", …}, e.g. {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": true}}`);
  }
  const entries = Object.entries(obj as Record<string, unknown>);
  if (entries.length === 0) throw new IrllrecError('range', `${source}: no fields to search`);
  const tunable = [...MODEL_CONFIG_FIELDS, ...TUNABLE_TRAINER];
  const space: SearchSpace = {};
  for (const [name, p] of entries) {
    const at = `${source}: field '${name}'`;
    if (STUDY_FIELDS.includes(name)) throw new IrllrecError('range', `${at} is a setting of the whole study, not searched (give it as a tune option or flag)`);
    if (!tunable.includes(name)) {
      const hint = RUN_CONFIG_FIELDS.includes(name) ? '' : ' unknown;';
      throw new IrllrecError('range', `${at}:${hint} searchable fields are ${tunable.join(', ')}`);
    }
    if (kind && !readsField(kind, name)) {
      throw new IrllrecError('range', `${at} has no effect on model '${kind}'`);
    }
    if (!p || typeof p !== 'object' || Array.isArray(p)) throw new IrllrecError('format', `${at} must be an object with "type": "float", "int" or "choice", got ${JSON.stringify(p)}`);
    const o = p as Record<string, unknown>;
    const keys = o.type === 'choice' ? ['type', 'values'] : ['type', 'low', 'high', 'log'];
    if (o.type !== 'float' && o.type !== 'int' && o.type !== 'choice') throw new IrllrecError('format', `${at}: "type" must be "float", "int" or "choice", got ${JSON.stringify(o.type)}`);
    for (const k of Object.keys(o)) if (!keys.includes(k)) throw new IrllrecError('format', `${at}: unknown key '${k}' for type '${o.type}' (allowed: ${keys.join(', ')})`);
    const refused = (v: unknown, what: string) => {
      const problem = checkRunField(name, v);
      if (problem) throw new IrllrecError('range', `${at}: ${what} ${JSON.stringify(v)} is not allowed: ${name} must be ${problem}`);
    };
    if (o.type === 'choice') {
      if (!Array.isArray(o.values) || o.values.length === 0) throw new IrllrecError('range', `${at}: "values" must be a non-empty list, got ${JSON.stringify(o.values)}`);
      for (const v of o.values) refused(v, 'choice');
      if (new Set(o.values).size !== o.values.length) throw new IrllrecError('range', `${at}: "values" lists a value twice: ${JSON.stringify(o.values)}`);
      space[name] = { type: 'choice', values: [...(o.values as (number | string)[])] };
      continue;
    }
    const { low, high } = o;
    if (typeof low !== 'number' || !Number.isFinite(low) || typeof high !== 'number' || !Number.isFinite(high)) {
      throw new IrllrecError('range', `${at}: "low" and "high" must be finite numbers, got low ${JSON.stringify(low)}, high ${JSON.stringify(high)}`);
    }
    if (low > high) throw new IrllrecError('range', `${at}: inverted range: low ${low} > high ${high}`);
    if (low === high) throw new IrllrecError('range', `${at}: empty range: low = high = ${low} (fix a value with {"type": "choice", "values": [${low}]})`);
    if (o.log !== undefined && typeof o.log !== 'boolean') throw new IrllrecError('format', `${at}: "log" must be true or false, got ${JSON.stringify(o.log)}`);
    if (o.log && low <= 0) throw new IrllrecError('range', `${at}: a log range needs low > 0, got low ${low}`);
    if (o.type === 'int' && (!Number.isInteger(low) || !Number.isInteger(high))) throw new IrllrecError('range', `${at}: an int range needs integer ends, got low ${low}, high ${high}`);
    if (o.type === 'float' && isIntegerRunField(name)) throw new IrllrecError('range', `${at}: ${name} takes integers: use {"type": "int", …} or "choice"`);
    refused(low, 'low');
    refused(high, 'high');
    space[name] = { type: o.type, low, high, log: o.log === true };
  }
  return space;
}

/** Draw one configuration (fields in name order, so a space's key order does not matter). */
export function sampleConfig(space: SearchSpace, rng: Rng): TrialConfig {
  const out: TrialConfig = {};
  for (const name of Object.keys(space).sort()) {
    const p = space[name];
    if (p.type === 'choice') {
      out[name] = p.values[rng.int(p.values.length)];
    } else if (p.type === 'int') {
      const v = p.log ? Math.floor(Math.exp(rng.uniform(Math.log(p.low), Math.log(p.high + 1)))) : p.low + rng.int(p.high - p.low + 1);
      out[name] = Math.min(p.high, Math.max(p.low, v));
    } else {
      const v = p.log ? Math.exp(rng.uniform(Math.log(p.low), Math.log(p.high))) : rng.uniform(p.low, p.high);
      // Three significant digits: readable tables and configuration files, and exact in JSON.
      out[name] = Math.min(p.high, Math.max(p.low, Number(v.toPrecision(3))));
    }
  }
  return out;
}

/** Everything that defines a study; a resumed study must have the same settings. */
export interface StudySettings {
  model: ModelKind;
  preset?: PresetName;
  space: SearchSpace;
  trials: number;
  eta: number;
  /** Epoch budgets of the rungs, ascending; the last is the most a trial trains. */
  rungs: number[];
  patience: number;
  evalEvery: number;
  /** Trainer settings of every trial unless the space searches them. */
  batchSize: number;
  lr: number;
  seed: number;
  /** Identifies the data (name and training fingerprint) when known. */
  data?: string;
}

export interface StudySettingsInput {
  model: ModelKind;
  preset?: PresetName;
  /** Default: `defaultSearchSpace(model)`. Validated with `parseSearchSpace`. */
  space?: SearchSpace;
  /** Configurations sampled (12). */
  trials?: number;
  /** Halving rate η (3): each rung keeps the best ⌊n/η⌋ trials. */
  eta?: number;
  /** The most epochs a trial trains: the last rung's budget (30). */
  epochs?: number;
  /** The first rung's budget is at least this (evalEvery + 1: two validations). */
  minEpochs?: number;
  /** Early stopping of every trial (5 evaluations; 0 = none) and its validation interval (3). */
  patience?: number;
  evalEvery?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  data?: string;
}

function positiveInt(name: string, v: number, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw new IrllrecError('range', `tune: ${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

/** Rung budgets: epochs, epochs/η, epochs/η², … (rounded) while at least `minEpochs`, ascending. */
export function rungBudgets(epochs: number, eta: number, minEpochs: number): number[] {
  const out = [epochs];
  for (let b = Math.round(epochs / eta); b >= minEpochs && b < out[0]; b = Math.round(b / eta)) out.unshift(b);
  return out;
}

/** Resolve defaults and check every setting (errors name the setting and its value). */
export function studySettings(s: StudySettingsInput): StudySettings {
  const model = canonicalKind(s.model);
  if (!model) throw new IrllrecError('range', `tune: model must be one of ${MODEL_NAMES.join(', ')}, got '${s.model}'`);
  const evalEvery = positiveInt('evalEvery', s.evalEvery ?? 3);
  const eta = positiveInt('eta', s.eta ?? 3, 2);
  const epochs = positiveInt('epochs', s.epochs ?? 30);
  const minEpochs = positiveInt('minEpochs', s.minEpochs ?? Math.min(epochs, evalEvery + 1));
  if (minEpochs > epochs) throw new IrllrecError('range', `tune: minEpochs ${minEpochs} exceeds epochs ${epochs}`);
  const out: StudySettings = {
    model,
    ...(s.preset !== undefined ? { preset: presetFor('other', s.preset) } : {}),
    space: parseSearchSpace(s.space ?? defaultSearchSpace(model), 'tune: space', model),
    trials: positiveInt('trials', s.trials ?? 12),
    eta,
    rungs: rungBudgets(epochs, eta, minEpochs),
    patience: positiveInt('patience', s.patience ?? 5, 0),
    evalEvery,
    batchSize: s.batchSize ?? 4096,
    lr: s.lr ?? 1e-3,
    seed: positiveInt('seed', s.seed ?? 2023, 0),
    ...(s.data !== undefined ? { data: s.data } : {}),
  };
  for (const k of ['batchSize', 'lr'] as const) {
    const problem = checkRunField(k, out[k]);
    if (problem) throw new IrllrecError('range', `tune: ${k} must be ${problem}, got ${out[k]}`);
  }
  return out;
}

export type TrialStatus = 'pending' | 'running' | 'stopped' | 'pruned' | 'done' | 'failed';

/** A trial's result at one rung. */
export interface RungResult {
  /** The `epochs` the run trained under (its rung's budget; an earlier one when it had stopped early). */
  budget: number;
  /** Validation Recall@20 and NDCG@20 of the restored best snapshot. */
  recall: number;
  ndcg: number;
  /** Epochs trained in total and the best one (0-based). */
  epochs: number;
  bestEpoch: number;
  stoppedEarly: boolean;
  /** Seconds of this run (0 when carried over from an earlier rung). */
  seconds: number;
}

export interface TrialRecord {
  id: number;
  config: TrialConfig;
  /**
   * pending: waits for its next rung; running: a run started (a study cut off here re-runs it); stopped: cut
   * off by the budget or a signal (re-run on resume); pruned: not promoted; done: finished training (stopped
   * early or reached the last rung); failed: its training failed (`error`).
   */
  status: TrialStatus;
  /** The highest rung this trial was admitted to. */
  admitted: number;
  /** Results of the rungs it completed, rung 0 first. */
  rungs: RungResult[];
  /** Epochs trained and seconds spent over all its runs. */
  epochs: number;
  seconds: number;
  error?: string;
}

export interface StudyState {
  format: 'irllrec-study';
  version: 1;
  settings: StudySettings;
  trials: TrialRecord[];
  /** The rung in progress. */
  rung: number;
  /** Wall-clock seconds spent, over every session. */
  elapsedSeconds: number;
  /** Why the study last stopped (null while it runs). */
  stopped: null | 'complete' | 'budget' | 'aborted';
}

/** Where a study's state is kept between sessions (e.g. a study.json file; see `fileStudyStore` in `irllrec/node`). */
export interface StudyStore {
  load(): StudyState | null | Promise<StudyState | null>;
  save(state: StudyState): void | Promise<void>;
}

export interface ObjectiveResult {
  recall: number;
  ndcg: number;
  /** Epochs trained in total (including earlier rungs) and the best epoch. */
  epochs: number;
  bestEpoch: number;
  stoppedEarly: boolean;
  /** The run was stopped by `ctx.signal` before its budget. */
  aborted: boolean;
}

export interface TrialContext {
  trial: number;
  rung: number;
  /** Aborted at the end of the budget or when the study's signal fires. */
  signal: AbortSignal;
  /**
   * The trial's memory between its rungs in this session (the real objective keeps its checkpoint in
   * `value`); empty on its first rung, and after a restart.
   */
  slot: { value?: unknown };
  /** Call after every epoch: the study checks its budget there. */
  epochDone(): void;
}

/** Train `config` until `budgetEpochs` epochs in all (continuing from `ctx.slot` when it holds a state). */
export type Objective = (config: TrialConfig, budgetEpochs: number, ctx: TrialContext) => Promise<ObjectiveResult>;

export interface StudyBest {
  trial: number;
  rung: number;
  recall: number;
  ndcg: number;
  /** The run configuration that reproduces this score (`parseRunConfig` / `irllrec train --config`). */
  runConfig: Record<string, unknown>;
}

export interface StudyProgress {
  /** Runs (a trial at a rung) finished and planned. */
  runsDone: number;
  runsTotal: number;
  /** Trials finished (done, pruned or failed) of all trials. */
  trialsFinished: number;
  trials: number;
  rung: number;
  /** The trial whose run just ended. */
  trial: TrialRecord;
  best: StudyBest | null;
  elapsedSeconds: number;
  /** Estimated seconds to the end (capped by the budget); null before the first measurement. */
  etaSeconds: number | null;
}

export interface StudyResult {
  state: StudyState;
  trials: TrialRecord[];
  best: StudyBest | null;
  stopped: 'complete' | 'budget' | 'aborted';
  /** Runs this session executed (0 when a resumed study had nothing left). */
  runs: number;
}

export interface StudyOptions {
  settings: StudySettings;
  objective: Objective;
  /** Wall-clock budget in seconds over all sessions (Infinity). */
  budgetSeconds?: number;
  store?: StudyStore;
  signal?: AbortSignal;
  onProgress?: (p: StudyProgress) => void;
  /** Seconds; default performance.now() / 1000. A custom clock disables the budget timer (epochDone checks it). */
  clock?: () => number;
}

/** Trial failures that end the trial, not the study (a diverging lr, a width over the device's limits, …). */
const TRIAL_FAILURES = new Set(['nonfinite', 'limit', 'range']);

/** JSON with sorted keys (settings from a file and from code compare equal). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The study's configurations: `trials` distinct draws from the space (fewer when a small space runs out). */
function sampleTrials(s: StudySettings): TrialRecord[] {
  const rng = new Rng((s.seed ^ 0x70e5) >>> 0);
  const seen = new Set<string>();
  const trials: TrialRecord[] = [];
  for (let tries = 0; trials.length < s.trials && tries < 100 * s.trials; tries++) {
    const config = sampleConfig(s.space, rng);
    const key = canonical(config);
    if (seen.has(key)) continue;
    seen.add(key);
    trials.push({ id: trials.length, config, status: 'pending', admitted: 0, rungs: [], epochs: 0, seconds: 0 });
  }
  return trials;
}

function checkState(state: StudyState, settings: StudySettings): void {
  if (state?.format !== 'irllrec-study' || state.version !== 1 || !Array.isArray(state.trials) || typeof state.settings !== 'object') {
    throw new IrllrecError('format', 'study state: not an irllrec study (format irllrec-study, version 1)');
  }
  for (const k of new Set([...Object.keys(settings), ...Object.keys(state.settings)])) {
    const a = canonical((state.settings as unknown as Record<string, unknown>)[k]);
    const b = canonical((settings as unknown as Record<string, unknown>)[k]);
    if (a !== b) throw new IrllrecError('range', `study state: it was started with ${k} = ${a}, this run has ${b}; resume with the same settings or use a new study`);
  }
}

/**
 * The run configuration a trial trains with for `epochs` epochs (model, preset, the sampled model settings,
 * then epochs, patience, evalEvery, batchSize, lr and seed exactly as the study ran them): what
 * `irllrec train --config` reproduces a trial's score with.
 */
export function trialRunConfig(s: StudySettings, config: TrialConfig, epochs: number): Record<string, unknown> {
  const o: Record<string, unknown> = { model: s.model, ...(s.preset ? { preset: s.preset } : {}) };
  for (const k of MODEL_CONFIG_FIELDS) if (k in config) o[k] = config[k];
  return { ...o, epochs, patience: s.patience, evalEvery: s.evalEvery, batchSize: config.batchSize ?? s.batchSize, lr: config.lr ?? s.lr, seed: s.seed };
}

/** The best rung result of the study (ties: the lower trial id, then the earlier rung). */
export function studyBest(state: StudyState): StudyBest | null {
  let best: { t: TrialRecord; k: number } | null = null;
  for (const t of state.trials) {
    t.rungs.forEach((r, k) => {
      if (!best || r.recall > best.t.rungs[best.k].recall) best = { t, k };
    });
  }
  if (!best) return null;
  const { t, k } = best as { t: TrialRecord; k: number };
  const r = t.rungs[k];
  return { trial: t.id, rung: k, recall: r.recall, ndcg: r.ndcg, runConfig: trialRunConfig(state.settings, t.config, r.budget) };
}

function defaultClock(): number {
  return (typeof performance !== 'undefined' ? performance.now() : Date.now()) / 1000;
}

/** Planned runs per rung: n, ⌊n/η⌋, ⌊n/η²⌋, … (at least one). */
function plannedRuns(s: StudySettings, n: number): number[] {
  const out: number[] = [];
  for (let k = 0, m = n; k < s.rungs.length; k++, m = Math.max(1, Math.floor(m / s.eta))) out.push(m);
  return out;
}

/** Run (or continue) a study: see the module comment. */
export async function runStudy(opts: StudyOptions): Promise<StudyResult> {
  const settings = opts.settings;
  const budget = opts.budgetSeconds ?? Infinity;
  if (!(budget > 0)) throw new IrllrecError('range', `tune: budgetSeconds must be a positive number of seconds, got ${budget}`);
  const clock = opts.clock ?? defaultClock;
  const loaded = opts.store ? await opts.store.load() : null;
  if (loaded) checkState(loaded, settings);
  const state: StudyState = loaded ?? { format: 'irllrec-study', version: 1, settings, trials: sampleTrials(settings), rung: 0, elapsedSeconds: 0, stopped: null };
  const t0 = clock();
  const spentBefore = state.elapsedSeconds;
  const elapsed = () => spentBefore + (clock() - t0);
  const save = async () => {
    state.elapsedSeconds = elapsed();
    await opts.store?.save(state);
  };
  const slots = new Map<number, { value?: unknown }>();
  const plan = plannedRuns(settings, state.trials.length);
  const runsTotal = plan.reduce((a, b) => a + b, 0);
  let runs = 0;

  // Mean seconds per epoch over every run so far (null before the first).
  const secondsPerEpoch = (): number | null => {
    let sec = 0;
    let ep = 0;
    for (const t of state.trials) {
      sec += t.seconds;
      ep += t.epochs;
    }
    return ep > 0 ? sec / ep : null;
  };
  const progress = (t: TrialRecord) => {
    if (!opts.onProgress) return;
    const spe = secondsPerEpoch();
    let epochsLeft = 0;
    for (let k = state.rung; k < settings.rungs.length; k++) {
      const done = state.trials.filter((x) => x.rungs.length > k).length;
      epochsLeft += Math.max(0, plan[k] - done) * (settings.rungs[k] - (k > 0 ? settings.rungs[k - 1] : 0));
    }
    opts.onProgress({
      runsDone: state.trials.reduce((a, x) => a + x.rungs.length, 0),
      runsTotal,
      trialsFinished: state.trials.filter((x) => x.status === 'done' || x.status === 'pruned' || x.status === 'failed').length,
      trials: state.trials.length,
      rung: state.rung,
      trial: t,
      best: studyBest(state),
      elapsedSeconds: elapsed(),
      etaSeconds: spe === null ? null : Math.min(epochsLeft * spe, Math.max(0, budget - elapsed())),
    });
  };
  const finish = async (stopped: 'complete' | 'budget' | 'aborted'): Promise<StudyResult> => {
    state.stopped = stopped;
    await save();
    return { state, trials: state.trials, best: studyBest(state), stopped, runs };
  };

  if (state.stopped === 'complete') return finish('complete');
  state.stopped = null;
  const last = settings.rungs.length - 1;
  for (;;) {
    const k = state.rung;
    const b = settings.rungs[k];
    const members = state.trials.filter((t) => t.admitted >= k && t.status !== 'failed');
    for (const t of members) {
      if (t.rungs.length > k) continue;
      if (t.status === 'done') {
        // Stopped early at an earlier rung: its result stands.
        t.rungs.push({ ...t.rungs[t.rungs.length - 1], seconds: 0 });
        continue;
      }
      if (opts.signal?.aborted) return finish('aborted');
      const slot = slots.get(t.id) ?? {};
      slots.set(t.id, slot);
      // A trial continues from its previous rung while its state is in memory, else it trains from its start.
      const from = slot.value !== undefined ? t.rungs[t.rungs.length - 1].epochs : 0;
      const need = (b - from) * (secondsPerEpoch() ?? 0);
      if (elapsed() >= budget || elapsed() + need > budget) return finish('budget');

      const ctl = new AbortController();
      const onAbort = () => ctl.abort();
      opts.signal?.addEventListener('abort', onAbort);
      // (Beyond setTimeout's 2³¹ ms the per-epoch check alone stops the run.)
      const left = (budget - elapsed()) * 1000;
      const timer = opts.clock || !(left < 2 ** 31) ? undefined : setTimeout(onAbort, left);
      t.status = 'running';
      await save();
      const started = clock();
      let result: ObjectiveResult | null = null;
      try {
        result = await opts.objective({ ...t.config }, b, {
          trial: t.id,
          rung: k,
          signal: ctl.signal,
          slot,
          epochDone: () => {
            if (elapsed() >= budget) ctl.abort();
          },
        });
      } catch (e) {
        if (!(e instanceof IrllrecError && TRIAL_FAILURES.has(e.code))) throw e;
        t.status = 'failed';
        t.error = e.message;
        slots.delete(t.id);
      } finally {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      }
      const seconds = clock() - started;
      t.seconds += seconds;
      runs++;
      if (result) {
        t.epochs += Math.max(0, result.epochs - from);
        if (result.aborted) {
          t.status = 'stopped';
          slots.delete(t.id);
          progress(t);
          return finish(opts.signal?.aborted ? 'aborted' : 'budget');
        }
        t.rungs.push({ budget: b, recall: result.recall, ndcg: result.ndcg, epochs: result.epochs, bestEpoch: result.bestEpoch, stoppedEarly: result.stoppedEarly, seconds });
        t.status = result.stoppedEarly || k === last ? 'done' : 'pending';
        if (t.status === 'done') slots.delete(t.id);
      }
      await save();
      progress(t);
    }
    if (k === last) return finish('complete');
    // Promote the best ⌊n/η⌋ (at least one) of this rung; prune the rest.
    const ranked = members.filter((t) => t.rungs.length > k).sort((x, y) => y.rungs[k].recall - x.rungs[k].recall || x.id - y.id);
    const keep = Math.max(1, Math.floor(ranked.length / settings.eta));
    ranked.forEach((t, i) => {
      if (i < keep) t.admitted = k + 1;
      else {
        if (t.status === 'pending') t.status = 'pruned';
        slots.delete(t.id);
      }
    });
    state.rung = k + 1;
    await save();
  }
}

export interface TuneOptions extends Omit<StudySettingsInput, 'data'> {
  budgetSeconds?: number;
  store?: StudyStore;
  signal?: AbortSignal;
  onProgress?: (p: StudyProgress) => void;
}

/**
 * A hyper-parameter study of `opts.model` on `data` (validation split), on `be`: see the module comment.
 * The preset is `presetFor(data.name, opts.preset)`; the best configuration's `runConfig` names it.
 */
export async function tune(be: Backend, data: Dataset, opts: TuneOptions): Promise<StudyResult> {
  if (data.val.users.length === 0) throw new IrllrecError('data', `tune: dataset '${data.name}' has no validation interactions to score trials on`);
  const settings = studySettings({ ...opts, preset: presetFor(data.name, opts.preset), data: `${data.name}:${trainingFingerprint(data.numUsers, data.numItems, data.train)}` });
  return runStudy({ settings, objective: fitObjective(be, data, settings), budgetSeconds: opts.budgetSeconds, store: opts.store, signal: opts.signal, onProgress: opts.onProgress });
}

/**
 * The objective of `tune`: `fit` with the trial's run configuration and `epochs` = the rung's budget,
 * continuing from the checkpoint in `ctx.slot` (taken at the end of the trial's previous rung) when there is one.
 */
export function fitObjective(be: Backend, data: Dataset, s: StudySettings): Objective {
  return async (config, budget, ctx) => {
    const run = runConfigFromObject(trialRunConfig(s, config, budget), `tune: trial ${ctx.trial}`);
    const previous = ctx.slot.value as TrainingCheckpoint | undefined;
    const resume = previous ? resumeFrom(be, data, previous) : null;
    ctx.slot.value = undefined;
    const lastRung = budget === s.rungs[s.rungs.length - 1];
    const model = resume?.init ?? createModel(be, data, { model: s.model, preset: s.preset, config: run.config, seed: s.seed, batchSize: run.trainer.batchSize });
    let captured: TrainingCheckpoint | undefined;
    try {
      const r = await fit(be, data, {
        ...run.trainer,
        init: model,
        signal: ctx.signal,
        onEpoch: () => ctx.epochDone(),
        checkpoint: {
          ...resume?.checkpoint,
          // Only the rung's last epoch is kept (the state the next rung continues from).
          onCheckpoint: async (state, m, snapshot) => {
            if (state.epoch === budget && !lastRung) captured = await captureCheckpoint(m, state, snapshot, data);
          },
        },
      });
      ctx.slot.value = r.stoppedEarly || r.aborted ? undefined : captured;
      return { recall: r.val['recall@20'], ndcg: r.val['ndcg@20'], epochs: r.history.length, bestEpoch: r.bestEpoch, stoppedEarly: r.stoppedEarly, aborted: r.aborted };
    } finally {
      model.dispose();
    }
  };
}
