/**
 * The `irllrec` command line: train, eval, recommend, loss. Results go to stdout (eval, recommend: TSV; with
 * --json, one JSON object); progress and logs go to stderr (a live line on a terminal, a line every few
 * seconds elsewhere: src/node/cli-progress.ts).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildGraph } from '../data/graph.js';
import { syntheticDataset } from '../data/synthetic.js';
import type { Dataset, Matrix } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import { parseModelFile, serializeModel } from '../io/modelfile.js';
import { MODEL_NAMES, type ModelConfig, type ModelKind, PRESET_NAMES, type PresetName, canonicalKind, modelConfig, presetFor, validateConfig } from '../models/config.js';
import { type RunConfig, parseRunConfig } from '../train/runconfig.js';
import { RecModel } from '../models/model.js';
import type { KernelTiming, Profiler } from '../gpu/profiler.js';
import type { Backend, WebGpuBackend } from '../ops/tensor.js';
import { type EpochReport, createModel, fit } from '../train/trainer.js';
import { Rng } from '../util/random.js';
import { runEval } from './cli-eval.js';
import { parseMemorySize, startMemoryProfile } from './cli-memory.js';
import { memoryTable } from '../gpu/memory.js';
import { checkOptions, commandUsage, packageVersion } from './cli-options.js';
import { Progress, rateAndEta } from './cli-progress.js';
import { recommendRequest, runRecommend, writeStdout } from './cli-recommend.js';
import { loadDatasetDir, loadInteractionsFile, writeFileAtomic } from './files.js';
import { cmdTune } from './cli-tune.js';
import { CHECKPOINT_FILE, checkpointOptions } from './cli-checkpoint.js';
import { MAX_BATCH_FILE_BYTES, checkInit, parseBatchFile, reportDatasetWarnings, resolveUser } from './cli-inputs.js';
import { checkOutputPath, readBounded, readBoundedText, terminalSafe, terminalSafeJson } from './paths.js';
import { DEFAULT_MAX_MODEL_BYTES } from '../serve/recommender.js';
import { createBackend } from './index.js';

const USAGE = `irllrec — IRLLRec and its ladder (LightGCN, RLMRec-Con) on WebGPU

Usage:
  irllrec train [--data DIR|FILE | --synthetic] [--model KIND] [--preset reference|default]
                [--epochs N] [--patience N] [--eval-every N] [--seed S] [--out FILE] [--max-steps N]
                [--init FILE] [--batch-size B] [--lr X] [--random-text DIM] [--profile]
                [--checkpoint DIR [--resume]] [--max-memory SIZE] [--profile-memory]
  irllrec tune [--data DIR|FILE | --synthetic] --model KIND --out BEST.json
               [--preset P] [--space FILE] [--trials N] [--budget SECONDS] [--study DIR] [--seed S]
               [--epochs N] [--eta N] [--patience N] [--eval-every N] [--batch-size B] [--lr X]
  irllrec eval --model FILE --data DIR [--split test|val] [-k 5,10,20] [--metrics recall,ndcg,precision,hit,mrr,map]
               [--per-user FILE]
  irllrec recommend --model FILE [--data DIR] --user ID [-k 20]
  irllrec recommend --model FILE [--data DIR] --users FILE|all [--out FILE] [-k 20] [--chunk 1024]
  irllrec loss --model FILE --data DIR --batch FILE [--seed S]
  irllrec help [COMMAND]      irllrec COMMAND --help      irllrec --version

Model kinds (KIND): lightgcn, rlmrec (RLMRec-Con; also lightgcn_plus), irllrec (default; also lightgcn_int),
  and the same ladder on the SGL and SimGCL backbones: sgl, sgl_plus, sgl_int, simgcl, simgcl_plus, simgcl_int

Common options:
  --json            results as one JSON object on stdout instead of TSV (progress and logs stay on stderr)
  --backend B       webgpu | cpu | auto (default auto: WebGPU, else the CPU with a notice)
  --config FILE|JSON  a run configuration: model settings and trainer settings in one flat JSON object,
                    inline or in a file, e.g. '{"intWeight":2e-3,"epochs":60,"patience":10}' (what
                    'irllrec tune' writes); command-line flags override it
  --preset P        reference: the authors' per-dataset values (amazon, yelp, movie; others get amazon's);
                    default: this library's measured defaults. Omitted: reference on amazon, yelp and
                    movie, default everywhere else

Defaults: the reference's batch 4096, lr 1e-3, up to 3000 epochs, validation every 3 epochs, early stopping
after 5 validations without improvement (--patience 0: never stop early); --synthetic uses batch 256, lr 5e-3,
up to 30 epochs. --lr accepts a decimal number.
  --quiet           no progress output
  --verbose         also show Dawn's own warnings (e.g. its "artificially reduced" limit notes on lavapipe)
  --checkpoint DIR  (train) write the run's state to DIR/checkpoint.safetensors after every epoch (atomically);
                    with --resume, continue from it after an interruption (same options: the result is
                    bit-identical to an uninterrupted run on the same backend); without one, start afresh
  --profile         (train) per-kernel GPU time from timestamp queries, printed to stderr after training
                    and included as "profile" in --json output (WebGPU with 'timestamp-query' only)
  --max-memory SIZE (train) a budget of device memory (e.g. 1G, 768M): the run is planned within it (text
                    towers recomputed in smaller blocks, smaller evaluation chunks; same results), or
                    refused before anything is allocated when it cannot fit
  --profile-memory  (train) where the memory goes: bytes by role at the peak resident set (text tables,
                    parameters, Adam moments, teacher, tower activations, gradients, evaluation blocks,
                    pooled buffers, host arrays, runtime), on stderr and as "memory" in --json (WebGPU)

tune: a search on the validation split (Recall@20): --trials configurations (12) sampled with --seed from
--space (a JSON object of field → {"type":"float"|"int","low","high","log"} or {"type":"choice","values"};
default: lr, reg, layers, embeddingDim, keepRate and the model's alignment weights and temperatures), trained
by successive halving: rungs of --epochs/η², --epochs/η, --epochs epochs (--epochs: 30; η = --eta, 3), each
rung keeping the best 1/η, every trial with early stopping (--patience, --eval-every). No run starts that
--budget SECONDS cannot cover and a running one stops at it. --study DIR keeps the state (study.json) to
resume with the same command after a kill; trials.json and trials.md go to DIR (else next to --out). The best
trial goes to --out as a run configuration: 'irllrec train --config BEST.json' reproduces its score.
`;

/** Training defaults for the built-in synthetic dataset (override with --epochs, --batch-size, --lr). */
export const SYNTHETIC_DEFAULTS = { epochs: 30, batchSize: 256, lr: 5e-3 };

interface Common {
  json: boolean;
  quiet: boolean;
  backend: 'webgpu' | 'cpu' | 'auto';
  progress: Progress;
}

/** A permanent line (`final`) or a live status line on stderr (see src/node/cli-progress.ts). */
function progress(c: Common, text: string, final = false): void {
  // Lines quote names and ids from files (dataset names, item ids): shown escaped, never executed.
  const line = terminalSafe(text, true);
  if (final) c.progress.log(line);
  else c.progress.update(line);
}

function fmt(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e4 ? x.toFixed(4) : x.toExponential(3);
}

/** The size above which a --config file is refused unread (a run configuration is a few hundred bytes). */
const MAX_CONFIG_BYTES = 1 << 20;

/**
 * `--config`: a run configuration (src/train/runconfig.ts), inline JSON (text that starts with '{') or the
 * path of a JSON file.
 */
export async function readRunConfig(arg: string): Promise<RunConfig> {
  if (arg.trim().startsWith('{')) return parseRunConfig(arg, '--config');
  if (arg === '') throw new IrllrecError('range', '--config: empty value (give a JSON object or the path of a JSON file)');
  const text = await readBoundedText(arg, MAX_CONFIG_BYTES, 'run configuration (--config)').catch((e: IrllrecError) => {
    if ((e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new IrllrecError('io', `--config ${arg}: no such file (inline JSON must start with "{")`);
    throw e;
  });
  return parseRunConfig(text, arg);
}

/** `--config` overrides of model settings only (eval, recommend, loss): trainer fields are an error there. */
async function configOverrides(arg: string): Promise<Partial<ModelConfig>> {
  const r = await readRunConfig(arg);
  const extra = [...Object.keys(r.trainer), ...(r.model ? ['model'] : []), ...(r.preset ? ['preset'] : [])];
  if (extra.length) throw new IrllrecError('range', `--config: ${extra.join(', ')} only apply to 'irllrec train'`);
  return r.config;
}

/** Seeded random stand-ins for text embeddings (datasets whose LLM embeddings are not public). */
function randomText(ds: Dataset, dim: number, seed: number): void {
  const rng = new Rng(seed);
  const make = (rows: number): Matrix => {
    const data = new Float32Array(rows * dim);
    for (let i = 0; i < data.length; i++) data[i] = rng.normal() / Math.sqrt(dim);
    return { rows, cols: dim, data };
  };
  ds.text = { userProfile: make(ds.numUsers), itemProfile: make(ds.numItems), userIntent: make(ds.numUsers), itemIntent: make(ds.numItems) };
}

async function loadData(values: Record<string, unknown>, seed: number, c: Common): Promise<Dataset> {
  let ds: Dataset;
  if (values.synthetic || !values.data) ds = syntheticDataset({ seed });
  else if ((await stat(String(values.data)).catch(() => null))?.isFile()) {
    // A single interaction file: split per user 60/20/20 with the run's seed.
    ds = await loadInteractionsFile(String(values.data), { seed, val: 0.2, test: 0.2 });
  } else ds = await loadDatasetDir(String(values.data));
  if (values['random-text']) randomText(ds, Number(values['random-text']), seed + 1);
  reportDatasetWarnings(ds, c.quiet);
  return ds;
}

async function backendFor(c: Common): Promise<Backend> {
  return createBackend({ backend: c.backend, onNotice: (m) => process.stderr.write(`${m}\n`) });
}

async function cmdTrain(values: Record<string, unknown>, c: Common): Promise<Record<string, unknown>> {
  // Precedence: command-line flags, then the --config run configuration, then the preset.
  const run: RunConfig = values.config ? await readRunConfig(String(values.config)) : { config: {}, trainer: {} };
  const tr = run.trainer;
  const flag = (name: string) => (values[name] !== undefined ? Number(values[name]) : undefined);
  const seed = flag('seed') ?? tr.seed ?? 2023;
  const named = values.model ?? run.model;
  const requested = named === undefined ? undefined : canonicalKind(named);
  if (requested === null) throw new IrllrecError('range', `--model must be one of ${MODEL_NAMES.join(', ')}, got '${terminalSafe(String(named))}'`);
  // Output paths are checked before any data is read or any training is done.
  if (values.out !== undefined) await checkOutputPath(String(values.out), '--out');
  if (values.checkpoint !== undefined) await checkOutputPath(join(String(values.checkpoint), CHECKPOINT_FILE), '--checkpoint');
  if (values.resume && values.checkpoint === undefined) throw new IrllrecError('range', '--resume needs --checkpoint DIR');
  if (values.resume && values.init) throw new IrllrecError('range', '--resume and --init exclude each other (a resumed run starts from its checkpoint)');
  const presetArg = (values.preset as string | undefined) ?? run.preset;
  if (presetArg !== undefined && !(PRESET_NAMES as readonly string[]).includes(presetArg)) throw new IrllrecError('range', `--preset must be one of ${PRESET_NAMES.join(', ')}, got '${presetArg}'`);
  const maxMemory = values['max-memory'] !== undefined ? parseMemorySize(String(values['max-memory'])) : undefined;
  const ds = await loadData(values, seed, c);
  let kind: ModelKind = requested ?? 'irllrec';
  let initFile: ReturnType<typeof parseModelFile> | undefined;
  if (values.init) {
    const path = String(values.init);
    initFile = parseModelFile(await readBounded(path, DEFAULT_MAX_MODEL_BYTES, 'model file'), path, { kind: requested });
    kind = checkInit(initFile, path, requested, ds);
  }
  const preset: PresetName = presetFor(ds.name, presetArg);
  const be = await backendFor(c);
  const memoryProfile = values['profile-memory'] ? startMemoryProfile(be) : null;
  progress(c, `irllrec: ${kind} on ${ds.name} (${ds.numUsers} users, ${ds.numItems} items, ${ds.train.users.length} training pairs) — preset ${preset}${presetArg ? '' : ' (chosen by dataset)'}${Object.keys(run.config).length ? ` + ${JSON.stringify(run.config)}` : ''} — backend ${be.name}`, true);
  let init: RecModel | undefined;
  // The reference's settings (batch 4096, lr 1e-3, up to 3000 epochs) suit its datasets; the small built-in
  // synthetic set gets smaller batches and a larger step so that the default run finishes in minutes.
  const synth = ds.name === 'synthetic' ? SYNTHETIC_DEFAULTS : null;
  const settings = {
    model: kind,
    preset,
    epochs: flag('epochs') ?? tr.epochs ?? synth?.epochs,
    batchSize: flag('batch-size') ?? tr.batchSize ?? synth?.batchSize,
    lr: flag('lr') ?? tr.lr ?? synth?.lr,
    patience: flag('patience') ?? tr.patience,
    evalEvery: flag('eval-every') ?? tr.evalEvery,
    maxSteps: flag('max-steps'),
    seed,
    config: run.config,
  };
  let resumed: Awaited<ReturnType<typeof checkpointOptions>> | undefined;
  if (values.checkpoint !== undefined) {
    const identity = { ...settings, dataset: ds.name, randomText: values['random-text'] ?? null };
    resumed = await checkpointOptions(be, ds, identity, String(values.checkpoint), Boolean(values.resume));
    if (resumed.resumedAt !== null) progress(c, `resuming from ${values.checkpoint} after epoch ${resumed.resumedAt}`, true);
  }
  if (initFile) {
    init = RecModel.create(be, { ...initFile.config }, { numUsers: ds.numUsers, numItems: ds.numItems, graph: buildGraph(ds), text: ds.text }, { seed });
    init.importParameters(initFile.tensors, String(values.init));
  }
  // The model is made here so that the host copies of the text can go once it lives on the device.
  const model = resumed?.fit.init ?? init ?? createModel(be, ds, { model: kind, preset, config: run.config, seed, batchSize: settings.batchSize ?? 4096, maxMemory });
  ds.text = {};
  memoryProfile?.sample('model created');
  const profiler = values.profile ? startProfiler(be) : null;
  const t0 = Date.now();
  let firstStep: { steps: number; t: number } | undefined;
  const result = await fit(be, ds, {
    ...settings,
    ...resumed?.fit,
    init: model,
    maxMemory,
    onStep: (s) => {
      // Steps counted from this process's first one (a resumed run's earlier steps took no time here).
      firstStep ??= { steps: s.steps - 1, t: Date.now() };
      const total = Math.min(s.epochs * s.stepsInEpoch, flag('max-steps') ?? Infinity);
      const speed = rateAndEta(s.steps - firstStep.steps, total - firstStep.steps, (Date.now() - firstStep.t) / 1000, 'steps');
      progress(c, `epoch ${s.epoch} of ${s.epochs}, step ${s.step}/${s.stepsInEpoch}, ${s.steps}/${total} steps  loss ${fmt(s.losses.total)}  bpr ${fmt(s.losses.bpr)}  kd ${fmt(s.losses.kd)}  kd_int ${fmt(s.losses.kd_int)}  ${speed}  ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    },
    onEpoch: (r: EpochReport) => {
      const val = r.val ? `  val recall@20 ${fmt(r.val['recall@20'])} ndcg@20 ${fmt(r.val['ndcg@20'])}${r.improved ? ' *' : ''}` : '';
      const cl = r.losses.cl ? `, cl ${fmt(r.losses.cl)}` : '';
      progress(c, `epoch ${r.epoch}: loss ${fmt(r.losses.total)} (bpr ${fmt(r.losses.bpr)}, reg ${fmt(r.losses.reg)}, kd ${fmt(r.losses.kd)}, kd_int ${fmt(r.losses.kd_int)}, ssl ${fmt(r.losses.ssl)}, itm ${fmt(r.losses.itm)}${cl})${val}  ${r.seconds.toFixed(1)}s`, true);
    },
  });
  if (values.out) {
    await writeFileAtomic(String(values.out), await serializeModel(result.model, { train: ds.train, userIds: ds.userIds, itemIds: ds.itemIds, datasetName: ds.name, metrics: result.val }));
    progress(c, `saved ${values.out}`, true);
  }
  const test = result.test;
  progress(c, `test (best epoch ${result.bestEpoch}): ${Object.entries(test).filter(([k]) => k !== 'users').map(([k, v]) => `${k} ${fmt(v)}`).join('  ')}`, true);
  // The results on stdout (as `eval` prints them), the log line above on stderr: `> metrics.tsv` keeps only results.
  if (!c.json) {
    const rows = Object.entries(test).filter(([k]) => k !== 'users').map(([k, v]) => `${k.replace('@', '\t')}\t${v}\n`);
    if (rows.length) await writeStdout(`metric\tk\tvalue\n${rows.join('')}`);
  }
  const out: Record<string, unknown> = { model: kind, preset, ...(ds.warnings ? { warnings: ds.warnings } : {}), config: result.model.config, dataset: ds.name, backend: be.name, epochs: result.history.length, steps: result.steps, seconds: result.seconds, bestEpoch: result.bestEpoch, val: result.val, test, ...prefixed(test) };
  if (profiler) {
    const rows = profileRows(await profiler.report(), result.steps);
    if (!c.quiet) process.stderr.write(profileTable(rows, result.steps, profiler.untimed));
    out.profile = rows;
    out.profileUntimedDispatches = profiler.untimed;
  } else if (values.profile) {
    out.profile = null;
  }
  if (memoryProfile) {
    const report = memoryProfile.report();
    if (!c.quiet) process.stderr.write(memoryTable(report));
    out.memory = report;
  }
  result.model.dispose();
  be.destroy();
  return out;
}

/**
 * Turns on per-kernel timing for `--profile`; on the CPU backend or a device without 'timestamp-query'
 * it says so on stderr and returns null (training then runs unprofiled).
 */
function startProfiler(be: Backend): Profiler | null {
  if (be.kind !== 'webgpu') {
    process.stderr.write('irllrec: --profile needs the WebGPU backend (GPU kernel timing); this run uses the CPU backend, so no profile is taken\n');
    return null;
  }
  try {
    return (be as WebGpuBackend).recorder.enableProfiling();
  } catch (e) {
    process.stderr.write(`irllrec: --profile unavailable: ${(e as Error).message}; training without a profile\n`);
    return null;
  }
}

/**
 * One row of the --profile breakdown. `section` is 'training' for the optimiser steps' kernels and
 * 'evaluation' for validation / test ranking; `percent` is the share of the row's section, `msPerStep` the
 * section's total divided by the run's training steps (for evaluation: its cost spread over the steps).
 */
export interface ProfileRow extends KernelTiming {
  msPerStep: number;
  percent: number;
}

const SECTION_ORDER = ['training', 'evaluation'];

function profileRows(timings: KernelTiming[], steps: number): ProfileRow[] {
  const sectionTotal = new Map<string, number>();
  for (const t of timings) sectionTotal.set(t.section, (sectionTotal.get(t.section) ?? 0) + t.ms);
  const rank = (s: string) => (SECTION_ORDER.includes(s) ? SECTION_ORDER.indexOf(s) : SECTION_ORDER.length);
  return timings
    .map((t) => {
      const total = sectionTotal.get(t.section) ?? 0;
      return { ...t, msPerStep: steps > 0 ? t.ms / steps : 0, percent: total > 0 ? (100 * t.ms) / total : 0 };
    })
    .sort((a, b) => rank(a.section) - rank(b.section) || a.section.localeCompare(b.section) || b.ms - a.ms);
}

function profileTable(rows: ProfileRow[], steps: number, untimed: number): string {
  const width = Math.max(6, ...rows.map((r) => r.kernel.length));
  const line = (k: string, calls: string, ms: string, per: string, pct: string) => `${k.padEnd(width)}  ${calls.padStart(7)}  ${ms.padStart(11)}  ${per.padStart(10)}  ${pct.padStart(6)}\n`;
  let s = `\nGPU time per kernel (${steps} training steps; evaluation listed separately):\n`;
  const sections = [...new Set(rows.map((r) => r.section))];
  for (const section of sections) {
    const rs = rows.filter((r) => r.section === section);
    const total = rs.reduce((a, r) => a + r.ms, 0);
    s += `\n${section}${section === 'training' ? ' (ms/step: per optimiser step)' : ' (ms/step: spread over the training steps)'}\n`;
    s += line('kernel', 'calls', 'total ms', 'ms/step', '%');
    for (const r of rs) s += line(r.kernel, String(r.calls), r.ms.toFixed(3), r.msPerStep.toFixed(3), r.percent.toFixed(1));
    s += line('total', String(rs.reduce((a, r) => a + r.calls, 0)), total.toFixed(3), steps > 0 ? (total / steps).toFixed(3) : '0.000', rs.length ? '100.0' : '0.0');
  }
  if (untimed > 0) s += `(${untimed} dispatches beyond the per-submit query capacity were not timed)\n`;
  return s;
}

function prefixed(m: Record<string, number>): Record<string, number> {
  const o: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (k !== 'users') o[k] = v;
  return o;
}

async function loadModelFor(values: Record<string, unknown>, be: Backend, needData: boolean) {
  if (!values.model) throw new IrllrecError('range', '--model FILE is required');
  const path = String(values.model);
  const file = parseModelFile(await readBounded(path, DEFAULT_MAX_MODEL_BYTES, 'model file'), path);
  let ds: Dataset | null = null;
  if (values.data) {
    ds = await loadDatasetDir(String(values.data));
    reportDatasetWarnings(ds, Boolean(values.quiet));
  }
  if (needData && !ds) throw new IrllrecError('range', '--data DIR is required');
  const train = ds?.train ?? file.train;
  if (!train) throw new IrllrecError('data', `${path} carries no training graph: pass --data DIR`);
  if (ds && (ds.numUsers !== file.numUsers || ds.numItems !== file.numItems)) {
    throw new IrllrecError('shape', `${path} has ${file.numUsers} users / ${file.numItems} items but ${values.data} has ${ds.numUsers} / ${ds.numItems}`);
  }
  const graph = buildGraph({ numUsers: file.numUsers, numItems: file.numItems, train });
  // Files without irllrec metadata (e.g. exported from the authors' PyTorch code) get the reference preset
  // of the dataset they are used with; --config overrides either.
  let config = file.native || !ds ? file.config : modelConfig(file.config.kind, ds.name, { embeddingDim: file.config.embeddingDim, numIntents: file.config.numIntents }, 'reference');
  if (values.config) config = { ...config, ...(await configOverrides(String(values.config))) };
  validateConfig(config);
  const model = RecModel.create(be, config, { numUsers: file.numUsers, numItems: file.numItems, graph, text: ds?.text, textDims: file.textDims });
  model.importParameters(file.tensors, path);
  return { model, file, ds, train };
}

async function cmdEval(values: Record<string, unknown>, c: Common) {
  const be = await backendFor(c);
  const { model, ds, file } = await loadModelFor(values, be, true);
  try {
    return await runEval(values, { model, data: ds!, userIds: ds!.userIds ?? file.userIds }, { json: c.json, log: (line) => progress(c, line, true) });
  } finally {
    model.dispose();
    be.destroy();
  }
}

async function cmdRecommend(values: Record<string, unknown>, c: Common) {
  const req = recommendRequest(values);
  const be = await backendFor(c);
  const { model, file, train } = await loadModelFor(values, be, false);
  try {
    return await runRecommend(req, { model, train, userIds: file.userIds, itemIds: file.itemIds }, { json: c.json, progress: c.progress, stdout: writeStdout });
  } finally {
    model.dispose();
    be.destroy();
  }
}

async function cmdLoss(values: Record<string, unknown>, c: Common) {
  const be = await backendFor(c);
  const { model } = await loadModelFor(values, be, true);
  if (!values.batch) throw new IrllrecError('range', '--batch FILE is required');
  const batchPath = String(values.batch);
  const batch = parseBatchFile(await readBoundedText(batchPath, MAX_BATCH_FILE_BYTES, 'batch file'), batchPath, model.numUsers, model.numItems);
  // As the reference's cal_loss: the teacher's EMA update happens first, inside the loss computation.
  const losses = await model.loss(batch, { noiseSeed: Number(values.seed ?? 2023), updateTeacher: true });
  progress(c, Object.entries(losses).map(([k, v]) => `${k} ${fmt(v)}`).join('  '), true);
  model.dispose();
  be.destroy();
  return { batch: batch.users.length, ...losses };
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '--version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (cmd === 'help' && rest.length > 0) return printHelp(rest[0]);
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        data: { type: 'string' },
        synthetic: { type: 'boolean' },
        model: { type: 'string' },
        epochs: { type: 'string' },
        patience: { type: 'string' },
        'eval-every': { type: 'string' },
        preset: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        'max-steps': { type: 'string' },
        init: { type: 'string' },
        'batch-size': { type: 'string' },
        lr: { type: 'string' },
        'random-text': { type: 'string' },
        split: { type: 'string' },
        user: { type: 'string' },
        users: { type: 'string' },
        chunk: { type: 'string' },
        metrics: { type: 'string' },
        'per-user': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        k: { type: 'string', short: 'k' },
        batch: { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
        verbose: { type: 'boolean' }, // handled in bin.ts (Dawn's native warnings)
        backend: { type: 'string' },
        config: { type: 'string' },
        profile: { type: 'boolean' },
        'profile-memory': { type: 'boolean' },
        'max-memory': { type: 'string' },
        space: { type: 'string' },
        trials: { type: 'string' },
        budget: { type: 'string' },
        study: { type: 'string' },
        eta: { type: 'string' },
        checkpoint: { type: 'string' },
        resume: { type: 'boolean' },
      },
      allowPositionals: false,
    });
  } catch (e) {
    process.stderr.write(`irllrec: ${terminalSafe((e as Error).message, true)}\n\n${USAGE}`);
    return 2;
  }
  const values = parsed.values as Record<string, unknown>;
  if (values.help) return printHelp(cmd);
  const optionError = checkOptions(values);
  if (optionError) {
    process.stderr.write(`irllrec ${cmd}: ${optionError}\n`);
    return 2;
  }
  const c: Common = { json: Boolean(values.json), quiet: Boolean(values.quiet), backend: (values.backend as Common['backend']) ?? 'auto', progress: new Progress({ quiet: Boolean(values.quiet) }) };
  for (const key of ['epochs', 'seed', 'max-steps', 'batch-size', 'random-text', 'patience', 'eval-every', 'trials', 'eta']) {
    if (values[key] !== undefined && !/^\d+$/.test(String(values[key]))) {
      process.stderr.write(`irllrec: --${key} must be a non-negative integer, got '${terminalSafe(String(values[key]))}'\n`);
      return 2;
    }
  }
  if (values.lr !== undefined && !(Number(values.lr) > 0 && Number.isFinite(Number(values.lr)))) {
    process.stderr.write(`irllrec: --lr must be a positive number, got '${terminalSafe(String(values.lr))}'\n`);
    return 2;
  }
  const commands: Record<string, (v: Record<string, unknown>, c: Common) => Promise<Record<string, unknown>>> = {
    train: cmdTrain,
    eval: cmdEval,
    recommend: cmdRecommend,
    loss: cmdLoss,
    tune: (v) => cmdTune(v, { loadData: (values, seed) => loadData(values, seed, c), backend: () => backendFor(c), progress: (line, final) => progress(c, line, final), synthetic: SYNTHETIC_DEFAULTS }),
  };
  const run = commands[cmd];
  if (!run) {
    process.stderr.write(`irllrec: unknown command '${terminalSafe(cmd)}'\n\n${USAGE}`);
    return 2;
  }
  try {
    const result = await run(values, c);
    if (c.json) process.stdout.write(`${terminalSafeJson(result)}\n`);
    return 0;
  } catch (e) {
    // Errors from bad input are IrllrecErrors; anything else is a bug and is labelled as one.
    const msg = e instanceof IrllrecError ? e.message : `unexpected ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} (a bug: please report it)`;
    process.stderr.write(`\nirllrec ${cmd}: error: ${terminalSafe(msg, true)}\n`);
    return 1;
  }
}

/** `irllrec help COMMAND` and `irllrec COMMAND --help`: exit 0, or 2 for a command that does not exist. */
function printHelp(cmd: string): number {
  const text = commandUsage(USAGE, cmd);
  if (text === null) {
    process.stderr.write(`irllrec: unknown command '${cmd}'\n\n${USAGE}`);
    return 2;
  }
  process.stdout.write(text);
  return 0;
}
