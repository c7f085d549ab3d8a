/**
 * Peer benchmark: irllrec against TensorFlow.js (tfjs-core + tfjs-backend-webgpu 4.22) doing the same work,
 * in the same Node process on the same Dawn `GPU` object (hence the same adapter).
 *
 *  (a) one LightGCN training step on amazon (11,000 users, 9,332 items, 240,928 directed edges, d = 32,
 *      3 layers, BPR on a 4,096 batch + λ·‖E0‖², Adam). tfjs as its users write it: per layer
 *      E_{l+1} = unsortedSegmentSum(gather(E_l, tail) · Â_e, head, n), E_fin = Σ_l E_l, gradients with
 *      tf.variableGrads (via optimizer.minimize). irllrec: `model.trainStep` of createModel('lightgcn').
 *      Edge dropout is off on both sides (keepRate 1) so that both do identical work.
 *  (b) the RLMRec-Con alignment: text MLP din → floor((din+d)/2) → d with LeakyReLU(0.01) over R rows of
 *      stand-in text, then InfoNCE (soft-normalised rows, τ = 0.2) of B anchors (a trainable [B×d] table)
 *      against positives = the first B MLP rows and candidates = all R MLP rows; backward and Adam on
 *      W1, b1, W2, b2 and the anchors. irllrec: mlpForward / infoNce / gatherRows / scatterAddRows /
 *      mlpBackward / adamStep.
 *  (c) scoring + top-20 for 1,000 users over the whole catalogue (9,332 items, d = 32). tfjs: matMul + topk;
 *      irllrec: scoreTopKAuto, what evaluation and recommendForUsers call (GEMM score blocks + topK at this size);
 *      the fused scoreTopK is timed for context.
 *  (d) the dense matmul alone at the text-MLP shapes (R × 1536 → 784): forward X·W1ᵀ and weight gradient gHᵀ·X,
 *      irllrec `matmul` vs tfjs `matMul` (the issue's "≥ 1.5× tfjs's matMul" target).
 *
 * Each run is synced (irllrec: read of a result = submit + wait; tfjs: await data()); median of the runs after
 * warm-up. Results: bench/results/peer.{json,md}. Environment: PEER_RUNS (default 5), PEER_WARMUP (default 1),
 * PEER_ONLY (e.g. `a,c`; default all), PEER_ROWS / PEER_DIN / PEER_B (workload (b) and (d) shapes; defaults 2048 / 1536 / 1024 on a software adapter,
 * 8192 / 1536 / 4096 on a GPU). Flags: `--out DIR` writes the results to DIR instead of bench/results; `--quick`
 * (bench/gpu.sh) makes the default PEER_RUNS 2 and, on a software adapter, PEER_ROWS 1024.
 */
import type { Scalar, Tensor2D } from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { Dataset } from '../src/data/types.js';
import { DATA_ROOT, resultsDir, setResultsDir } from './common.js';
import { initMlp, mlpBackward, mlpForward, mlpShapes, type MlpTensors } from '../src/models/mlp.js';
import { createBackend, loadDatasetDir, nodeGpu } from '../src/node/index.js';
import { fill } from '../src/ops/elementwise.js';
import { gatherRows, rowGroups, scatterAddRows } from '../src/ops/gather.js';
import { infoNce } from '../src/ops/losses.js';
import { adamStep, ADAM_DEFAULTS } from '../src/ops/optim.js';
import type { Tensor, WebGpuBackend } from '../src/ops/tensor.js';
import { scoreTopK, scoreTopKAuto } from '../src/ops/topk.js';
import { matmul } from '../src/ops/dense.js';
import { buildGraph } from '../src/data/graph.js';
import { createModel } from '../src/train/trainer.js';
import { Rng } from '../src/util/random.js';

const { values: flags } = parseArgs({ options: { out: { type: 'string' }, quick: { type: 'boolean', default: false } } });
setResultsDir(flags.out);
const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const RUNS = env('PEER_RUNS', flags.quick ? 2 : 5);
const WARMUP = env('PEER_WARMUP', 1);
const TAU = 0.2;
/** PEER_ONLY=a,c,… runs only those workloads (default: all). */
const ONLY = new Set((process.env.PEER_ONLY ?? 'a,b,c,d').split(',').map((x) => x.trim()));
const LR = ADAM_DEFAULTS.lr;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** Median wall ms of `fn` (which must end synced) over RUNS runs after WARMUP runs. */
async function timeIt(label: string, fn: () => Promise<void>, runs = RUNS, warmup = WARMUP): Promise<{ median: number; runs: number[] }> {
  for (let i = 0; i < warmup; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  process.stderr.write(`  ${label}: median ${median(ms).toFixed(1)} ms  (runs ${ms.map((x) => x.toFixed(0)).join(', ')})\n`);
  return { median: median(ms), runs: ms };
}

/**
 * Median wall ms of `a` and of `b`, their runs interleaved (a, b, a, b, …) after WARMUP runs of each, so that a
 * change of machine load during the measurement hits both sides alike.
 */
async function timePair(
  labels: [string, string],
  a: () => Promise<void>,
  b: () => Promise<void>,
  runs = RUNS,
): Promise<[{ median: number; runs: number[] }, { median: number; runs: number[] }]> {
  for (let i = 0; i < WARMUP; i++) {
    await a();
    await b();
  }
  const ms: [number[], number[]] = [[], []];
  for (let i = 0; i < runs; i++) {
    for (const [side, fn] of [a, b].entries()) {
      const t = performance.now();
      await fn();
      ms[side].push(performance.now() - t);
    }
  }
  for (const side of [0, 1]) {
    process.stderr.write(`  ${labels[side]}: median ${median(ms[side]).toFixed(1)} ms  (runs ${ms[side].map((x) => x.toFixed(0)).join(', ')})\n`);
  }
  return [
    { median: median(ms[0]), runs: ms[0] },
    { median: median(ms[1]), runs: ms[1] },
  ];
}

function randn(rng: Rng, n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

// ------------------------------------------------------------------------------------------------
// Setup: one Dawn GPU object for both libraries.

const gpu = await nodeGpu(); // installs the WebGPU globals (Object.assign(globalThis, globals)) and create([])
Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'node' }, configurable: true, writable: true });
const tf = await import('@tensorflow/tfjs-core');
// tfjs-core registers no gradients by itself (the `@tensorflow/tfjs` umbrella imports them); its
// register_all_gradients module is extensionless ESM that Node cannot load, so bundle it once with esbuild.
// Gradients and the engine live in tfjs's global registry (globalThis), so the bundled copy registers into
// the same engine as the package.
{
  const { build } = await import('esbuild');
  const outfile = resolve('.tmp', 'tfjs-gradients.bundle.mjs');
  await build({ entryPoints: [resolve('node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js')], outfile, bundle: true, format: 'esm', platform: 'node', logLevel: 'error' });
  await import(pathToFileURL(outfile).href);
}
await import('@tensorflow/tfjs-backend-webgpu');
if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not initialise');
await tf.ready();

const be = (await createBackend({ backend: 'webgpu', gpu })) as WebGpuBackend;
const adapter = be.ctx.adapter.name;
const software = be.ctx.adapter.isSoftware;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const tfAdapterInfo = (tf.backend() as any).adapterInfo;
const tfAdapter = `vendor '${tfAdapterInfo?.vendor ?? '?'}', architecture '${tfAdapterInfo?.architecture ?? '?'}'`;
const loadStart = loadavg().map((x) => Math.round(x * 100) / 100);
process.stderr.write(`peer benchmark: irllrec vs tfjs ${tf.version_core} (webgpu) — adapter ${adapter}; tfjs adapter info: ${tfAdapter}\n`);
process.stderr.write(`runs ${RUNS} after ${WARMUP} warm-up; load ${loadStart.join(' / ')}\n`);

interface Result {
  workload: string;
  shapes: string;
  irllrecMs: number;
  tfjsMs: number;
  /** tfjs time / irllrec time (> 1: irllrec is faster). */
  ratio: number;
  /** Context: medians (ms) of variants, and the agreement checks of the two sides. */
  extra?: Record<string, number>;
  irllrecRuns: number[];
  tfjsRuns: number[];
  /** When this row was measured and the 1-minute load average then (rows kept from an earlier partial run keep theirs). */
  measuredAt: string;
  load1: number;
}
const results: Result[] = [];
function record(workload: string, shapes: string, a: { median: number; runs: number[] }, b: { median: number; runs: number[] }, extra?: Record<string, number>): void {
  const measuredAt = new Date().toISOString();
  const load1 = Math.round(loadavg()[0] * 100) / 100;
  results.push({ workload, shapes, irllrecMs: a.median, tfjsMs: b.median, ratio: b.median / a.median, irllrecRuns: a.runs, tfjsRuns: b.runs, extra, measuredAt, load1 });
  process.stderr.write(`  → tfjs / irllrec = ${(b.median / a.median).toFixed(2)}×\n`);
}

const ds: Dataset = await loadDatasetDir(resolve(DATA_ROOT, 'amazon'));
const rng = new Rng(7);
const d = 32;

// ------------------------------------------------------------------------------------------------
// (a) LightGCN training step

if (ONLY.has('a')) {
  const B = 4096;
  const graph = buildGraph(ds);
  const n = graph.n;
  const users = new Uint32Array(B);
  const pos = new Uint32Array(B);
  const neg = new Uint32Array(B);
  const pairs = ds.train.users.length;
  const batchRng = new Rng(11);
  for (let b = 0; b < B; b++) {
    const p = Math.floor(batchRng.uniform(0, pairs)) % pairs;
    users[b] = ds.train.users[p];
    pos[b] = ds.train.items[p];
    neg[b] = Math.floor(batchRng.uniform(0, ds.numItems)) % ds.numItems;
  }
  const shapes = `${ds.numUsers}+${ds.numItems} nodes, ${graph.nnz} edges, d=${d}, 3 layers, BPR batch ${B}, λ=1e-6, Adam`;
  process.stderr.write(`(a) LightGCN step: ${shapes}\n`);

  const model = createModel(be, ds, { model: 'lightgcn', config: { keepRate: 1 }, seed: 1 });
  const reg = model.config.reg;
  const layers = model.config.layers;
  const ir = await timeIt('irllrec', async () => {
    await model.trainStep({ users, pos, neg });
  });
  model.dispose();

  // tfjs: edges as (head, tail, Â) lists from the same graph.
  const head = new Int32Array(graph.nnz);
  for (let v = 0; v < n; v++) for (let e = graph.rowPtr[v]; e < graph.rowPtr[v + 1]; e++) head[e] = v;
  const headT = tf.tensor1d(head, 'int32');
  const tailT = tf.tensor1d(Int32Array.from(graph.colIdx), 'int32');
  const wT = tf.tensor2d(graph.values, [graph.nnz, 1]);
  const E0 = tf.variable(tf.tensor2d(randn(rng, n * d, 0.1), [n, d]), true, 'E0');
  const uT = tf.tensor1d(Int32Array.from(users), 'int32');
  const pT = tf.tensor1d(Int32Array.from(pos, (x) => x + ds.numUsers), 'int32');
  const nT = tf.tensor1d(Int32Array.from(neg, (x) => x + ds.numUsers), 'int32');
  const opt = tf.train.adam(LR, ADAM_DEFAULTS.beta1, ADAM_DEFAULTS.beta2, ADAM_DEFAULTS.eps);
  const lossFn = () => {
    let e: Tensor2D = E0;
    let sum: Tensor2D = E0;
    for (let l = 0; l < layers; l++) {
      e = tf.unsortedSegmentSum(tf.mul(tf.gather(e, tailT), wT), headT, n) as Tensor2D;
      sum = tf.add(sum, e);
    }
    const eu = tf.gather(sum, uT);
    const ep = tf.gather(sum, pT);
    const en = tf.gather(sum, nT);
    const x = tf.sum(tf.mul(eu, ep), 1);
    const y = tf.sum(tf.mul(eu, en), 1);
    const bprLoss = tf.mean(tf.softplus(tf.sub(y, x)));
    return tf.add(bprLoss, tf.mul(reg, tf.sum(tf.square(E0)))) as Scalar;
  };
  const tj = await timeIt('tfjs', async () => {
    const loss = opt.minimize(lossFn, true, [E0]);
    await loss!.data();
    loss!.dispose();
  });
  record('LightGCN training step (amazon)', shapes, ir, tj);
  tf.dispose([headT, tailT, wT, E0, uT, pT, nT]);
  opt.dispose();
}

// ------------------------------------------------------------------------------------------------
// (b) RLMRec-Con alignment: text MLP + InfoNCE, forward + backward + Adam

if (ONLY.has('b')) {
  const R = env('PEER_ROWS', software ? (flags.quick ? 1024 : 2048) : 8192);
  const din = env('PEER_DIN', 1536);
  const B = env('PEER_B', software ? 1024 : 4096);
  const hidden = mlpShapes(din, d).w1[0];
  const shapes = `text X [${R}×${din}], MLP ${din}→${hidden}→${d} (LeakyReLU), InfoNCE anchors [${B}×${d}] vs positives = first ${B} MLP rows, candidates = all ${R}, τ=${TAU}, Adam`;
  process.stderr.write(`(b) alignment: ${shapes}\n`);
  const xData = randn(rng, R * din, 1 / Math.sqrt(din));
  const aData = randn(rng, B * d, 0.1);
  const init = initMlp(new Rng(3), din, d);
  const scale = 1 / B;

  // irllrec
  const ms = mlpShapes(din, d);
  const x = be.tensor(xData, [R, din], 'f32', 'x');
  const p: MlpTensors = { w1: be.tensor(init.w1, ms.w1), b1: be.tensor(init.b1, ms.b1), w2: be.tensor(init.w2, ms.w2), b2: be.tensor(init.b2, ms.b2) };
  const g: MlpTensors = { w1: be.zeros(ms.w1), b1: be.zeros(ms.b1), w2: be.zeros(ms.w2), b2: be.zeros(ms.b2) };
  const adamM = Object.fromEntries(Object.entries(ms).map(([k, s]) => [k, be.zeros(s)])) as unknown as MlpTensors;
  const adamV = Object.fromEntries(Object.entries(ms).map(([k, s]) => [k, be.zeros(s)])) as unknown as MlpTensors;
  const anchors = be.tensor(aData, [B, d], 'f32', 'anchors');
  const gAnchors = be.zeros([B, d]);
  const mA = be.zeros([B, d]);
  const vA = be.zeros([B, d]);
  // A kept from the forward for the backward (no recomputation), as a training step does when memory allows.
  const activations = be.zeros([R, hidden]);
  const z = be.zeros([R, d], 'f32', 'z');
  const zPos = be.zeros([B, d], 'f32', 'zPos');
  const gZ = be.zeros([R, d], 'f32', 'gZ');
  const gPos = be.zeros([B, d], 'f32', 'gPos');
  const lossVec = be.zeros([1], 'f32', 'loss');
  const firstB = Uint32Array.from({ length: B }, (_, i) => i);
  const groups = rowGroups(be, firstB, R, 'positives');
  let step = 0;
  const ir = await timeIt('irllrec', async () => {
    fill(be, lossVec, 0);
    for (const t of Object.values(g)) fill(be, t, 0);
    mlpForward(be, p, x, z, { activations });
    gatherRows(be, z, groups.ids, zPos);
    infoNce(be, anchors, zPos, z, lossVec, 0, { tau: TAU, scale, gA: gAnchors, gP: gPos, gC: gZ });
    scatterAddRows(be, gPos, groups, gZ); // positives are rows of Z: their gradient adds into ∂Z
    mlpBackward(be, p, x, gZ, g, { activations });
    step++;
    for (const k of Object.keys(ms) as (keyof MlpTensors)[]) adamStep(be, p[k], g[k], adamM[k], adamV[k], { ...ADAM_DEFAULTS, step });
    adamStep(be, anchors, gAnchors, mA, vA, { ...ADAM_DEFAULTS, step });
    await be.read(lossVec);
  });
  const irLoss = (await be.read(lossVec))[0];
  for (const t of [x, ...Object.values(p), ...Object.values(g), ...Object.values(adamM), ...Object.values(adamV), anchors, gAnchors, mA, vA, activations, z, zPos, gZ, gPos, lossVec, groups.ids, groups.unique, groups.offsets, groups.positions] as Tensor[]) t.dispose();

  // tfjs
  const xT = tf.tensor2d(xData, [R, din]);
  const W1 = tf.variable(tf.tensor2d(init.w1, ms.w1 as [number, number]));
  const b1 = tf.variable(tf.tensor1d(init.b1));
  const W2 = tf.variable(tf.tensor2d(init.w2, ms.w2 as [number, number]));
  const b2 = tf.variable(tf.tensor1d(init.b2));
  const A = tf.variable(tf.tensor2d(aData, [B, d]));
  const opt = tf.train.adam(LR, ADAM_DEFAULTS.beta1, ADAM_DEFAULTS.beta2, ADAM_DEFAULTS.eps);
  // ñ(v) = v / sqrt(1e-8 + ‖v‖²), row-wise (spec's soft normalisation inside InfoNCE).
  const soft = (v: Tensor2D) => tf.div(v, tf.sqrt(tf.add(tf.sum(tf.square(v), 1, true), 1e-8)));
  const lossFn = () => {
    const h = tf.leakyRelu(tf.add(tf.matMul(xT, W1, false, true), b1), 0.01);
    const zz = tf.add(tf.matMul(h, W2, false, true), b2) as Tensor2D;
    const c = soft(zz);
    const pp = tf.slice(c, [0, 0], [B, d]);
    const a = soft(A);
    const logits = tf.div(tf.matMul(a, c, false, true), TAU);
    const posTerm = tf.div(tf.sum(tf.mul(a, pp), 1), TAU);
    const phi = tf.sum(tf.sub(tf.logSumExp(logits, 1), posTerm));
    return tf.mul(phi, scale) as Scalar;
  };
  let tfLoss = NaN;
  const tj = await timeIt('tfjs', async () => {
    const loss = opt.minimize(lossFn, true, [W1, b1, W2, b2, A]);
    tfLoss = (await loss!.data())[0];
    loss!.dispose();
  });
  process.stderr.write(`  last losses: irllrec ${irLoss.toFixed(5)}, tfjs ${tfLoss.toFixed(5)} (same inputs and steps: should agree closely)\n`);
  record('RLMRec-Con alignment step (text MLP + InfoNCE, fwd + bwd + Adam)', shapes, ir, tj, { irllrecLastLoss: irLoss, tfjsLastLoss: tfLoss });
  tf.dispose([xT, W1, b1, W2, b2, A]);
  opt.dispose();
}

// ------------------------------------------------------------------------------------------------
// (c) scoring + top-20

if (ONLY.has('c')) {
  const U = 1000;
  const k = 20;
  const nItems = ds.numItems;
  const shapes = `${U} users × ${nItems} items, d=${d}, top-${k}`;
  process.stderr.write(`(c) scoring + top-k: ${shapes}\n`);
  const uData = randn(rng, U * d, 0.3);
  const iData = randn(rng, nItems * d, 0.3);
  const uT = be.tensor(uData, [U, d]);
  const iT = be.tensor(iData, [nItems, d]);
  const ids = be.zeros([U, k], 'u32');
  const vals = be.zeros([U, k]);
  const ir = await timeIt('irllrec', async () => {
    scoreTopKAuto(be, uT, iT, k, ids, vals);
    await be.read(ids);
  });
  const irIds = await be.read(ids);
  // For context: the fused kernel (no R×n score matrix; what scoreTopKAuto picks below 64 users).
  const irUnfused = await timeIt('irllrec fused scoreTopK (for context)', async () => {
    scoreTopK(be, uT, iT, k, ids, vals);
    await be.read(ids);
  });
  const u2 = tf.tensor2d(uData, [U, d]);
  const i2 = tf.tensor2d(iData, [nItems, d]);
  let tfIds: Int32Array | null = null;
  const tj = await timeIt('tfjs', async () => {
    const s = tf.matMul(u2, i2, false, true);
    const r = tf.topk(s, k);
    tfIds = (await r.indices.data()) as Int32Array;
    tf.dispose([s, r.values, r.indices]);
  });
  let agree = 0;
  for (let i = 0; i < U * k; i++) if (irIds[i] === tfIds![i]) agree++;
  process.stderr.write(`  top-${k} ids identical in ${((100 * agree) / (U * k)).toFixed(2)} % of slots\n`);
  const tfMatMul = await timeIt('tfjs matMul only (for context)', async () => {
    // Synced on one element of the result (a tiny dependent slice), not a read-back of the whole matrix.
    const s = tf.matMul(u2, i2, false, true);
    const one = tf.slice(s, [0, 0], [1, 1]);
    await one.data();
    tf.dispose([s, one]);
  });
  record('scoring + top-20 (1,000 users, whole catalogue)', shapes, ir, tj, { irllrecFusedMs: irUnfused.median, tfjsMatMulOnlyMs: tfMatMul.median, top20IdsAgreePercent: (100 * agree) / (U * k) });
  for (const t of [uT, iT, ids, vals]) t.dispose();
  tf.dispose([u2, i2]);
}

// ------------------------------------------------------------------------------------------------
// (d) dense matmul alone at the text-MLP shapes: the forward H = X·W1ᵀ (transB) and the weight gradient
//     ∂W1 = gHᵀ·X (transA), irllrec `matmul` against tfjs `matMul` with the same transposes. Both synced the
//     same way: irllrec `flush()` (submit + onSubmittedWorkDone), tfjs a 1-element slice of the result read back.

if (ONLY.has('d')) {
  const R = env('PEER_ROWS', software ? (flags.quick ? 1024 : 2048) : 8192);
  const din = env('PEER_DIN', 1536);
  const hidden = mlpShapes(din, d).w1[0];
  const xData = randn(rng, R * din, 1 / Math.sqrt(din));
  const wData = randn(rng, hidden * din, 1 / Math.sqrt(din));
  const gData = randn(rng, R * hidden, 0.1);
  const x = be.tensor(xData, [R, din], 'f32', 'X');
  const w = be.tensor(wData, [hidden, din], 'f32', 'W1');
  const gh = be.tensor(gData, [R, hidden], 'f32', 'gH');
  const h = be.zeros([R, hidden], 'f32', 'H');
  const gw = be.zeros([hidden, din], 'f32', 'gW1');
  const xT = tf.tensor2d(xData, [R, din]);
  const wT = tf.tensor2d(wData, [hidden, din]);
  const gT = tf.tensor2d(gData, [R, hidden]);
  const cases = [
    { name: `matmul forward H = X·W1ᵀ`, shapes: `X [${R}×${din}] · W1ᵀ (W1 [${hidden}×${din}])`, ir: () => matmul(be, x, w, h, { transB: true }), tfj: () => tf.matMul(xT, wT, false, true), out: h },
    { name: `matmul weight gradient ∂W1 = gHᵀ·X`, shapes: `gHᵀ (gH [${R}×${hidden}]) · X [${R}×${din}]`, ir: () => matmul(be, gh, x, gw, { transA: true }), tfj: () => tf.matMul(gT, xT, true, false), out: gw },
  ];
  for (const c of cases) {
    const flops = 2 * c.out.shape[0] * c.out.shape[1] * (c === cases[0] ? din : R);
    process.stderr.write(`(d) ${c.name}: ${c.shapes} (${(flops / 1e9).toFixed(2)} GFLOP)\n`);
    const [ir, tj] = await timePair(
      ['irllrec', 'tfjs'],
      async () => {
        c.ir();
        await be.flush();
      },
      async () => {
        const r = c.tfj();
        const one = tf.slice(r, [0, 0], [1, 1]);
        await one.data();
        tf.dispose([r, one]);
      },
    );
    const irOut = await be.read(c.out);
    let tfOut: Float32Array;
    {
      const r = c.tfj();
      tfOut = (await r.data()) as Float32Array;
      r.dispose();
    }
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < irOut.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(irOut[i] - tfOut[i]));
      maxAbs = Math.max(maxAbs, Math.abs(tfOut[i]));
    }
    process.stderr.write(`  max |irllrec − tfjs| ${maxDiff.toExponential(2)} (max |value| ${maxAbs.toFixed(3)})\n`);
    record(c.name, c.shapes, ir, tj, { irllrecGflops: flops / ir.median / 1e6, tfjsGflops: flops / tj.median / 1e6, maxAbsDiff: maxDiff });
  }
  for (const t of [x, w, gh, h, gw]) t.dispose();
  tf.dispose([xT, wT, gT]);
}

// ------------------------------------------------------------------------------------------------
// Output

const loadEnd = loadavg().map((x) => Math.round(x * 100) / 100);
const c = cpus();
const meta = {
  adapter,
  software,
  tfjsAdapterInfo: tfAdapter,
  tfjsVersion: tf.version_core,
  date: new Date().toISOString(),
  node: process.version,
  cpus: c.length,
  cpuModel: c[0]?.model ?? 'unknown',
  loadStart,
  loadEnd,
  runs: RUNS,
  warmup: WARMUP,
};
const outDir = resultsDir();
mkdirSync(outDir, { recursive: true });
// A partial run (PEER_ONLY) replaces its own rows and keeps the other rows of the previous run on this adapter.
if (process.env.PEER_ONLY && existsSync(join(outDir, 'peer.json'))) {
  const prev = JSON.parse(readFileSync(join(outDir, 'peer.json'), 'utf8')) as { adapter?: string; date?: string; loadStart?: number[]; results?: Result[] };
  if (prev.adapter === adapter && Array.isArray(prev.results)) {
    const fresh = new Map(results.map((r) => [r.workload, r]));
    const merged = prev.results.map((r) => fresh.get(r.workload) ?? { ...r, measuredAt: r.measuredAt ?? prev.date ?? '?', load1: r.load1 ?? prev.loadStart?.[0] ?? NaN });
    for (const r of results) if (!prev.results.some((p) => p.workload === r.workload)) merged.push(r);
    results.splice(0, results.length, ...merged);
  }
}
writeFileSync(join(outDir, 'peer.json'), `${JSON.stringify({ ...meta, results }, null, 2)}\n`);
const md = [
  '# Peer benchmark: irllrec vs TensorFlow.js (WebGPU)',
  '',
  `- adapter: **${adapter}**${software ? ' (software / CPU emulator)' : ''}; both libraries on the same Dawn GPU object in one Node process (tfjs-core/tfjs-backend-webgpu ${tf.version_core})`,
  `- date: ${meta.date}; machine: ${meta.cpus} × ${meta.cpuModel}, Node ${meta.node}`,
  `- load average (1/5/15 min): start ${loadStart.join(' / ')}, end ${loadEnd.join(' / ')} (shared machine: timings are noisy)`,
  `- median of ${RUNS} synced runs after ${WARMUP} warm-up runs; ratio = tfjs / irllrec (> 1: irllrec faster)`,
  '',
  '| workload | shapes | irllrec ms | tfjs ms | ratio | measured (UTC), load |',
  '|---|---|---:|---:|---:|---|',
  ...results.map((r) => `| ${r.workload} | ${r.shapes} | ${r.irllrecMs.toFixed(1)} | ${r.tfjsMs.toFixed(1)} | ${r.ratio.toFixed(2)}× | ${r.measuredAt.slice(0, 16).replace('T', ' ')}, ${r.load1} |`),
  '',
  ...results
    .filter((r) => r.extra)
    .map((r) => `Context for "${r.workload}": ${Object.entries(r.extra!).map(([k, v]) => `${k} ${k.endsWith('Ms') ? `${v.toFixed(1)} ms` : k.endsWith('Diff') ? v.toExponential(2) : v.toFixed(k.endsWith('Loss') ? 5 : 2)}`).join(', ')} (times are medians).`),
  '',
  'Notes: (a) edge dropout off on both sides (keepRate 1); tfjs propagation = gather + unsortedSegmentSum per layer, as its users write it. ' +
    '(b) the last losses of both sides are printed by the run and agree to ~1e-5 (same inputs, same Adam steps). ' +
    '(c) random user / item embeddings, no seen-item masking; the top-20 ids of both agree.',
  '',
];
writeFileSync(join(outDir, 'peer.md'), md.join('\n'));
process.stdout.write(md.join('\n'));
be.destroy();
