/**
 * `irllrec tune`: a hyper-parameter study (src/train/tune.ts) from the command line. Every flag, the search
 * space and the output paths are checked before the data are loaded and before any trial runs. The study's
 * state goes to --study DIR/study.json after every run (run the same command again to resume it); at the end
 * the trials go to trials.json and trials.md (in the study directory, else next to --out as
 * BEST.trials.json / BEST.trials.md) and the best run configuration to --out.
 */
import { access, constants, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Dataset } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import { MODEL_NAMES, type ModelKind, PRESET_NAMES, type PresetName, canonicalKind } from '../models/config.js';
import type { Backend } from '../ops/tensor.js';
import { type SearchSpace, type StudyProgress, parseSearchSpace, tune } from '../train/tune.js';
import { writeFileAtomic } from './files.js';
import { fileStudyStore, writeStudyReports } from './study.js';

/** What `irllrec tune` borrows from the other commands (cli.ts). */
export interface TuneCliContext {
  loadData(values: Record<string, unknown>, seed: number): Promise<Dataset>;
  backend(): Promise<Backend>;
  /** A progress line on stderr (`final`: kept, also when stderr is not a terminal). */
  progress(line: string, final?: boolean): void;
  /** Trainer defaults of the built-in synthetic data (batch, lr, epochs). */
  synthetic: { epochs: number; batchSize: number; lr: number };
}

const MAX_SPACE_BYTES = 1 << 20;

async function readSpace(path: string, kind: ModelKind): Promise<SearchSpace> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new IrllrecError('io', `--space ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  if (!st.isFile()) throw new IrllrecError('io', `--space ${path}: not a regular file`);
  if (st.size > MAX_SPACE_BYTES) throw new IrllrecError('io', `--space ${path}: ${st.size} bytes, more than the ${MAX_SPACE_BYTES} a search space may have`);
  let obj: unknown;
  try {
    obj = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new IrllrecError('format', `${path}: not valid JSON: ${(e as Error).message}`);
  }
  return parseSearchSpace(obj, path, kind);
}

async function writableDir(dir: string, what: string): Promise<void> {
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new IrllrecError('io', `${what}: directory ${dir} does not exist`);
  await access(dir, constants.W_OK).catch(() => {
    throw new IrllrecError('io', `${what}: directory ${dir} is not writable`);
  });
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const r = Math.round(s);
  return r >= 3600 ? `${Math.floor(r / 3600)}h${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}m` : r >= 60 ? `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s` : `${r}s`;
}

function progressLine(p: StudyProgress): string {
  const t = p.trial;
  const r = t.rungs[t.rungs.length - 1];
  const what =
    t.status === 'failed' ? `failed: ${t.error}` : t.status === 'stopped' ? 'stopped by the budget' : `val recall@20 ${r.recall.toFixed(4)} ndcg@20 ${r.ndcg.toFixed(4)}${r.stoppedEarly ? ' (stopped early)' : ''}`;
  const best = p.best ? `best ${p.best.recall.toFixed(4)} (trial ${p.best.trial})` : 'no best yet';
  return `[${p.runsDone}/${p.runsTotal} runs, ${p.trialsFinished}/${p.trials} trials] trial ${t.id} rung ${p.rung}: ${what} · ${best} · ${duration(p.elapsedSeconds)} elapsed · ETA ${p.etaSeconds === null ? '?' : duration(p.etaSeconds)}`;
}

export async function cmdTune(values: Record<string, unknown>, ctx: TuneCliContext): Promise<Record<string, unknown>> {
  for (const k of ['config', 'init', 'max-steps', 'profile', 'split', 'user', 'batch', 'k']) {
    if (values[k] !== undefined) throw new IrllrecError('range', `tune: --${k} is not an option of 'irllrec tune'`);
  }
  const kind = canonicalKind(values.model);
  if (!kind) throw new IrllrecError('range', `tune: --model must be one of ${MODEL_NAMES.join(', ')}, got ${values.model === undefined ? 'nothing' : `'${values.model}'`}`);
  const preset = values.preset as PresetName | undefined;
  if (preset !== undefined && !PRESET_NAMES.includes(preset)) throw new IrllrecError('range', `tune: --preset must be one of ${PRESET_NAMES.join(', ')}, got '${preset}'`);
  if (!values.out) throw new IrllrecError('range', 'tune: --out BEST.json is required (the best run configuration is written there)');
  const out = resolve(String(values.out));
  await writableDir(dirname(out), `--out ${values.out}`);
  if ((await stat(out).catch(() => null))?.isDirectory()) throw new IrllrecError('io', `--out ${values.out} is a directory; give a file name such as best.json`);
  const budget = values.budget === undefined ? Infinity : Number(values.budget);
  if (!(budget > 0)) throw new IrllrecError('range', `tune: --budget must be a positive number of seconds, got '${values.budget}'`);
  const space = values.space ? await readSpace(String(values.space), kind) : undefined;
  const studyDir = values.study ? resolve(String(values.study)) : null;
  if (studyDir) {
    await mkdir(studyDir, { recursive: true }).catch((e: Error) => {
      throw new IrllrecError('io', `--study ${values.study}: ${e.message}`);
    });
    await writableDir(studyDir, `--study ${values.study}`);
  }
  const flag = (name: string) => (values[name] !== undefined ? Number(values[name]) : undefined);
  const seed = flag('seed') ?? 2023;
  const ds = await ctx.loadData(values, seed);
  const synth = ds.name === 'synthetic' ? ctx.synthetic : null;
  const be = await ctx.backend();
  const ctl = new AbortController();
  const onSigint = () => {
    ctx.progress('tune: interrupted; saving the study state (run the same command again to resume)', true);
    ctl.abort();
  };
  process.once('SIGINT', onSigint);
  const store = studyDir ? fileStudyStore(studyDir) : undefined;
  const previous = await store?.load();
  if (Array.isArray(previous?.trials)) ctx.progress(`tune: resuming ${studyDir}: ${previous.trials.reduce((a, t) => a + (t.rungs?.length ?? 0), 0)} runs done, ${Number(previous.elapsedSeconds).toFixed(1)} s spent`, true);
  ctx.progress(`irllrec tune: ${kind} on ${ds.name} (${ds.numUsers} users, ${ds.numItems} items) — backend ${be.name}${Number.isFinite(budget) ? ` — budget ${duration(budget)}` : ''}${studyDir ? ` — study ${studyDir}` : ''}`, true);
  try {
    const r = await tune(be, ds, {
      model: kind,
      preset,
      space,
      trials: flag('trials'),
      eta: flag('eta'),
      epochs: flag('epochs') ?? synth?.epochs,
      patience: flag('patience'),
      evalEvery: flag('eval-every'),
      batchSize: flag('batch-size') ?? synth?.batchSize,
      lr: flag('lr') ?? synth?.lr,
      seed,
      budgetSeconds: budget,
      store,
      signal: ctl.signal,
      onProgress: (p) => ctx.progress(progressLine(p), true),
    });
    const reports = await writeStudyReports(studyDir ? `${studyDir}/` : `${out.replace(/\.json$/i, '')}.`, r);
    if (!r.best) throw new IrllrecError('limit', `tune: no trial finished its first rung (${r.stopped}); nothing written to ${values.out} (trials in ${reports.markdown})`);
    await writeFileAtomic(out, `${JSON.stringify(r.best.runConfig, null, 1)}\n`);
    ctx.progress(`tune: ${r.stopped}; best trial ${r.best.trial}: val recall@20 ${r.best.recall.toFixed(4)} ndcg@20 ${r.best.ndcg.toFixed(4)} → ${values.out} (train it with: irllrec train --config ${values.out}); trials in ${reports.markdown}`, true);
    return { model: kind, dataset: ds.name, backend: be.name, stopped: r.stopped, runs: r.runs, elapsedSeconds: r.state.elapsedSeconds, best: r.best, out, trialsJson: reports.json, trialsMarkdown: reports.markdown, study: studyDir, trials: r.trials };
  } finally {
    process.removeListener('SIGINT', onSigint);
    be.destroy();
  }
}
