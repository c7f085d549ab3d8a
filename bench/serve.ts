/**
 * Serving latency on this machine's WebGPU adapter, next to the CPU backend in the same run.
 *
 *   node bench/run.mjs bench/serve.ts [--data-root DIR (default: $IRLLREC_SHARED_DATA, else ../shared/data)] [--datasets movielens,amazon | none]
 *        [--runs 5] [--users 1000] [--items 10] [--catalogues 10000,100000,1000000 | none] [--scale-users 10000]
 *        [--text-dim 1536] [--binding-mib 128] [--max-work 200000000] [--out DIR] [--quick]
 *
 * Per dataset (the real catalogue and training graph; a randomly initialised LightGCN model, d = 32, L = 3,
 * which is enough for latency), the model file is written once (`serializeModel`, with the training
 * interactions) and then, on each backend:
 *
 *  - load          `Recommender.load(bytes)`: parse, upload, E_fin propagation, tables (first call, which
 *                  compiles the pipelines, reported apart from the median of the following ones);
 *  - recommend ×1  one user, k = 20, training items excluded (a different user each run; 'auto' scoring picks
 *                  the fused kernel for so few rows);
 *  - recommend ×U  U users (default 1,000, repeating on smaller catalogues) in one call, with 'matmul'
 *                  scoring (GEMM score block + top-K, what 'auto' picks) and with the fused kernel;
 *  - similarItems  one item, k = 20, cosine;
 *  - personalize   fold-in from `--items` items (10) with the default 40 Adam steps, and with 0 steps (the
 *                  mean-of-items initialisation alone), each followed by nothing else;
 *  - personalize+text (movielens only, which has real 512-d text): an RLMRec model with the users' profile
 *                  embeddings, the same fold-in plus the kd text alignment.
 *
 * Wall-clock milliseconds (performance.now around the awaited call: recording, submission, GPU work and the
 * readback of ids and scores), median of `--runs` runs after one warm-up call.
 *
 * Then, on the WebGPU backend only, what bounds `recommend` for ONE user (k = 20, training items excluded): the
 * same steps as `Recommender.recommend` done one at a time on its tables, each a median of `--breakdown-runs`
 * (default 21) runs interleaved round-robin so that load from other processes hits them alike:
 *  - empty submit + onSubmittedWorkDone (the queue round trip), a 1-element readback (copy + submit + mapAsync);
 *  - recording + submit, the synchronous part (query row copy, exclusion CSR upload, output tensors, the
 *    dispatch, queue.submit; no wait; lavapipe runs the GPU work inside submit, so this includes the kernel);
 *  - the scoring + top-20 kernel alone (fused `scoreTopK`; and GEMM + `topK` for comparison), inputs resident,
 *    flushed (includes one queue round trip);
 *  - the readback of the ids and scores as `recommend` does it (two reads) and as one read of 2k elements;
 *  - all steps in sequence as `recommend` does them, and a leaner sequence (one readback).
 * Output: a markdown table on stdout and in bench/results/serve.md, the raw numbers in bench/results/serve.json.
 *
 * Serving curves (`--catalogues`): how the cost grows with the catalogue. Per catalogue size n, a synthetic
 * training set of `--scale-users` users (10,000) with 20 items each (half of them among the 1% most popular
 * items), and two random-init models with d = 32, L = 3: LightGCN (no intents) and a ranking-only IRLLRec
 * (128 intent prototypes, `--text-dim` 1536-d text towers: what serving keeps for `explain` and text-aware
 * `personalize`). Each model is written once and, on a fresh WebGPU device whose storage bindings and buffers
 * are capped at `--binding-mib` (128 MiB, the WebGPU default every adapter grants; 0 = the adapter's own
 * limits) and on the CPU backend: load (first call, then the median), the tables it keeps (MiB) and on the GPU
 * the buffer pool's live, pooled-but-free and peak bytes, recommend for one user (k = 20, 'auto'), recommend for
 * `--users` users in one call ('auto'), similarItems (k = 20, cosine), personalize (10 items, 40 steps). Runs
 * per measurement: `--runs` up to 10⁵ items, fewer above (one at 10⁶). On a software adapter and on the CPU
 * backend the many-user call is capped at `--max-work` user × item scores (2·10⁸: 200 users at 10⁶ items,
 * 20–40 s each on lavapipe and in the single-threaded CPU twin instead of several minutes); the table gives the
 * users measured and the time per 1,000 users (linear in the users: the work is the same per block of users).
 * Output: bench/results/serve-scale.{md,json} and a log-log plot bench/results/serve-scale.svg.
 *
 * `--out DIR` writes the results to DIR instead of bench/results; `--quick` (bench/gpu.sh) sets --runs 3,
 * --breakdown-runs 5, --datasets amazon and --max-work 5·10⁷ (50 users at 10⁶ items where capped).
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Dataset } from '../src/data/types.js';
import { serializeModel } from '../src/io/modelfile.js';
import { buildGraph } from '../src/data/graph.js';
import type { Interactions } from '../src/data/types.js';
import { modelConfig } from '../src/models/config.js';
import { RecModel } from '../src/models/model.js';
import { createBackend, loadDatasetDir } from '../src/node/index.js';
import { csrTensor, disposeCsr } from '../src/ops/spmm.js';
import { matmul } from '../src/ops/dense.js';
import { type Backend, CpuBackend, type Tensor, type WebGpuBackend } from '../src/ops/tensor.js';
import { scoreTopK, topK } from '../src/ops/topk.js';
import { Recommender } from '../src/serve/recommender.js';
import { createModel } from '../src/train/trainer.js';
import { Rng } from '../src/util/random.js';
import { writeFileSync } from 'node:fs';
import { DATA_ROOT, adapterOf, fmt, headerLines, intFlag, listFlag, log, machineInfo, markdownTable, median, mib, resultsDir, setResultsDir, writeResults } from './common.js';
import { logLogSvg } from './plot.js';

const { values: flags } = parseArgs({
  options: {
    'data-root': { type: 'string' },
    datasets: { type: 'string' },
    runs: { type: 'string' },
    users: { type: 'string' },
    items: { type: 'string' },
    'breakdown-runs': { type: 'string' },
    catalogues: { type: 'string' },
    'scale-users': { type: 'string' },
    'text-dim': { type: 'string' },
    'binding-mib': { type: 'string' },
    'max-work': { type: 'string' },
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = flags.quick === true;
setResultsDir(flags.out);
const dataRoot = resolve(String(flags['data-root'] ?? DATA_ROOT));
const datasets = listFlag(flags.datasets, quick ? ['amazon'] : ['movielens', 'amazon']).filter((d) => d !== 'none');
const runs = Math.max(1, intFlag(flags.runs, quick ? 3 : 5, 'runs'));
const manyUsers = intFlag(flags.users, 1000, 'users');
const foldInItems = intFlag(flags.items, 10, 'items');
const breakdownRuns = intFlag(flags['breakdown-runs'], quick ? 5 : 21, 'breakdown-runs');
const catalogues = listFlag(flags.catalogues, ['10000', '100000', '1000000'])
  .filter((c) => c !== 'none')
  .map((c) => intFlag(c, 0, 'catalogues'));
const scaleUsers = intFlag(flags['scale-users'], 10_000, 'scale-users');
const scaleTextDim = intFlag(flags['text-dim'], 1536, 'text-dim');
const bindingMib = intFlag(flags['binding-mib'], 128, 'binding-mib');
const maxWork = intFlag(flags['max-work'], quick ? 50_000_000 : 200_000_000, 'max-work');

interface Measure {
  /** Median wall time over the runs after the warm-up. */
  ms: number;
  /** The warm-up call (pipeline compilation included on the GPU). */
  firstMs: number;
  runs: number[];
}

async function measure(n: number, call: (run: number) => Promise<unknown>, warmUp: () => Promise<unknown> = () => call(-1)): Promise<Measure> {
  let t = performance.now();
  await warmUp();
  const firstMs = performance.now() - t;
  const times: number[] = [];
  for (let r = 0; r < n; r++) {
    t = performance.now();
    await call(r);
    times.push(performance.now() - t);
  }
  return { ms: median(times), firstMs, runs: times };
}

interface Row {
  dataset: string;
  backend: string;
  adapter: string;
  numUsers: number;
  numItems: number;
  trainPairs: number;
  fileBytes: number;
  load: Measure;
  recommendOne: Measure;
  recommendMany: Measure & { users: number };
  recommendManyFused: Measure & { users: number };
  similarItems: Measure;
  personalize: Measure & { items: number; steps: number };
  foldInOnly: Measure & { items: number };
  personalizeText?: Measure & { items: number; steps: number; textDim: number };
}

/** Item lists for fold-in: `count` distinct random items per run. */
function itemLists(rng: Rng, numItems: number, count: number, lists: number): Uint32Array[] {
  return Array.from({ length: lists }, () => {
    const s = new Set<number>();
    while (s.size < Math.min(count, numItems - 1)) s.add(rng.int(numItems));
    return Uint32Array.from(s);
  });
}

async function benchOne(ds: Dataset, be: Backend, bytes: Uint8Array, textBytes: Uint8Array | null): Promise<Row> {
  const rng = new Rng(7);
  const label = `${ds.name} on ${be.name}`;
  log(`${label}: load`);
  const load = await measure(runs, async () => (await Recommender.load(bytes, { backend: be })).dispose());
  const rec = await Recommender.load(bytes, { backend: be });
  const users = Uint32Array.from({ length: runs + 1 }, () => rng.int(ds.numUsers));
  log(`${label}: recommend`);
  const recommendOne = await measure(runs, (r) => rec.recommend(users[r + 1], { k: 20 }));
  // U users (repeating when the catalogue has fewer).
  const many = Uint32Array.from({ length: manyUsers }, (_, i) => (i * 7919) % ds.numUsers);
  const recommendMany = { ...(await measure(Math.min(runs, 3), () => rec.recommend(many, { k: 20, scoring: 'matmul' }))), users: many.length };
  const recommendManyFused = { ...(await measure(Math.min(runs, 3), () => rec.recommend(many, { k: 20, scoring: 'fused' }))), users: many.length };
  const similarItems = await measure(runs, (r) => rec.similarItems((r + 1) * 37 % ds.numItems, 20));
  log(`${label}: personalize`);
  const lists = itemLists(rng, ds.numItems, foldInItems, runs + 1);
  const personalize = { ...(await measure(runs, async (r) => (await rec.personalize({ items: lists[r + 1] })).dispose())), items: foldInItems, steps: 40 };
  const foldInOnly = { ...(await measure(runs, async (r) => (await rec.personalize({ items: lists[r + 1], steps: 0 })).dispose())), items: foldInItems };
  rec.dispose();
  const row: Row = {
    dataset: ds.name,
    backend: be.kind,
    adapter: adapterOf(be).name,
    numUsers: ds.numUsers,
    numItems: ds.numItems,
    trainPairs: ds.train.users.length,
    fileBytes: bytes.length,
    load,
    recommendOne,
    recommendMany,
    recommendManyFused,
    similarItems,
    personalize,
    foldInOnly,
  };
  if (textBytes && ds.text.userProfile) {
    log(`${label}: personalize with text`);
    const up = ds.text.userProfile;
    const trec = await Recommender.load(textBytes, { backend: be, userProfiles: up });
    // A person's own text: here a training user's profile embedding stands in for it.
    const text = (r: number) => up.data.subarray(((r + 1) % up.rows) * up.cols, (((r + 1) % up.rows) + 1) * up.cols);
    row.personalizeText = { ...(await measure(runs, async (r) => (await trec.personalize({ items: lists[r + 1], textEmbedding: text(r) })).dispose())), items: foldInItems, steps: 40, textDim: up.cols };
    trec.dispose();
  }
  return row;
}

/** Median milliseconds of each step over `n` rounds, the steps interleaved round-robin (after one warm-up round). */
async function interleaved(n: number, steps: Record<string, () => Promise<unknown>>): Promise<Record<string, number>> {
  const names = Object.keys(steps);
  const times: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (let r = -1; r < n; r++) {
    for (const k of names) {
      const t = performance.now();
      await steps[k]();
      if (r >= 0) times[k].push(performance.now() - t);
    }
  }
  return Object.fromEntries(names.map((k) => [k, median(times[k])]));
}

interface Breakdown {
  dataset: string;
  numItems: number;
  /** Median ms per step (see the header comment). */
  ms: Record<string, number>;
}

/** What bounds `recommend` for one user: its steps one at a time on the Recommender's own tables. */
async function breakdownOne(ds: Dataset, be: WebGpuBackend, bytes: Uint8Array): Promise<Breakdown> {
  log(`${ds.name}: 1-user recommend breakdown`);
  const rec = await Recommender.load(bytes, { backend: be });
  const { users: userTable, items } = rec.tables;
  const d = userTable.cols;
  const k = 20;
  const rng = new Rng(11);
  const pick = () => rng.int(ds.numUsers);
  const device = be.ctx.device;
  const one = be.zeros([1], 'f32', 'bench.one');
  // A typical user's inputs, resident: query row, exclusion CSR, outputs.
  const u0 = pick();
  const q = be.zeros([1, d], 'f32', 'bench.query');
  be.copyRange(userTable, u0 * d, q, 0, d);
  const seen0 = rec.seenItems(u0);
  const ex = csrTensor(be, { rows: 1, cols: ds.numItems, rowPtr: Uint32Array.of(0, seen0.length), colIdx: seen0 }, 'bench.seen');
  const ids = be.zeros([1, k], 'u32', 'bench.ids');
  const vals = be.zeros([1, k], 'f32', 'bench.scores');
  const both = be.zeros([2 * k], 'u32', 'bench.idsAndScores');
  const block = be.zeros([1, ds.numItems], 'f32', 'bench.scoreBlock');
  await be.flush();
  /** The recording part of `recommend` for user u: fresh tensors as rankRows makes them, the dispatch, the submit. */
  const record = (u: number) => {
    const qq = be.zeros([1, d], 'f32', 'q');
    be.copyRange(userTable, u * d, qq, 0, d);
    const seen = rec.seenItems(u);
    const e = csrTensor(be, { rows: 1, cols: ds.numItems, rowPtr: Uint32Array.of(0, seen.length), colIdx: seen }, 'seen');
    const ii = be.zeros([1, k], 'u32', 'ids');
    const vv = be.zeros([1, k], 'f32', 'scores');
    scoreTopK(be, qq, items, k, ii, vv, { exclude: e, dropMasked: true });
    return { qq, e, ii, vv };
  };
  const release = (t: { qq: Tensor; e: ReturnType<typeof csrTensor>; ii: Tensor; vv: Tensor }) => {
    for (const x of [t.qq, t.ii, t.vv]) x.dispose();
    disposeCsr(t.e);
  };
  const ms = await interleaved(breakdownRuns, {
    'recommend ×1 (total)': () => rec.recommend(pick(), { k }),
    'empty submit + onSubmittedWorkDone': async () => {
      device.queue.submit([]);
      await device.queue.onSubmittedWorkDone();
    },
    '1-element readback': () => be.read(one),
    'scoreTopK kernel alone (flushed)': async () => {
      scoreTopK(be, q, items, k, ids, vals, { exclude: ex, dropMasked: true });
      await be.flush();
    },
    'GEMM + topK kernels alone (flushed)': async () => {
      matmul(be, q, items, block, { transB: true });
      topK(be, block, k, ids, vals, { exclude: ex, dropMasked: true });
      await be.flush();
    },
    'readback ids + scores (2 reads)': () => Promise.all([be.read(ids), be.read(vals)]),
    'readback ids + scores (1 read)': () => be.read(both),
    'recommend steps, as is': async () => {
      const t = record(pick());
      await Promise.all([be.read(t.ii), be.read(t.vv)]);
      release(t);
    },
    'recommend steps, one readback': async () => {
      const t = record(pick());
      const out = be.zeros([2 * k], 'u32', 'out');
      be.copyRange(t.ii, 0, out, 0, k);
      be.copyRange(t.vv, 0, out, k, k);
      await be.read(out);
      out.dispose();
      release(t);
    },
  });
  // Recording alone: time the synchronous part separately (the step above also waits).
  const rec0: number[] = [];
  for (let r = 0; r < breakdownRuns; r++) {
    const t0 = performance.now();
    const t = record(pick());
    be.submit();
    rec0.push(performance.now() - t0);
    release(t);
    await be.flush();
  }
  ms['recording + submit (sync part)'] = median(rec0);
  for (const t of [one, q, ids, vals, both, block]) t.dispose();
  disposeCsr(ex);
  rec.dispose();
  return { dataset: ds.name, numItems: ds.numItems, ms };
}

const gpuBe = await createBackend({ backend: 'webgpu' });
const cpuBe = new CpuBackend({ precision: 'f32' });
const machine = machineInfo(gpuBe);
log(`adapter: ${machine.adapter}${machine.software ? ' (software)' : ''}`);
const rows: Row[] = [];
const breakdowns: Breakdown[] = [];
const t0 = performance.now();
for (const name of datasets) {
  log(`loading ${name}`);
  const ds = await loadDatasetDir(join(dataRoot, name));
  // Random-init models (latency does not depend on training), written once on the CPU backend.
  const model = createModel(cpuBe, ds, { model: 'lightgcn', seed: 1 });
  const bytes = await serializeModel(model, { train: ds.train, datasetName: ds.name });
  model.dispose();
  let textBytes: Uint8Array | null = null;
  if (ds.text.userProfile && ds.text.itemProfile) {
    const rl = createModel(cpuBe, { ...ds, text: { userProfile: ds.text.userProfile, itemProfile: ds.text.itemProfile } }, { model: 'rlmrec', seed: 1 });
    textBytes = await serializeModel(rl, { train: ds.train, datasetName: ds.name });
    rl.dispose();
  }
  for (const be of [gpuBe, cpuBe] as Backend[]) rows.push(await benchOne(ds, be, bytes, textBytes));
  breakdowns.push(await breakdownOne(ds, gpuBe as WebGpuBackend, bytes));
}
const seconds = (performance.now() - t0) / 1000;

if (datasets.length > 0) {
  const table = markdownTable(
    ['dataset', 'backend', 'users × items', 'file MiB', 'load (first)', 'recommend ×1', `recommend ×${manyUsers}`, `×${manyUsers} fused`, 'similarItems', `personalize (${foldInItems} items, 40 steps)`, 'fold-in only', 'personalize + text'],
    rows.map((r) => [
      r.dataset,
      r.backend === 'webgpu' ? `webgpu (${r.adapter})` : 'cpu (f32)',
      `${r.numUsers} × ${r.numItems}`,
      fmt(r.fileBytes / 2 ** 20),
      `${fmt(r.load.ms)} (${fmt(r.load.firstMs)})`,
      fmt(r.recommendOne.ms),
      fmt(r.recommendMany.ms),
      fmt(r.recommendManyFused.ms),
      fmt(r.similarItems.ms),
      fmt(r.personalize.ms),
      fmt(r.foldInOnly.ms),
      r.personalizeText ? fmt(r.personalizeText.ms) : '–',
    ]),
  );
  const md = [
    ...headerLines('Serving latency (ms, wall clock, median)', machine, [
      `random-init LightGCN (d = 32, L = 3) per catalogue; RLMRec with the 512-d MovieLens profiles for "personalize + text"; median of ${runs} runs after a warm-up (load: warm-up in parentheses, it compiles the pipelines)`,
      `total bench time ${seconds.toFixed(0)} s`,
    ]),
    '',
    table,
    '',
    `### One-user recommend on ${machine.adapter ?? 'the WebGPU adapter'}: where the time goes (ms, median of ${breakdownRuns} interleaved runs)`,
    '',
    markdownTable(
      ['step', ...breakdowns.map((b) => `${b.dataset} (${b.numItems} items)`)],
      Object.keys(breakdowns[0]?.ms ?? {}).map((step) => [step, ...breakdowns.map((b) => fmt(b.ms[step]))]),
    ),
  ].join('\n');
  writeResults('serve', md, { machine, runs, manyUsers, foldInItems, seconds, rows, breakdownRuns, breakdowns });
}
gpuBe.destroy();

// ------------------------------------------------------------------------------------------------
// Serving curves: synthetic catalogues of growing size (see the header comment).

interface ScaleRow {
  numItems: number;
  numUsers: number;
  trainPairs: number;
  model: 'lightgcn' | 'irllrec';
  intents: boolean;
  backend: string;
  adapter: string;
  fileBytes: number;
  load: Measure;
  /** Bytes of the tensors the Recommender keeps (E_fin rows, intents, profile MLP; the normalised item copy that similarItems adds). */
  tableBytes: number;
  /** WebGPU only: the buffer pool after all calls (live, pooled-but-free) and its peak since the device was made. */
  pool?: { liveBytes: number; pooledBytes: number; peakBytes: number };
  recommendOne: Measure;
  recommendMany: Measure & { users: number; per1000Ms: number };
  similarItems: Measure;
  personalize: Measure & { items: number; steps: number };
}

/** `numUsers` users with 20 distinct items each, half of them among the 1% most popular items (hubs). */
function scaleTrain(numUsers: number, numItems: number): Interactions {
  const r = new Rng(numItems);
  const per = Math.min(20, numItems);
  const hubs = Math.max(per, Math.floor(numItems / 100));
  const users = new Uint32Array(numUsers * per);
  const items = new Uint32Array(numUsers * per);
  for (let u = 0; u < numUsers; u++) {
    const chosen = new Set<number>();
    while (chosen.size < per) chosen.add(r.next() < 0.5 ? r.int(hubs) : r.int(numItems));
    [...chosen].sort((a, b) => a - b).forEach((i, q) => {
      users[u * per + q] = u;
      items[u * per + q] = i;
    });
  }
  return { users, items };
}

async function scaleOne(be: Backend, bytes: Uint8Array, numItems: number, model: ScaleRow['model'], trainPairs: number): Promise<ScaleRow> {
  const label = `${numItems} items, ${model} on ${be.name}`;
  // One run at 10⁶ items, all of them up to 10⁵.
  const n = Math.max(1, Math.round(Math.min(runs, (runs * 1e5) / numItems)));
  const rng = new Rng(5);
  log(`${label}: load`);
  const load = await measure(n, async () => (await Recommender.load(bytes, { backend: be })).dispose());
  const rec = await Recommender.load(bytes, { backend: be });
  log(`${label}: recommend`);
  const users = Uint32Array.from({ length: n + 1 }, () => rng.int(scaleUsers));
  const recommendOne = await measure(n, (r) => rec.recommend(users[r + 1], { k: 20 }));
  const capped = be.kind === 'cpu' || adapterOf(be).software;
  const U = Math.max(1, Math.min(manyUsers, capped ? Math.floor(maxWork / numItems) : manyUsers));
  const many = Uint32Array.from({ length: U }, (_, i) => (i * 7919) % scaleUsers);
  // Warm-up on a block's worth of users (compiles the kernels), then the one timed call when it is long.
  const manyRuns = Math.max(1, Math.round(Math.min(runs, (runs * 1e7) / (U * numItems))));
  const m = await measure(manyRuns, () => rec.recommend(many, { k: 20 }), () => rec.recommend(many.subarray(0, Math.min(U, 64)), { k: 20 }));
  const recommendMany = { ...m, users: U, per1000Ms: (m.ms * 1000) / U };
  log(`${label}: similarItems, personalize`);
  const similarItems = await measure(n, (r) => rec.similarItems(((r + 2) * 7907) % numItems, 20));
  const lists = itemLists(rng, numItems, foldInItems, n + 1);
  const personalize = { ...(await measure(n, async (r) => (await rec.personalize({ items: lists[r + 1] })).dispose())), items: foldInItems, steps: 40 };
  const t = rec.tables;
  const kept = [t.users, t.items, t.normalizedItems(), t.intents?.user, t.intents?.item, t.profileCandidates, ...(t.profileMlp ? Object.values(t.profileMlp) : [])];
  const tableBytes = kept.reduce((s, x) => s + (x?.byteLength ?? 0), 0);
  const pool = be.kind === 'webgpu' ? (({ liveBytes, pooledBytes, peakBytes }) => ({ liveBytes, pooledBytes, peakBytes }))((be as WebGpuBackend).poolStats) : undefined;
  rec.dispose();
  return { numItems, numUsers: scaleUsers, trainPairs, model, intents: model === 'irllrec', backend: be.kind, adapter: adapterOf(be).name, fileBytes: bytes.length, load, tableBytes, pool, recommendOne, recommendMany, similarItems, personalize };
}

if (catalogues.length > 0) {
  const ts = performance.now();
  const limit = bindingMib > 0 ? bindingMib * 2 ** 20 : undefined;
  const scaleRows: ScaleRow[] = [];
  let scaleAdapter = machine.adapter;
  for (const numItems of catalogues) {
    const train = scaleTrain(scaleUsers, numItems);
    const graph = buildGraph({ numUsers: scaleUsers, numItems, train });
    for (const model of ['lightgcn', 'irllrec'] as const) {
      log(`${numItems} items, ${model}: writing the model`);
      const cfg = modelConfig(model, 'other', { embeddingDim: 32, layers: 3 });
      const rm = RecModel.create(cpuBe, cfg, { numUsers: scaleUsers, numItems, graph, textDims: { profile: scaleTextDim, intent: scaleTextDim } }, { seed: 1 });
      const bytes = await serializeModel(rm, { train });
      rm.dispose();
      // A fresh device per model: its pool's peak is this model's.
      const g = await createBackend({ backend: 'webgpu', limitOverrides: limit ? { maxStorageBufferBindingSize: limit, maxBufferSize: limit } : undefined });
      scaleAdapter = adapterOf(g).name;
      for (const be of [g, cpuBe]) scaleRows.push(await scaleOne(be, bytes, numItems, model, train.users.length));
      g.destroy();
    }
  }
  const scaleSeconds = (performance.now() - ts) / 1000;
  const gpuName = 'WebGPU';
  const backendName = (r: ScaleRow) => (r.backend === 'webgpu' ? gpuName : 'CPU (f32)');
  const md = [
    ...headerLines('Serving curves: synthetic catalogues (ms, wall clock, median)', machine, [
      `${scaleUsers.toLocaleString('en')} users, 20 training items each; random-init models, d = 32, L = 3: LightGCN (no intents) and ranking-only IRLLRec (128 intents, ${scaleTextDim}-d text towers)`,
      `WebGPU device ${limit ? `capped at ${bindingMib} MiB per storage binding and buffer (the WebGPU default)` : "with the adapter's own limits"}; k = 20; 'auto' scoring`,
      `median of ${runs} runs after a warm-up up to 10⁵ items, fewer above (the first load, in parentheses, compiles the pipelines on a fresh device)`,
      `recommend ×U: ${manyUsers} users, capped on a software adapter and the CPU backend at ${maxWork.toExponential(0)} user × item scores; "per 1,000" = ms × 1,000 / users measured`,
      `total ${scaleSeconds.toFixed(0)} s`,
    ]),
    '',
    markdownTable(
      ['items', 'model', 'backend', 'file MiB', 'load (first)', 'tables MiB', 'GPU pool MiB: live / free / peak', 'recommend ×1', 'recommend ×U (users)', 'per 1,000 users', 'similarItems', `personalize (${foldInItems} items, 40 steps)`],
      scaleRows.map((r) => [
        r.numItems.toLocaleString('en'),
        r.intents ? 'IRLLRec (intents)' : 'LightGCN',
        backendName(r),
        fmt(mib(r.fileBytes)),
        `${fmt(r.load.ms)} (${fmt(r.load.firstMs)})`,
        fmt(mib(r.tableBytes)),
        r.pool ? `${fmt(mib(r.pool.liveBytes))} / ${fmt(mib(r.pool.pooledBytes))} / ${fmt(mib(r.pool.peakBytes))}` : '–',
        fmt(r.recommendOne.ms),
        `${fmt(r.recommendMany.ms)} (${r.recommendMany.users})`,
        fmt(r.recommendMany.per1000Ms),
        fmt(r.similarItems.ms),
        fmt(r.personalize.ms),
      ]),
    ),
    '',
    '![serving curves](serve-scale.svg)',
  ].join('\n');
  writeResults('serve-scale', md, { machine, runs, manyUsers, maxWork, scaleUsers, textDim: scaleTextDim, bindingMib, seconds: scaleSeconds, rows: scaleRows });
  const ops: [string, string, (r: ScaleRow) => number][] = [
    ['load', '#1f77b4', (r) => r.load.ms],
    ['recommend ×1', '#d62728', (r) => r.recommendOne.ms],
    ['recommend, per 1,000 users', '#2ca02c', (r) => r.recommendMany.per1000Ms],
    ['similarItems', '#9467bd', (r) => r.similarItems.ms],
    ['personalize', '#ff7f0e', (r) => r.personalize.ms],
  ];
  const panel = (intents: boolean) => ({
    title: intents ? 'IRLLRec (intents, text towers)' : 'LightGCN (no intents)',
    series: ops.flatMap(([name, color, get]) =>
      (['webgpu', 'cpu'] as const).map((backend) => ({
        label: `${name}, ${backend === 'webgpu' ? gpuName : 'CPU backend'}`,
        color,
        dashed: backend === 'cpu',
        points: scaleRows.filter((r) => r.intents === intents && r.backend === backend).map((r): [number, number] => [r.numItems, get(r)]),
      })),
    ),
  });
  const svg = logLogSvg({ title: `irllrec serving cost vs catalogue size (${scaleAdapter}; dashed: CPU backend)`, xLabel: 'items in the catalogue', yLabel: 'ms (median)', panels: [panel(false), panel(true)] });
  writeFileSync(join(resultsDir(), 'serve-scale.svg'), svg);
  log(`wrote ${join(resultsDir(), 'serve-scale.svg')}`);
}
cpuBe.destroy();
