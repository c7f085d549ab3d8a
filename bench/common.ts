/**
 * Shared helpers of the benchmark scripts (`bench/kernels.ts`, `bench/train.ts`): timing with warm-up and the
 * median of several runs, the adapter's name, the machine's load, seeded random inputs and stand-in text
 * embeddings, and the JSON / markdown result writers (bench/results/<name>.{json,md}).
 *
 * GPU timing model: a call's work is recorded `reps` times into one recording, submitted once and awaited
 * (`be.flush()` = submit + onSubmittedWorkDone); ms per call = wall time / reps. That is what a training step
 * sees (one submission per step), including the submit and queue round trip amortised over `reps`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import type { Matrix, TextEmbeddings } from '../src/data/types.js';
import type { KernelTiming, Profiler } from '../src/gpu/profiler.js';
import type { Backend, WebGpuBackend } from '../src/ops/tensor.js';
import { Rng } from '../src/util/random.js';

/** The shared datasets folder: $IRLLREC_SHARED_DATA, else ../shared/data (run from the repository root). */
export const DATA_ROOT = process.env.IRLLREC_SHARED_DATA ?? '../shared/data';

// ------------------------------------------------------------------------------------------------
// Machine and adapter

export interface MachineInfo {
  adapter: string;
  software: boolean;
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  /** 1-, 5- and 15-minute load averages when the run started. */
  loadStart: number[];
}

/** The adapter's name (or the CPU backend's) and whether it is a CPU emulator. */
export function adapterOf(be: Backend): { name: string; software: boolean } {
  if (be.kind !== 'webgpu') return { name: be.name, software: true };
  const g = be as WebGpuBackend;
  return { name: g.ctx.adapter.name, software: g.ctx.adapter.isSoftware };
}

/** The 1-, 5- and 15-minute load averages, rounded to 2 decimals. */
export function load(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

export function machineInfo(be: Backend): MachineInfo {
  const a = adapterOf(be);
  const c = cpus();
  return {
    adapter: a.name,
    software: a.software,
    date: new Date().toISOString(),
    node: process.version,
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    loadStart: load(),
  };
}

/** Markdown header lines: adapter, date, machine, load. */
export function headerLines(title: string, m: MachineInfo, extra: string[] = []): string[] {
  return [
    `# ${title}`,
    '',
    `- adapter: **${m.adapter}**${m.software ? ' (software / CPU emulator)' : ''}`,
    `- date: ${m.date}`,
    `- machine: ${m.cpus} × ${m.cpuModel}, Node ${m.node}`,
    `- load average (1/5/15 min) at start: ${m.loadStart.join(' / ')}; at end: ${load().join(' / ')} (${m.cpus} cores shared with other work: timings are noisy)`,
    ...extra.map((e) => `- ${e}`),
  ];
}

// ------------------------------------------------------------------------------------------------
// Timing

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

export interface Timing {
  /** Median over runs of (run wall time / reps), in milliseconds. */
  ms: number;
  /** Each run's ms per call. */
  runs: number[];
  /** Calls per run. */
  reps: number;
  /** Wall time of the warm-up call (GPU: includes pipeline compilation). */
  warmupMs: number;
  /** Whether one call took longer than `heavyMs` (then fewer runs were taken). */
  heavy: boolean;
  /** Timestamp-query GPU time per call (GPU with a profiler only). */
  timestampMs?: number | null;
  /** Per-kernel timestamp breakdown per call. */
  kernels?: KernelTiming[] | null;
}

export interface TimingOptions {
  /** Median of this many timed runs (default 3). */
  runs?: number;
  /** Calls per run; default: chosen from an estimate so that a run lasts about `targetMs`. */
  reps?: number;
  /** Target duration of one timed run when `reps` is not given (default 300 ms). */
  targetMs?: number;
  /** Upper bound on the chosen reps (default 50). */
  maxReps?: number;
  /** A call longer than this (ms) is "heavy": only `heavyRuns` runs are taken (default 3000 ms). */
  heavyMs?: number;
  /** Runs for heavy calls (default 2). */
  heavyRuns?: number;
}

export interface GpuTimingOptions extends TimingOptions {
  /**
   * Warm-up instead of one call of `record` (e.g. the same op on a small shape: compiles the same pipelines
   * without paying for a full-size call).
   */
  warmup?: () => void;
  /** Also take one run with timestamp queries; for heavy calls it counts as one of the timed runs. */
  profiler?: GpuProfiler | null;
}

function now(): number {
  return performance.now();
}

/** Calls per run so that a run lasts about targetMs, from an estimate of one call. */
function chooseReps(estimateMs: number, o: TimingOptions): number {
  if (o.reps !== undefined) return o.reps;
  const target = o.targetMs ?? 300;
  return Math.max(1, Math.min(o.maxReps ?? 50, Math.round(target / Math.max(estimateMs, 1e-3))));
}

/**
 * GPU time per call of `record` (which only records work): a warm-up (compiles the pipelines), one timed
 * estimate call, then runs of `reps` calls recorded into one submission and awaited with `be.flush()`. When
 * reps = 1 the estimate call is the first run (it is past compilation). Heavy calls get `heavyRuns` runs.
 */
export async function timeGpu(be: Backend, record: () => void, o: GpuTimingOptions = {}): Promise<Timing> {
  let t = now();
  (o.warmup ?? record)();
  await be.flush();
  const warmupMs = now() - t;
  t = now();
  record();
  await be.flush();
  const estimate = now() - t;
  const reps = chooseReps(estimate, o);
  const heavy = estimate >= (o.heavyMs ?? 3000);
  const wanted = heavy ? Math.min(o.runs ?? 3, o.heavyRuns ?? 2) : (o.runs ?? 3);
  const runs: number[] = reps === 1 ? [estimate] : [];
  const profiled = o.profiler?.available ? o.profiler : null;
  const plainRuns = heavy && profiled ? wanted - 1 : wanted;
  while (runs.length < plainRuns) {
    t = now();
    for (let i = 0; i < reps; i++) record();
    await be.flush();
    runs.push((now() - t) / reps);
  }
  let timestampMs: number | null = null;
  let kernels: KernelTiming[] | null = null;
  if (profiled) {
    const p = await profiled.measure(record, reps);
    if (p) {
      timestampMs = p.ms;
      kernels = p.kernels;
      if (heavy && runs.length < wanted) runs.push(p.wallMs);
    }
  }
  return { ms: median(runs), runs, reps, warmupMs, heavy, timestampMs, kernels };
}

/** Synchronous CPU time per call of `fn` (the CPU twins run synchronously), same protocol as `timeGpu`. */
export function timeCpu(fn: () => void, o: TimingOptions = {}): Timing {
  let t = now();
  fn();
  const warmupMs = now() - t;
  t = now();
  fn();
  const estimate = now() - t;
  const reps = chooseReps(estimate, o);
  const heavy = estimate >= (o.heavyMs ?? 3000);
  const wanted = heavy ? Math.min(o.runs ?? 3, o.heavyRuns ?? 2) : (o.runs ?? 3);
  const runs: number[] = reps === 1 ? [estimate] : [];
  while (runs.length < wanted) {
    t = now();
    for (let i = 0; i < reps; i++) fn();
    runs.push((now() - t) / reps);
  }
  return { ms: median(runs), runs, reps, warmupMs, heavy };
}

/**
 * Timestamp-query GPU time of `reps` calls of `record` (one submission), per call, with the per-kernel
 * breakdown; null when the device has no 'timestamp-query'. Profiling puts every dispatch in its own
 * compute pass, so it is switched on only around this run (the wall-clock timings are taken without it).
 */
export class GpuProfiler {
  private readonly g: WebGpuBackend;
  private readonly prof: Profiler | null;

  constructor(be: Backend) {
    this.g = be as WebGpuBackend;
    let prof: Profiler | null = null;
    if (be.kind === 'webgpu' && this.g.ctx.features.has('timestamp-query')) {
      prof = this.g.recorder.enableProfiling();
      this.g.recorder.profiler = null; // off until `measure`
    }
    this.prof = prof;
  }

  get available(): boolean {
    return this.prof !== null;
  }

  /**
   * Timestamp GPU time per call over `reps` calls in one submission, the per-kernel breakdown per call, and
   * the run's wall time per call; null without a profiler.
   */
  async measure(record: () => void, reps: number): Promise<{ ms: number; wallMs: number; kernels: KernelTiming[]; untimed: number } | null> {
    if (!this.prof) return null;
    await this.g.flush();
    this.prof.reset();
    this.g.recorder.profiler = this.prof;
    let wallMs: number;
    try {
      const t = now();
      for (let i = 0; i < reps; i++) record();
      await this.g.flush();
      wallMs = (now() - t) / reps;
    } finally {
      this.g.recorder.profiler = null;
    }
    const kernels = (await this.prof.report()).map((k) => ({ ...k, ms: k.ms / reps, calls: k.calls / reps }));
    return { ms: kernels.reduce((s, k) => s + k.ms, 0), wallMs, kernels, untimed: this.prof.untimed };
  }

  /** Hand the profiler back to the recorder so that `be.destroy()` releases its query set. */
  dispose(): void {
    if (this.prof) this.g.recorder.profiler = this.prof;
  }
}

// ------------------------------------------------------------------------------------------------
// Seeded inputs

/** n values uniform in [lo, hi) from a seeded stream. */
export function randomArray(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng.next();
  return a;
}

/** n values N(0, std²) from a seeded stream. */
export function normalArray(rng: Rng, n: number, std = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = std * rng.normal();
  return a;
}

/** n ids uniform in [0, bound). */
export function randomIds(rng: Rng, n: number, bound: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(bound);
  return a;
}

/** A rows × dim matrix with entries N(0, 1/dim) (rows of expected unit norm), seeded. */
export function randomTextMatrix(rows: number, dim: number, seed: number): Matrix {
  return { rows, cols: dim, data: normalArray(new Rng(seed), rows * dim, 1 / Math.sqrt(dim)) };
}

/**
 * Seeded random stand-ins for the LLM text embeddings of a dataset whose real ones are not public: user and
 * item profile (and, with `intents`, intent) matrices with entries N(0, 1/dim). Good for speed and memory,
 * meaningless for accuracy.
 */
export function randomTextEmbeddings(numUsers: number, numItems: number, dim: number, seed: number, opts: { intents?: boolean } = {}): TextEmbeddings {
  const t: TextEmbeddings = {
    userProfile: randomTextMatrix(numUsers, dim, seed),
    itemProfile: randomTextMatrix(numItems, dim, seed + 1),
  };
  if (opts.intents ?? true) {
    t.userIntent = randomTextMatrix(numUsers, dim, seed + 2);
    t.itemIntent = randomTextMatrix(numItems, dim, seed + 3);
  }
  return t;
}

// ------------------------------------------------------------------------------------------------
// Formatting and results

/** A number with about 3 significant digits (fixed notation for ordinary magnitudes). */
export function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-3) return x.toExponential(digits - 1);
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(a)));
  return x.toFixed(Math.min(decimals, 6));
}

export function mib(bytes: number): number {
  return bytes / (1024 * 1024);
}

/** A GitHub-flavoured markdown table. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cell = (v: string | number) => String(v).replace(/\|/g, '\\|');
  const lines = [`| ${headers.map(cell).join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.map(cell).join(' | ')} |`);
  return lines.join('\n');
}

let outDir: string | null = null;

/** Send the results to `dir` (a benchmark's `--out DIR`) instead of bench/results; undefined keeps the default. */
export function setResultsDir(dir: string | undefined): void {
  if (dir !== undefined) outDir = resolve(dir);
}

/** The results folder: `--out DIR`, else bench/results under the working directory (the scripts run from the repo root). */
export function resultsDir(): string {
  return outDir ?? resolve(process.cwd(), 'bench', 'results');
}

/** Print `markdown` and write bench/results/<name>.md and bench/results/<name>.json. */
export function writeResults(name: string, markdown: string, json: unknown): { md: string; json: string } {
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const md = resolve(dir, `${name}.md`);
  const js = resolve(dir, `${name}.json`);
  writeFileSync(md, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  writeFileSync(js, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`${markdown}\n\nwrote ${md}\nwrote ${js}\n`);
  return { md, json: js };
}

/** A progress line on stderr (stdout carries the table). */
export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Comma-separated list flag. */
export function listFlag(v: unknown, fallback: string[]): string[] {
  if (v === undefined || v === null || v === '') return fallback;
  return String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Integer flag (throws a readable error on garbage). */
export function intFlag(v: unknown, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got '${String(v)}'`);
  return n;
}
