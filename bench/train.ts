/**
 * Training benchmark: for each model (the LightGCN ladder LightGCN, RLMRec-Con, IRLLRec, and SGL / SimGCL with their _plus and _int rungs) and dataset, seconds per step and per
 * epoch, peak GPU memory, and Recall@20 / NDCG@20 on test after a fixed budget.
 *
 *   node bench/run.mjs bench/train.ts [--datasets movielens,amazon] [--models lightgcn,rlmrec,irllrec,sgl_int,…]
 *        [--epochs N | --epochs movielens=N,amazon=M] [--max-steps S | --max-steps movielens=S,...]
 *        [--time-only rlmrec@amazon,irllrec@amazon | --time-only none] [--time-steps 2]
 *        [--cap-s 240] [--train-cap-s 420] [--batch-size 4096] [--seed 2023] [--data-root DIR (default: $IRLLREC_SHARED_DATA, else ../shared/data)] [--text-dim 1536]
 *        [--out DIR] [--quick]
 *
 * Datasets: ../shared/data/movielens (real 512-d text embeddings) and ../shared/data/amazon (its LLM embeddings
 * are not public: seeded N(0, 1/dim) stand-ins of width --text-dim, good for speed and memory only).
 *
 * Each (model, dataset) runs in its own child process with a fresh device (a clean peak-memory count, and a
 * run can be stopped at a wall-clock cap: the child is killed by its pid and its last progress report used).
 * Two modes:
 * - train: `fit` for the epoch budget (optionally capped at --max-steps optimiser steps), validating every epoch
 *   (the best-validation snapshot is restored, as the trainer does; a 1-epoch budget skips validation, since the
 *   restored model would be that epoch's anyway), no early stopping; then test metrics. s/epoch counts the
 *   training steps and negative sampling, not the evaluation passes (reported separately).
 * - time-only (--time-only pairs): --time-steps optimiser steps on real batches; s/step is the median of the
 *   steps after the first (the first compiles the pipelines), s/epoch is projected as s/step × steps per epoch
 *   + the measured negative-sampling time; no accuracy.
 *
 * Defaults on a software adapter (lavapipe; about 10 minutes in all): 1 epoch on movielens for every model,
 * 1 epoch for LightGCN on amazon; RLMRec-Con and IRLLRec on amazon time-only (2 steps) with a 240 s cap per run;
 * trained runs capped at 420 s. On a hardware adapter: movielens 20 epochs, amazon 3 epochs, all trained, no caps.
 *
 * Peak memory is the buffer pool's high-water mark (live + pooled bytes, buckets rounded up to powers of two
 * below 16 MiB), evaluation included; it is compared with N·N·4 bytes (what any N×N matrix would cost) and with
 * 4·(nnz + N·(d + text widths)) (the O(edges + N·(d + text dim)) budget). On movielens the popularity baseline
 * (train degree, ties by lower item id, training items masked) is reported on test as well, and RLMRec-Con /
 * IRLLRec are compared with LightGCN and popularity.
 *
 * Output: a markdown table on stdout and in bench/results/train.md, the raw numbers in bench/results/train.json.
 */
import { spawn } from 'node:child_process';
import { type MemoryReport, memoryTable } from '../src/gpu/memory.js';
import { startMemoryProfile } from '../src/node/cli-memory.js';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildGraph, userItemCsr } from '../src/data/graph.js';
import { epochBatches, sampleNegatives } from '../src/data/sampler.js';
import type { Dataset } from '../src/data/types.js';
import { MODEL_KINDS, MODEL_LABELS, type ModelKind, modelParts } from '../src/models/config.js';
import type { Batch } from '../src/models/model.js';
import { createBackend, loadDatasetDir } from '../src/node/index.js';
import type { WebGpuBackend } from '../src/ops/tensor.js';
import { createModel, fit } from '../src/train/trainer.js';
import { MetricAccumulator } from '../src/train/metrics.js';
import { Rng } from '../src/util/random.js';
import {
  DATA_ROOT,
  type MachineInfo,
  adapterOf,
  fmt,
  headerLines,
  intFlag,
  listFlag,
  load,
  log,
  machineInfo,
  markdownTable,
  median,
  mib,
  randomTextEmbeddings,
  setResultsDir,
  writeResults,
} from './common.js';

const { values: flags } = parseArgs({
  options: {
    datasets: { type: 'string' },
    models: { type: 'string' },
    epochs: { type: 'string' },
    'max-steps': { type: 'string' },
    'time-only': { type: 'string' },
    'time-steps': { type: 'string' },
    'cap-s': { type: 'string' },
    'train-cap-s': { type: 'string' },
    'batch-size': { type: 'string' },
    seed: { type: 'string' },
    'data-root': { type: 'string', default: DATA_ROOT },
    'text-dim': { type: 'string' },
    'profile-memory': { type: 'boolean', default: false },
    child: { type: 'string' },
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  process.stdout.write(
    'usage: node bench/run.mjs bench/train.ts [--datasets movielens,amazon] [--models lightgcn,rlmrec,irllrec,sgl_int,…]\n' +
      '       [--epochs N | --epochs movielens=N,amazon=M] [--max-steps S | --max-steps movielens=S] [--time-only model@dataset,...|none]\n' +
      '       [--time-steps K] [--cap-s SECONDS] [--train-cap-s SECONDS] [--batch-size B] [--seed S] [--data-root DIR] [--text-dim D]\n' +
      '       [--out DIR] [--quick] [--profile-memory]   (bytes by role at each run\'s peak RSS: src/gpu/memory.ts)\n',
  );
  process.exit(0);
}

const KNOWN_DATASETS = ['movielens', 'amazon'];
const PROTOCOL = '@@bench ';

/** One (dataset, model) run as the parent hands it to a child process. */
interface RunSpec {
  dataset: string;
  model: ModelKind;
  mode: 'train' | 'time-only';
  epochs: number;
  maxSteps: number | null;
  timeSteps: number;
  batchSize: number;
  seed: number;
  dataRoot: string;
  textDim: number;
  /** Which text matrices the amazon stand-ins need ('profile' or 'both'). */
  text: 'none' | 'profile' | 'both';
  /** Take a memory report (src/gpu/memory.ts) of the run. */
  profileMemory?: boolean;
}

/**
 * A flag that is either one value for every dataset ("3") or per dataset ("movielens=3,amazon=1"); datasets not
 * listed get `fallback(dataset)`.
 */
function perDataset(v: string | undefined, dataset: string, name: string, fallback: (d: string) => number | null): number | null {
  if (v === undefined) return fallback(dataset);
  if (/^\d+$/.test(v)) return intFlag(v, 0, name);
  for (const part of listFlag(v, [])) {
    const [k, n] = part.split('=');
    if (n === undefined) throw new Error(`--${name}: expected N or dataset=N,..., got '${v}'`);
    if (k === dataset) return intFlag(n, 0, name);
  }
  return fallback(dataset);
}

// ------------------------------------------------------------------------------------------------
// One run (in a child process)

interface RunResult {
  dataset: string;
  model: ModelKind;
  mode: 'train' | 'time-only';
  /** The budget, in words. */
  budget: string;
  epochs: number;
  steps: number;
  stepsPerEpoch: number;
  /** Median seconds per optimiser step after the first (which compiles the pipelines); the first when only one ran. */
  secondsPerStep: number | null;
  /** secondsPerStep is a lower bound: the cap ended the run before a step completed. */
  stepLowerBound?: boolean;
  /** Seconds of each completed step. */
  stepSeconds: number[];
  /** Seconds per epoch: measured (train) or projected (time-only). */
  secondsPerEpoch: number | null;
  projected: boolean;
  /** Seconds of the first epoch (train mode; compilation included). */
  firstEpochSeconds?: number;
  /** Negative sampling + shuffling of one epoch (host). */
  samplingSeconds: number;
  /** Mean seconds of one validation pass (train mode). */
  evalSeconds?: number;
  /** Buffer-pool high-water mark; for a capped run, as of the last recorded step (all its buffers allocated). */
  peakBytes: number;
  /** N·N·4 bytes: what a single N×N f32 matrix would need. */
  nSquaredBytes: number;
  /** 4·(nnz + N·(d + text widths)) bytes. */
  linearBytes: number;
  recall20?: number;
  ndcg20?: number;
  valRecall20?: number;
  bestEpoch?: number;
  losses?: Record<string, number>;
  config: Record<string, unknown>;
  /** The run was stopped at the wall-clock cap (time-only runs). */
  capped?: boolean;
  capSeconds?: number;
  /** Seconds from the child's start to its setup end (data, text stand-ins, model upload). */
  setupSeconds: number;
  load1: number;
  wallSeconds: number;
  /** Memory report (--profile-memory). */
  memory?: MemoryReport;
}

function now(): number {
  return performance.now();
}

/** Send a protocol message to the parent (stdout is reserved for them in a child). */
function emit(msg: Record<string, unknown>): void {
  process.stdout.write(`${PROTOCOL}${JSON.stringify(msg)}\n`);
}

/** The i-th mini-batch of an epoch as the trainer builds it. */
function batchOf(ds: Dataset, idx: Uint32Array, negatives: Uint32Array): Batch {
  const b: Batch = { users: new Uint32Array(idx.length), pos: new Uint32Array(idx.length), neg: new Uint32Array(idx.length) };
  for (let k = 0; k < idx.length; k++) {
    const p = idx[k];
    b.users[k] = ds.train.users[p];
    b.pos[k] = ds.train.items[p];
    b.neg[k] = negatives[p];
  }
  return b;
}

/** Sum of the text widths a model kind uploads. */
function textWidth(ds: Dataset, kind: ModelKind): number {
  const parts = modelParts(kind);
  return (parts.profile ? (ds.text.userProfile?.cols ?? 0) : 0) + (parts.intents ? (ds.text.userIntent?.cols ?? 0) : 0);
}

async function loadData(spec: Pick<RunSpec, 'dataset' | 'dataRoot' | 'textDim' | 'seed' | 'text'>): Promise<{ ds: Dataset; text: string }> {
  const ds = await loadDatasetDir(join(spec.dataRoot, spec.dataset));
  if (spec.dataset === 'amazon') {
    if (spec.text === 'none') return { ds, text: 'none loaded' };
    // Seeded N(0, 1/dim) stand-ins: the amazon LLM embeddings were never published.
    ds.text = randomTextEmbeddings(ds.numUsers, ds.numItems, spec.textDim, spec.seed + 1, { intents: spec.text === 'both' });
    return { ds, text: `seeded N(0, 1/${spec.textDim}) stand-ins, ${spec.textDim}-d` };
  }
  return { ds, text: ds.text.userProfile ? `real, ${ds.text.userProfile.cols}-d` : 'none' };
}

async function runChild(spec: RunSpec): Promise<RunResult> {
  const kind = spec.model;
  const tag = `${kind}@${spec.dataset}`;
  const { ds } = await loadData(spec);
  const be = await createBackend({ backend: 'webgpu' });
  const g = be as WebGpuBackend;
  const memory = spec.profileMemory ? startMemoryProfile(be) : null;
  const n = ds.numUsers + ds.numItems;
  const train = ds.train.users.length;
  const stepsPerEpoch = Math.ceil(train / spec.batchSize);
  const widthOfText = textWidth(ds, kind);
  const model = createModel(be, ds, { model: kind, seed: spec.seed });
  // The text lives on the device from here on: the host copies go, as in the CLI.
  ds.text = {};
  memory?.sample('model created');
  const cfg = model.config;
  const graphNnz = 2 * userItemCsr(ds.numUsers, ds.numItems, ds.train).colIdx.length;
  const setupSeconds = now() / 1000;
  const base = {
    dataset: ds.name,
    model: kind,
    stepsPerEpoch,
    nSquaredBytes: n * n * 4,
    linearBytes: 4 * (graphNnz + n * (cfg.embeddingDim + widthOfText)),
    config: { ...cfg },
    setupSeconds,
  };
  try {
    if (spec.mode === 'time-only') {
      const rng = new Rng(spec.seed ^ 0x5eed);
      const userItems = userItemCsr(ds.numUsers, ds.numItems, ds.train);
      const ts = now();
      const negatives = sampleNegatives(rng, ds.numItems, ds.train, userItems);
      const batches = epochBatches(rng, train, spec.batchSize);
      const samplingSeconds = (now() - ts) / 1000;
      const stepSeconds: number[] = [];
      const partial = (extra: Record<string, unknown>) => emit({ type: 'partial', ...base, samplingSeconds, stepSeconds, peakBytes: g.poolStats.peakBytes, ...extra });
      let losses: Record<string, number> = {};
      for (let k = 0; k < Math.min(spec.timeSteps, batches.length); k++) {
        const batch = batchOf(ds, batches[k], negatives);
        const t = now();
        model.recordTrainStep(batch);
        // Every buffer of the step is allocated once it is recorded: the pool's peak is final here.
        partial({ stepStartedAt: t / 1000 });
        losses = { ...(await model.readLosses()) };
        stepSeconds.push((now() - t) / 1000);
        partial({});
        log(`  ${tag} step ${k + 1}/${spec.timeSteps}: ${stepSeconds[k].toFixed(2)} s (total loss ${fmt(losses.total)})`);
      }
      const perStep = stepSeconds.length > 1 ? median(stepSeconds.slice(1)) : stepSeconds[0];
      return {
        ...base,
        mode: 'time-only',
        budget: `${stepSeconds.length} step${stepSeconds.length > 1 ? 's' : ''} timed (the first compiles), epoch projected`,
        epochs: 0,
        steps: stepSeconds.length,
        stepSeconds,
        secondsPerStep: perStep,
        secondsPerEpoch: perStep * stepsPerEpoch + samplingSeconds,
        projected: true,
        samplingSeconds,
        peakBytes: g.poolStats.peakBytes,
        losses,
        load1: load()[0],
        wallSeconds: now() / 1000,
        memory: memory?.report(),
      };
    }

    const stepSeconds: number[] = [];
    const epochTrain: number[] = [];
    const evalSeconds: number[] = [];
    let epochStart = now();
    let lastStep = epochStart;
    // Progress for the parent, in case the run is stopped at its cap: the next step starts about now.
    const partial = () => emit({ type: 'partial', ...base, stepSeconds, peakBytes: g.poolStats.peakBytes, stepStartedAt: now() / 1000 });
    partial();
    // With a single epoch the restored "best" model is that epoch's model whatever validation says, so the
    // validation passes (after the epoch and again after training) are skipped: only the test pass runs.
    const validate = spec.epochs > 1;
    const data: Dataset = validate ? ds : { ...ds, val: { users: new Uint32Array(0), items: new Uint32Array(0) } };
    let lastEpochEnd = now();
    const result = await fit(be, data, {
      init: model,
      epochs: spec.epochs,
      maxSteps: spec.maxSteps ?? undefined,
      batchSize: spec.batchSize,
      seed: spec.seed,
      evalEvery: 1,
      patience: 0,
      ks: [20],
      onStep: (s) => {
        const t = now();
        stepSeconds.push((t - lastStep) / 1000);
        lastStep = t;
        partial();
        if (s.step === s.stepsInEpoch || s.step % 5 === 0 || s.step === 1) {
          log(`  ${tag} epoch ${s.epoch} step ${s.step}/${s.stepsInEpoch}: ${stepSeconds[stepSeconds.length - 1].toFixed(2)} s (loss ${fmt(s.losses.total)})`);
        }
      },
      onEpoch: (r) => {
        const t = now();
        epochTrain.push((lastStep - epochStart) / 1000);
        if (r.val) evalSeconds.push((t - lastStep) / 1000);
        const val = r.val ? `, val recall@20 ${fmt(r.val['recall@20'])} (${((t - lastStep) / 1000).toFixed(1)} s)` : '';
        log(`  ${tag} epoch ${r.epoch}: train ${epochTrain[epochTrain.length - 1].toFixed(1)} s${val}`);
        lastEpochEnd = t;
        epochStart = t;
        lastStep = t;
      },
    });
    // After the last epoch fit evaluates validation (if any) and test once more.
    const finalPasses = validate ? 2 : 1;
    const finalEval = (now() - lastEpochEnd) / 1000;
    for (let i = 0; i < finalPasses; i++) evalSeconds.push(finalEval / finalPasses);
    // The first step of each epoch also carries that epoch's negative sampling; the very first compiles.
    const perStep = stepSeconds.length > 1 ? median(stepSeconds.slice(1)) : stepSeconds[0];
    const steadyEpochs = epochTrain.length > 1 ? epochTrain.slice(1) : epochTrain;
    const rngProbe = new Rng(spec.seed);
    const ts = now();
    sampleNegatives(rngProbe, ds.numItems, ds.train, userItemCsr(ds.numUsers, ds.numItems, ds.train));
    epochBatches(rngProbe, train, spec.batchSize);
    const samplingSeconds = (now() - ts) / 1000;
    const fullEpochs = result.steps >= spec.epochs * stepsPerEpoch;
    // An epoch cut short by maxSteps is not an epoch: project it from the per-step time instead.
    const partialEpoch = !fullEpochs && result.history.length === 1;
    return {
      ...base,
      mode: 'train',
      budget:
        `${spec.epochs} epoch${spec.epochs > 1 ? 's' : ''}${fullEpochs ? '' : ` capped at ${spec.maxSteps} steps`} (${result.steps} steps), ` +
        (validate ? 'val every epoch, best restored' : 'single epoch: no validation'),
      epochs: result.history.length,
      steps: result.steps,
      stepSeconds,
      secondsPerStep: perStep,
      secondsPerEpoch: partialEpoch ? perStep * stepsPerEpoch + samplingSeconds : steadyEpochs.reduce((a, b) => a + b, 0) / steadyEpochs.length,
      projected: partialEpoch,
      firstEpochSeconds: partialEpoch ? undefined : epochTrain[0],
      samplingSeconds,
      evalSeconds: evalSeconds.reduce((a, b) => a + b, 0) / Math.max(1, evalSeconds.length),
      peakBytes: g.poolStats.peakBytes,
      recall20: result.test['recall@20'],
      ndcg20: result.test['ndcg@20'],
      valRecall20: validate ? result.val['recall@20'] : undefined,
      bestEpoch: result.bestEpoch,
      losses: { ...result.history[result.history.length - 1]?.losses },
      load1: load()[0],
      wallSeconds: now() / 1000,
      memory: memory?.report(),
    };
  } finally {
    model.dispose();
    be.destroy();
  }
}

if (flags.child !== undefined) {
  const spec = JSON.parse(flags.child) as RunSpec;
  const result = await runChild(spec);
  // Exit once the result has been handed to the pipe (Dawn may hold the event loop open).
  await new Promise<void>((done) => process.stdout.write(`${PROTOCOL}${JSON.stringify({ type: 'result', result })}\n`, () => done()));
  process.exit(0);
}

// ------------------------------------------------------------------------------------------------
// Parent: plan, spawn one child per run (fresh process and device: clean peak memory, and a run can be
// stopped at its cap), collect, report.

interface Partial {
  stepSeconds?: number[];
  peakBytes?: number;
  stepStartedAt?: number;
  samplingSeconds?: number;
  [k: string]: unknown;
}

/** Run `spec` in a child process; with capSeconds > 0 it is killed at the cap and its last partial report used. */
function spawnRun(spec: RunSpec, capSeconds: number): Promise<{ result: RunResult | null; partial: Partial | null; capped: boolean; elapsed: number; code: number | null }> {
  return new Promise((resolveRun, reject) => {
    const t = now();
    const child = spawn(process.execPath, [process.argv[1], '--child', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let result: RunResult | null = null;
    let partial: Partial | null = null;
    let capped = false;
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith(PROTOCOL)) {
          if (line.trim()) process.stderr.write(`${line}\n`);
          continue;
        }
        const msg = JSON.parse(line.slice(PROTOCOL.length)) as { type: string; result?: RunResult } & Partial;
        if (msg.type === 'result') result = msg.result ?? null;
        else partial = msg;
      }
    });
    const timer =
      capSeconds > 0
        ? setTimeout(() => {
            capped = true;
            log(`  ${spec.model}@${spec.dataset}: cap of ${capSeconds} s reached; stopping its process (pid ${child.pid})`);
            child.kill('SIGKILL');
          }, capSeconds * 1000)
        : null;
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolveRun({ result, partial, capped, elapsed: (now() - t) / 1000, code });
    });
  });
}

/** A result for a run stopped at its cap, from its last partial report. */
function cappedResult(spec: RunSpec, p: Partial | null, elapsed: number, capSeconds: number, base: { stepsPerEpoch: number; nSquaredBytes: number; linearBytes: number }): RunResult {
  const steps = p?.stepSeconds ?? [];
  let perStep: number | null = null;
  let lowerBound = false;
  if (steps.length > 1) perStep = median(steps.slice(1));
  else if (steps.length === 1) perStep = steps[0];
  else if (p?.stepStartedAt !== undefined) {
    perStep = elapsed - p.stepStartedAt;
    lowerBound = true;
  }
  const sampling = p?.samplingSeconds ?? 0;
  return {
    dataset: spec.dataset,
    model: spec.model,
    mode: spec.mode,
    budget:
      `${spec.mode === 'train' ? `${spec.epochs} epoch(s)${spec.maxSteps !== null ? ` capped at ${spec.maxSteps} steps` : ''}` : `${spec.timeSteps} steps`}, ` +
      `stopped at the ${capSeconds} s cap after ${steps.length} step${steps.length === 1 ? '' : 's'}${steps.length === 1 ? ' (the first, incl. compilation)' : ''}` +
      `${spec.mode === 'train' ? ': no accuracy' : ''}`,
    epochs: 0,
    steps: steps.length,
    stepsPerEpoch: base.stepsPerEpoch,
    stepSeconds: steps,
    secondsPerStep: perStep,
    stepLowerBound: lowerBound,
    secondsPerEpoch: perStep === null ? null : perStep * base.stepsPerEpoch + sampling,
    projected: true,
    samplingSeconds: sampling,
    peakBytes: p?.peakBytes ?? 0,
    nSquaredBytes: base.nSquaredBytes,
    linearBytes: base.linearBytes,
    config: (p?.config as Record<string, unknown>) ?? {},
    capped: true,
    capSeconds,
    setupSeconds: (p?.setupSeconds as number) ?? 0,
    load1: load()[0],
    wallSeconds: elapsed,
  };
}

/** Popularity (train degree, ties → lower item id), training items masked: Recall@20 / NDCG@20 on `split`. */
function popularity(ds: Dataset, split: 'val' | 'test'): { recall20: number; ndcg20: number; users: number } {
  const degree = new Uint32Array(ds.numItems);
  for (let k = 0; k < ds.train.items.length; k++) degree[ds.train.items[k]]++;
  const order = Array.from({ length: ds.numItems }, (_, i) => i).sort((a, b) => degree[b] - degree[a] || a - b);
  const train = userItemCsr(ds.numUsers, ds.numItems, ds.train);
  const truth = userItemCsr(ds.numUsers, ds.numItems, ds[split]);
  const acc = new MetricAccumulator([20]);
  const seen = new Uint8Array(ds.numItems);
  for (let u = 0; u < ds.numUsers; u++) {
    const t = truth.colIdx.subarray(truth.rowPtr[u], truth.rowPtr[u + 1]);
    if (t.length === 0) continue;
    const own = train.colIdx.subarray(train.rowPtr[u], train.rowPtr[u + 1]);
    for (const i of own) seen[i] = 1;
    const ranked: number[] = [];
    for (let p = 0; p < order.length && ranked.length < 20; p++) if (!seen[order[p]]) ranked.push(order[p]);
    for (const i of own) seen[i] = 0;
    acc.add(ranked, t);
  }
  const m = acc.result();
  return { recall20: m['recall@20'], ndcg20: m['ndcg@20'], users: acc.users };
}

setResultsDir(flags.out);
const datasets = listFlag(flags.datasets, KNOWN_DATASETS);
for (const d of datasets) if (!KNOWN_DATASETS.includes(d)) throw new Error(`--datasets: unknown dataset '${d}' (known: ${KNOWN_DATASETS.join(', ')})`);
const models = listFlag(flags.models, [...MODEL_KINDS]) as ModelKind[];
for (const m of models) if (!MODEL_KINDS.includes(m)) throw new Error(`--models: unknown model '${m}' (known: ${MODEL_KINDS.join(', ')})`);
const batchSize = intFlag(flags['batch-size'], 4096, 'batch-size');
const seed = intFlag(flags.seed, 2023, 'seed');
const textDim = intFlag(flags['text-dim'], 1536, 'text-dim');
const timeSteps = Math.max(1, intFlag(flags['time-steps'], 2, 'time-steps'));
const dataRoot = String(flags['data-root']);

const probe = await createBackend({ backend: 'webgpu' });
const machine: MachineInfo = machineInfo(probe);
const software = adapterOf(probe).software;
probe.destroy();

/**
 * Defaults. Software adapter (lavapipe, ~10 minutes in all at load ≈ 4–6 on 2 cores): 1 epoch (9 steps) on
 * movielens for every model (an IRLLRec step there took 9–60 s depending on the machine's load; 2 epochs took
 * 15 minutes in all at load 6–10), LightGCN 1 epoch on amazon, RLMRec-Con and IRLLRec on amazon timed only
 * (2 steps, each run stopped at 240 s: a step there takes about 1–2 minutes); trained runs stopped at 420 s.
 * Hardware adapter: movielens 20 epochs, amazon 3 epochs, all trained, no caps.
 * `--quick` (bench/gpu.sh, a few minutes): software adapter 3 steps of 1 epoch (no validation), RLMRec-Con and
 * IRLLRec on amazon timed only, every run stopped at 150 s; hardware adapter 1 epoch each, trained runs capped at 300 s.
 */
const DEFAULTS = flags.quick
  ? software
    ? {
        epochs: { movielens: 1, amazon: 1 } as Record<string, number>,
        maxSteps: { movielens: 3, amazon: 3 } as Record<string, number>,
        timeOnly: ['rlmrec@amazon', 'irllrec@amazon'],
        capSeconds: 150,
        trainCapSeconds: 150,
      }
    : { epochs: { movielens: 1, amazon: 1 } as Record<string, number>, maxSteps: {} as Record<string, number>, timeOnly: [] as string[], capSeconds: 0, trainCapSeconds: 300 }
  : software
  ? {
      epochs: { movielens: 1, amazon: 1 } as Record<string, number>,
      maxSteps: {} as Record<string, number>,
      timeOnly: ['rlmrec@amazon', 'irllrec@amazon'],
      capSeconds: 240,
      trainCapSeconds: 420,
    }
  : { epochs: { movielens: 20, amazon: 3 } as Record<string, number>, maxSteps: {} as Record<string, number>, timeOnly: [] as string[], capSeconds: 0, trainCapSeconds: 0 };
const epochsFor = (d: string) => Math.max(1, perDataset(flags.epochs, d, 'epochs', (x) => DEFAULTS.epochs[x] ?? 1) ?? 1);
const maxStepsFor = (d: string) => {
  const v = perDataset(flags['max-steps'], d, 'max-steps', (x) => DEFAULTS.maxSteps[x] ?? null);
  return v === null || v === 0 ? null : v;
};
const timeOnlyPairs = flags['time-only'] === 'none' ? [] : listFlag(flags['time-only'], DEFAULTS.timeOnly);
const capSeconds = flags['cap-s'] !== undefined ? intFlag(flags['cap-s'], 0, 'cap-s') : DEFAULTS.capSeconds;
const trainCapSeconds = flags['train-cap-s'] !== undefined ? intFlag(flags['train-cap-s'], 0, 'train-cap-s') : DEFAULTS.trainCapSeconds;
log(
  `adapter: ${machine.adapter}; load ${machine.loadStart.join(' / ')}; datasets ${datasets.join(', ')}; models ${models.join(', ')}; ` +
    `time-only ${timeOnlyPairs.join(', ') || 'none'} (cap ${capSeconds || 'none'} s); trained runs capped at ${trainCapSeconds || 'no'} s`,
);

const results: RunResult[] = [];
const baselines: Record<string, { recall20: number; ndcg20: number; users: number }> = {};
const dsInfo: Record<string, { users: number; items: number; n: number; train: number; nnz: number; text: string }> = {};
const t0 = now();
for (const name of datasets) {
  const ds = await loadDatasetDir(join(dataRoot, name));
  const g = buildGraph(ds);
  const needsText = name === 'amazon' ? (models.some((m) => modelParts(m).intents) ? 'both' : models.some((m) => modelParts(m).profile) ? 'profile' : 'none') : 'none';
  const text = name === 'amazon' ? (needsText === 'none' ? 'not needed' : `seeded N(0, 1/${textDim}) stand-ins, ${textDim}-d`) : ds.text.userProfile ? `real, ${ds.text.userProfile.cols}-d` : 'none';
  dsInfo[name] = { users: ds.numUsers, items: ds.numItems, n: g.n, train: ds.train.users.length, nnz: g.nnz, text };
  log(`${name}: ${ds.numUsers} users, ${ds.numItems} items, ${ds.train.users.length} training pairs, ${g.nnz} directed edges; text ${text}`);
  if (name === 'movielens') baselines[name] = popularity(ds, 'test');
  for (const kind of models) {
    const timeOnly = timeOnlyPairs.includes(`${kind}@${name}`);
    const spec: RunSpec = {
      dataset: name,
      model: kind,
      mode: timeOnly ? 'time-only' : 'train',
      epochs: epochsFor(name),
      maxSteps: maxStepsFor(name),
      timeSteps,
      batchSize,
      seed,
      dataRoot,
      textDim,
      text: needsText,
      profileMemory: flags['profile-memory'],
    };
    const maxStepsNote = spec.maxSteps !== null ? `, at most ${spec.maxSteps} steps` : '';
    log(
      `${kind}@${name}: ${timeOnly ? `timing ${timeSteps} steps` : `training ${spec.epochs} epoch(s)${maxStepsNote}`}` +
        `${(timeOnly ? capSeconds : trainCapSeconds) ? ` (cap ${timeOnly ? capSeconds : trainCapSeconds} s)` : ''} (load ${load()[0]})`,
    );
    const cap = timeOnly ? capSeconds : trainCapSeconds;
    const run = await spawnRun(spec, cap);
    let r: RunResult;
    if (run.result) r = run.result;
    else if (run.capped) {
      const n = g.n;
      const tw = (modelParts(kind).profile ? textDim : 0) + (modelParts(kind).intents ? textDim : 0);
      r = cappedResult(spec, run.partial, run.elapsed, cap, {
        stepsPerEpoch: Math.ceil(ds.train.users.length / batchSize),
        nSquaredBytes: n * n * 4,
        linearBytes: 4 * (g.nnz + n * (32 + (name === 'amazon' ? tw : textWidth(ds, kind)))),
      });
    } else throw new Error(`${kind}@${name}: the benchmark process exited with code ${run.code} without a result`);
    results.push(r);
    log(
      `${kind}@${name}: ${r.stepLowerBound ? '> ' : ''}${fmt(r.secondsPerStep)} s/step, ${r.stepLowerBound ? '> ' : ''}${fmt(r.secondsPerEpoch)} s/epoch${r.projected ? ' (projected)' : ''}, ` +
        `peak ${fmt(mib(r.peakBytes))} MiB` +
        (r.recall20 !== undefined ? `, test recall@20 ${fmt(r.recall20, 4)} ndcg@20 ${fmt(r.ndcg20, 4)}` : '') +
        ` [${run.elapsed.toFixed(0)} s]`,
    );
    if (r.memory) log(`${kind}@${name}:${memoryTable(r.memory)}`);
  }
}
const totalSeconds = (now() - t0) / 1000;

// ------------------------------------------------------------------------------------------------
// Report

const NAMES = MODEL_LABELS;
const headers = [
  'dataset',
  'model',
  'budget',
  's/step',
  's/epoch',
  'steps/epoch',
  'eval pass s',
  'peak MiB',
  'N·N·4 MiB',
  'peak / N·N·4',
  'peak / 4(nnz+N(d+text))',
  'Recall@20',
  'NDCG@20',
  'load (1 min)',
];
const bound = (r: RunResult) => (r.stepLowerBound ? '> ' : '');
const rows = results.map((r) => [
  r.dataset,
  NAMES[r.model],
  r.budget,
  `${bound(r)}${fmt(r.secondsPerStep)}`,
  r.projected ? `${bound(r)}${fmt(r.secondsPerEpoch)} (projected)` : fmt(r.secondsPerEpoch),
  r.stepsPerEpoch,
  r.evalSeconds !== undefined ? fmt(r.evalSeconds) : '–',
  r.peakBytes ? fmt(mib(r.peakBytes)) : '–',
  fmt(mib(r.nSquaredBytes)),
  r.peakBytes ? fmt(r.peakBytes / r.nSquaredBytes) : '–',
  r.peakBytes ? fmt(r.peakBytes / r.linearBytes) : '–',
  r.recall20 !== undefined ? r.recall20.toFixed(4) : '–',
  r.ndcg20 !== undefined ? r.ndcg20.toFixed(4) : '–',
  r.load1,
]);
for (const [name, b] of Object.entries(baselines)) {
  rows.push([name, 'popularity (train degree)', 'no training', '–', '–', '–', '–', '–', '–', '–', '–', b.recall20.toFixed(4), b.ndcg20.toFixed(4), '–']);
}

const verdict = (dr: number, dn: number) => (dr > 0 && dn > 0 ? 'beats it' : dr > 0 || dn > 0 ? 'mixed' : 'does not beat it');
const delta = (a: number, b: number) => `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(4)} (${a - b >= 0 ? '+' : ''}${fmt((100 * (a - b)) / b)}%)`;
const comparison: string[] = [];
const comparisonJson: Record<string, unknown>[] = [];
for (const [name, pop] of Object.entries(baselines)) {
  const of = (k: ModelKind) => results.find((r) => r.dataset === name && r.model === k && r.recall20 !== undefined && r.ndcg20 !== undefined);
  const lg = of('lightgcn');
  for (const k of ['lightgcn', 'rlmrec', 'irllrec'] as const) {
    const r = of(k);
    if (!r || r.recall20 === undefined || r.ndcg20 === undefined) continue;
    const vsPop = { recall: r.recall20 - pop.recall20, ndcg: r.ndcg20 - pop.ndcg20 };
    const parts: string[] = [];
    let vsLg: { recall: number; ndcg: number } | null = null;
    if (k !== 'lightgcn') {
      if (lg && lg.recall20 !== undefined && lg.ndcg20 !== undefined) {
        vsLg = { recall: r.recall20 - lg.recall20, ndcg: r.ndcg20 - lg.ndcg20 };
        parts.push(`vs LightGCN: Recall@20 ${delta(r.recall20, lg.recall20)}, NDCG@20 ${delta(r.ndcg20, lg.ndcg20)} → ${verdict(vsLg.recall, vsLg.ndcg)}`);
      } else parts.push('vs LightGCN: n/a (not run)');
    }
    parts.push(`vs popularity: Recall@20 ${delta(r.recall20, pop.recall20)}, NDCG@20 ${delta(r.ndcg20, pop.ndcg20)} → ${verdict(vsPop.recall, vsPop.ndcg)}`);
    comparison.push(`- ${NAMES[k]} on ${name} (${r.budget}): ${parts.join('; ')}`);
    comparisonJson.push({ dataset: name, model: k, steps: r.steps, vsLightgcn: vsLg, vsPopularity: vsPop });
  }
}

const dsLines = Object.entries(dsInfo).map(([k, v]) => `${k}: ${v.users} users + ${v.items} items = N ${v.n}, ${v.train} training pairs = ${v.nnz} directed edges; text ${v.text}`);
const budgetLines = datasets.map((d) => `${d}: ${epochsFor(d)} epoch(s)${maxStepsFor(d) !== null ? ` capped at ${maxStepsFor(d)} steps` : ''}`);
const md = [
  ...headerLines('irllrec training benchmark', machine, [
    ...dsLines,
    `budget (trained runs): ${budgetLines.join('; ')}; time-only (${timeSteps} steps, per-epoch projected, no accuracy): ${timeOnlyPairs.join(', ') || 'none'}` +
      `${capSeconds ? `, each stopped at ${capSeconds} s` : ''}${trainCapSeconds ? `; trained runs stopped at ${trainCapSeconds} s (then no accuracy)` : ''}; ` +
      `batch size ${batchSize}; seed ${seed}; Adam lr 1e-3; one fresh process and device per run`,
    'hyperparameters: the presets of modelConfig(kind, dataset name) ("movielens" and "amazon" both get the amazon/default preset)',
    's/step: median over the steps after the first (which compiles the pipelines; the first alone when only one step ran); s/epoch (trained, whole epochs): mean over the epochs after the first, training steps + negative sampling, evaluation excluded (eval pass s: mean seconds of one full-ranking validation/test pass); (projected) = s/step × steps/epoch + negative sampling; "> x": lower bound, the cap stopped the run mid-step',
    'peak MiB: the buffer pool high-water mark (live + pooled buffers, evaluation included; sizes rounded up to the pool\'s power-of-two buckets below 16 MiB); capped runs: as of the last recorded step',
    'accuracy: test split, training items masked, users with ≥ 1 test item, best-validation parameters restored (1-epoch runs: no validation, the epoch\'s model); after the budget only, far from convergence: not the paper\'s comparison',
    `total run ${totalSeconds.toFixed(0)} s`,
  ]),
  '',
  markdownTable(headers, rows),
  ...(comparison.length ? ['', 'Comparison on test (after the budget above):', '', ...comparison] : []),
  '',
].join('\n');

writeResults('train', md, {
  machine,
  loadEnd: load(),
  totalSeconds,
  options: {
    datasets,
    models,
    epochs: Object.fromEntries(datasets.map((d) => [d, epochsFor(d)])),
    maxSteps: Object.fromEntries(datasets.map((d) => [d, maxStepsFor(d)])),
    timeOnly: timeOnlyPairs,
    timeSteps,
    capSeconds,
    trainCapSeconds,
    batchSize,
    seed,
    textDim,
  },
  datasets: dsInfo,
  popularity: baselines,
  comparison: comparisonJson,
  results,
});
