/**
 * Serving soak: a long run of `recommend` calls on one Recommender, watching throughput, latency, the buffer
 * pool and the JS heap over time (a leak or a slowdown shows as a trend across the windows).
 *
 *   node bench/run.mjs bench/soak.ts [--calls 50000] [--users 5000] [--items 10000] [--window 5000]
 *
 * Catalogue: a synthetic dataset (src/data/synthetic.ts, seed 7) of `--users` × `--items` with ~20 training
 * items per user; a randomly initialised LightGCN model (d = 32, L = 3; latency does not depend on training)
 * served by `Recommender.fromModel` on the WebGPU adapter. The workload cycles through 20 calls:
 * 13 single users (k = 20, training items excluded), 2 batches of 8 users, 1 allow-list filter (a Set of
 * 2,000 items), 1 predicate filter, 2 personalised users (4 handles folded in up front) and 1 mixed batch
 * (personalised and training users, 'matmul' scoring).
 *
 * Per window of `--window` calls: calls/s (wall time of the window's calls), p50 / p99 / max latency of one
 * call (performance.now around the awaited call), the pool's live and pooled bytes and buffers ever
 * created, live tensors, and the JS heap after a forced garbage collection (not timed). Output:
 * bench/results/soak.{md,json}.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { parseArgs } from 'node:util';
import { syntheticDataset } from '../src/data/synthetic.js';
import { createBackend } from '../src/node/index.js';
import type { WebGpuBackend } from '../src/ops/tensor.js';
import type { PersonalizedUser } from '../src/serve/personalize.js';
import { Recommender } from '../src/serve/recommender.js';
import { createModel } from '../src/train/trainer.js';
import { Rng } from '../src/util/random.js';
import { fmt, headerLines, intFlag, log, machineInfo, markdownTable, mib, writeResults } from './common.js';

const { values: flags } = parseArgs({
  options: {
    calls: { type: 'string' },
    users: { type: 'string' },
    items: { type: 'string' },
    window: { type: 'string' },
  },
});
const totalCalls = intFlag(flags.calls, 50_000, 'calls');
const numUsers = intFlag(flags.users, 5000, 'users');
const numItems = intFlag(flags.items, 10_000, 'items');
const windowCalls = Math.max(1, intFlag(flags.window, 5000, 'window'));

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** The value at quantile q of an ascending array (nearest rank). */
function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

interface Window {
  /** Calls done when the window closed. */
  calls: number;
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  liveTensors: number;
  liveBytes: number;
  pooledBytes: number;
  created: number;
  heapMiB: number;
  rssMiB: number;
}

const be = (await createBackend({ backend: 'webgpu' })) as WebGpuBackend;
const machine = machineInfo(be);
log(`synthetic ${numUsers} × ${numItems}`);
const data = syntheticDataset({ seed: 7, numUsers, numItems, numIntents: 16, textDim: 8, interactionsPerUser: 20 });
const model = createModel(be, data, { model: 'lightgcn', config: { embeddingDim: 32, layers: 3 }, seed: 1 });
const rec = await Recommender.fromModel(model, { interactions: data.train });
model.dispose();
const rng = new Rng(11);
const handles: PersonalizedUser[] = [];
for (let h = 0; h < 4; h++) handles.push(await rec.personalize({ items: Array.from({ length: 10 }, () => rng.int(numItems)) }));
const allowed = new Set(Array.from({ length: 2000 }, (_, i) => (i * 4999) % numItems));

/** Call i of the cycle of 20 (users drawn from `rng`). */
function call(i: number): Promise<unknown> {
  const u = () => rng.int(numUsers);
  switch (i % 20) {
    case 3:
    case 13:
      return rec.recommend(Array.from({ length: 8 }, u), { k: 20 });
    case 5:
      return rec.recommend(u(), { k: 20, filter: allowed });
    case 9:
      return rec.recommend(u(), { k: 10, filter: (item) => item % 7 === 0 });
    case 11:
    case 17:
      return rec.recommend(handles[i % 4], { k: 20 });
    case 19:
      return rec.recommend([handles[(i >> 2) % 4], u(), u(), handles[(i >> 3) % 4]], { k: 20, scoring: 'matmul' });
    default:
      return rec.recommend(u(), { k: 20 });
  }
}

const windows: Window[] = [];
const startHeap = heapUsed();
const startPool = be.poolStats;
const lat = new Float64Array(windowCalls);
let done = 0;
const t0 = performance.now();
let timed = 0; // seconds spent in calls (excludes the forced collections between windows)
while (done < totalCalls) {
  const n = Math.min(windowCalls, totalCalls - done);
  const tw = performance.now();
  for (let c = 0; c < n; c++) {
    const t = performance.now();
    await call(done + c);
    lat[c] = performance.now() - t;
  }
  const seconds = (performance.now() - tw) / 1000;
  timed += seconds;
  done += n;
  const sorted = lat.slice(0, n).sort();
  const s = be.poolStats;
  const w: Window = {
    calls: done,
    callsPerSecond: n / seconds,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    maxMs: sorted[n - 1],
    liveTensors: be.liveTensorCount,
    liveBytes: s.liveBytes,
    pooledBytes: s.pooledBytes,
    created: s.created,
    heapMiB: mib(heapUsed()),
    rssMiB: mib(process.memoryUsage().rss),
  };
  windows.push(w);
  log(`${done} calls: ${fmt(w.callsPerSecond)} calls/s, p50 ${fmt(w.p50Ms)} ms, p99 ${fmt(w.p99Ms)} ms, heap ${fmt(w.heapMiB)} MiB, pool live ${w.liveBytes} B / pooled ${w.pooledBytes} B / created ${w.created}`);
}
const wall = (performance.now() - t0) / 1000;

const first = windows[0];
const last = windows[windows.length - 1];
const table = markdownTable(
  ['calls', 'calls/s', 'p50 ms', 'p99 ms', 'max ms', 'live tensors', 'pool live KiB', 'pool pooled KiB', 'buffers created', 'JS heap MiB (after gc)', 'RSS MiB'],
  windows.map((w) => [w.calls, fmt(w.callsPerSecond), fmt(w.p50Ms), fmt(w.p99Ms), fmt(w.maxMs), w.liveTensors, fmt(w.liveBytes / 1024), fmt(w.pooledBytes / 1024), w.created, fmt(w.heapMiB), fmt(w.rssMiB)]),
);
const summary = {
  calls: done,
  seconds: wall,
  callsPerSecond: done / timed,
  /** Last window relative to the first (same run, same load conditions as far as the machine allows). */
  lastOverFirst: { callsPerSecond: last.callsPerSecond / first.callsPerSecond, p50: last.p50Ms / first.p50Ms, p99: last.p99Ms / first.p99Ms },
  heapGrowthMiB: { sinceStart: last.heapMiB - mib(startHeap), sinceFirstWindow: last.heapMiB - first.heapMiB },
  buffersCreatedAfterFirstWindow: last.created - first.created,
  liveBytesGrowth: last.liveBytes - first.liveBytes,
};
const md = [
  ...headerLines(`Serving soak: ${done} recommend calls`, machine, [
    `synthetic catalogue ${numUsers} users × ${numItems} items (${data.train.users.length} training pairs), random-init LightGCN d = 32, L = 3, served by Recommender.fromModel`,
    'workload per 20 calls: 13 single users, 2 batches of 8, 1 Set filter (up to 2,000 items), 1 predicate filter, 2 personalised users, 1 mixed batch of 4 (matmul scoring); k = 20 (10 for the predicate filter)',
    `windows of ${windowCalls} calls; latency = one awaited call; heap measured after a forced gc between windows (not timed)`,
    `total ${fmt(wall)} s; ${fmt(summary.callsPerSecond)} calls/s overall; last window / first: calls/s ×${fmt(summary.lastOverFirst.callsPerSecond)}, p50 ×${fmt(summary.lastOverFirst.p50)}, p99 ×${fmt(summary.lastOverFirst.p99)}`,
    `JS heap: ${fmt(mib(startHeap))} MiB before the first call, ${fmt(first.heapMiB)} after the first window, ${fmt(last.heapMiB)} at the end; buffers created after the first window: ${summary.buffersCreatedAfterFirstWindow}; pool live bytes ${first.liveBytes} → ${last.liveBytes} (start ${startPool.liveBytes})`,
  ]),
  '',
  table,
].join('\n');
writeResults('soak', md, { machine, totalCalls: done, numUsers, numItems, windowCalls, summary, windows });
for (const h of handles) h.dispose();
rec.dispose();
be.destroy();
