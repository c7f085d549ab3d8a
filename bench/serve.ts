/**
 * Serving latency on this machine's WebGPU adapter, next to the CPU backend in the same run.
 *
 *   node bench/run.mjs bench/serve.ts [--data-root DIR (default: $IRLLREC_SHARED_DATA, else ../shared/data)] [--datasets movielens,amazon] [--runs 5]
 *        [--users 1000] [--items 10]
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
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Dataset } from '../src/data/types.js';
import { serializeModel } from '../src/io/modelfile.js';
import { createBackend, loadDatasetDir } from '../src/node/index.js';
import { csrTensor, disposeCsr } from '../src/ops/spmm.js';
import { matmul } from '../src/ops/dense.js';
import { type Backend, CpuBackend, type Tensor, type WebGpuBackend } from '../src/ops/tensor.js';
import { scoreTopK, topK } from '../src/ops/topk.js';
import { Recommender } from '../src/serve/recommender.js';
import { createModel } from '../src/train/trainer.js';
import { Rng } from '../src/util/random.js';
import { DATA_ROOT, adapterOf, fmt, headerLines, intFlag, listFlag, log, machineInfo, markdownTable, median, writeResults } from './common.js';

const { values: flags } = parseArgs({
  options: {
    'data-root': { type: 'string' },
    datasets: { type: 'string' },
    runs: { type: 'string' },
    users: { type: 'string' },
    items: { type: 'string' },
    'breakdown-runs': { type: 'string' },
  },
});
const dataRoot = resolve(String(flags['data-root'] ?? DATA_ROOT));
const datasets = listFlag(flags.datasets, ['movielens', 'amazon']);
const runs = intFlag(flags.runs, 5, 'runs');
const manyUsers = intFlag(flags.users, 1000, 'users');
const foldInItems = intFlag(flags.items, 10, 'items');
const breakdownRuns = intFlag(flags['breakdown-runs'], 21, 'breakdown-runs');

interface Measure {
  /** Median wall time over the runs after the warm-up. */
  ms: number;
  /** The warm-up call (pipeline compilation included on the GPU). */
  firstMs: number;
  runs: number[];
}

async function measure(n: number, call: (run: number) => Promise<unknown>): Promise<Measure> {
  let t = performance.now();
  await call(-1);
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
gpuBe.destroy();
cpuBe.destroy();
