/**
 * Per-kernel throughput on this machine's WebGPU adapter, next to the CPU twin of the same op.
 *
 *   node bench/run.mjs bench/kernels.ts [--data-root DIR (default: $IRLLREC_SHARED_DATA, else ../shared/data)] [--only spmm,infoNce,...]
 *        [--mm-rows R] [--ssl-n N] [--runs 3] [--target-ms 300] [--full] [--out DIR] [--quick]
 *
 * Sizes are the realistic ones of the amazon dataset (N = 20,332 nodes, 240,928 directed edges, d = 32; the text
 * MLP 1536 → 784 → 32): the graph kernels run on the real amazon training graph (loadDatasetDir + buildGraph),
 * everything else on seeded random tensors. On a software adapter (lavapipe) the two large GEMMs use
 * `--mm-rows` rows (default 2048) instead of N and the all-pairs ssl loss N = 4096 (`--ssl-n`); `--full` forces
 * the full sizes. Every row states the shapes used.
 *
 * GPU time per call: R calls recorded into one submission, `await be.flush()`, wall time / R (median of
 * `--runs` runs after a warm-up call that compiles the pipelines), plus the timestamp-query GPU time of R calls
 * when the adapter has 'timestamp-query'. CPU twin: the same op on `CpuBackend({ precision: 'f32' })` in this
 * process, on the same shape or a smaller one (stated), scaled to the GPU shape by the ratio of the work
 * model (bytes or FLOPs) below, which is linear in the size that was reduced.
 *
 * Throughput: GB/s = bytes / time for memory-bound kernels (a compulsory-traffic model: every input element read
 * once per use, gathered rows counted once per edge, outputs written once; caches not modelled), GFLOP/s =
 * nominal multiply-adds × 2 / time for the dense ones (exp, max and normalisation not counted). The copy row
 * (`be.copy` = copyBufferToBuffer, 2 bytes moved per byte copied) is the adapter's memory-bandwidth roof; the
 * shader-copy row (a WGSL kernel streaming N·d floats as vec4, 4 per invocation, grid-strided) is the roof a
 * compute kernel can reach on this adapter — far below memcpy on a CPU emulator, where every invocation's
 * loads are lane-by-lane scalar accesses.
 *
 * With --only, the rows not selected are kept from the previous bench/results/kernels.json (stated in the
 * header), so one kernel can be re-measured without re-running the whole table.
 *
 * Output: a markdown table on stdout and in bench/results/kernels.md, the raw numbers in bench/results/kernels.json
 * (`--out DIR`: in DIR). `--quick` (bench/gpu.sh): --runs 1, --target-ms 50 and, on a software adapter,
 * --mm-rows 512 --ssl-n 1024.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildGraph, type Graph } from '../src/data/graph.js';
import { loadDatasetDir, createBackend } from '../src/node/index.js';
import { edgeWeights, edgeWeightsBackward, type EdgeGraph } from '../src/ops/adaptive.js';
import { matmul } from '../src/ops/dense.js';
import { disposeRowGroups, gatherRows, rowGroups, scatterAddRows } from '../src/ops/gather.js';
import { bpr, infoNce } from '../src/ops/losses.js';
import { ADAM_DEFAULTS, adamStep } from '../src/ops/optim.js';
import { normalizeRows, normalizeRowsCpu, softmaxRows } from '../src/ops/rowwise.js';
import { type Csr, csrTensor, disposeCsr, spmm } from '../src/ops/spmm.js';
import { sslContrastive } from '../src/ops/ssl.js';
import { Kernel, grid1d } from '../src/gpu/kernel.js';
import { itmLoss, normalizeRowsBackward, softmaxRowsBackward } from '../src/ops/rowwise.js';
import { type Backend, CpuBackend, type Tensor, asGpu } from '../src/ops/tensor.js';
import { scoreTopK } from '../src/ops/topk.js';
import { Rng } from '../src/util/random.js';
import {
  DATA_ROOT,
  GpuProfiler,
  type Timing,
  adapterOf,
  fmt,
  headerLines,
  intFlag,
  listFlag,
  load,
  log,
  machineInfo,
  markdownTable,
  randomArray,
  randomIds,
  resultsDir,
  setResultsDir,
  timeCpu,
  timeGpu,
  writeResults,
} from './common.js';

const { values: flags } = parseArgs({
  options: {
    'data-root': { type: 'string', default: DATA_ROOT },
    only: { type: 'string' },
    'mm-rows': { type: 'string' },
    'ssl-n': { type: 'string' },
    runs: { type: 'string' },
    'target-ms': { type: 'string' },
    full: { type: 'boolean', default: false },
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  process.stdout.write('usage: node bench/run.mjs bench/kernels.ts [--data-root DIR] [--only a,b] [--mm-rows R] [--ssl-n N] [--runs 3] [--target-ms 300] [--full] [--out DIR] [--quick]\n');
  process.exit(0);
}

type Metric = 'GB/s' | 'GFLOP/s';

/** One benchmark row: an op at a GPU shape and (possibly smaller) CPU-twin shape. */
interface Case<P> {
  /** Short id used by --only. */
  id: string;
  kernel: string;
  metric: Metric;
  /** The work model, stated in the output. */
  formula: string;
  gpu: P;
  cpu: P;
  shape: (p: P) => string;
  /** Bytes or FLOPs at shape p. */
  amount: (p: P) => number;
  /** Allocate inputs on `be` and return a function that records / runs one call. */
  build: (be: Backend, p: P) => { run: () => void; dispose: () => void };
  /** Why the CPU twin uses a smaller shape (when it does). */
  cpuNote?: string;
  /** No compute kernel (copyBufferToBuffer): the timestamp profiler does not see it. */
  noDispatch?: boolean;
}

// ------------------------------------------------------------------------------------------------
// Setup

setResultsDir(flags.out);
const quick = flags.quick;
const runs = intFlag(flags.runs, quick ? 1 : 3, 'runs');
const targetMs = intFlag(flags['target-ms'], quick ? 50 : 300, 'target-ms');
const gpuBe = await createBackend({ backend: 'webgpu' });
const cpuBe = new CpuBackend({ precision: 'f32' });
const machine = machineInfo(gpuBe);
const software = adapterOf(gpuBe).software;
const full = flags.full || !software;
const amazonDir = join(String(flags['data-root']), 'amazon');
log(`adapter: ${machine.adapter}; load ${machine.loadStart.join(' / ')}; loading ${amazonDir}`);
const ds = await loadDatasetDir(amazonDir);
const graph: Graph = buildGraph(ds);
const N = graph.n;
const NNZ = graph.nnz;
const D = 32;
const TEXT = 1536;
const HIDDEN = Math.floor((TEXT + D) / 2); // 784, spec §1.8
const BATCH = 4096;
const mmRows = flags['mm-rows'] !== undefined ? intFlag(flags['mm-rows'], 2048, 'mm-rows') : full ? N : quick ? 512 : 2048;
const sslN = flags['ssl-n'] !== undefined ? intFlag(flags['ssl-n'], 4096, 'ssl-n') : full ? N : quick ? 1024 : 4096;
log(`amazon graph: N = ${N} nodes (${graph.numUsers} users + ${graph.numItems} items), ${NNZ} directed edges; matmul rows ${mmRows}, ssl N ${sslN}`);

const F = 4; // bytes per f32 / u32

/** Tensors created by a build, disposed together. */
function tracker() {
  const ts: Tensor[] = [];
  const csrs: Csr[] = [];
  return {
    t<T extends Tensor>(x: T): T {
      ts.push(x);
      return x;
    },
    csr(c: Csr): Csr {
      csrs.push(c);
      return c;
    },
    dispose() {
      for (const x of ts) x.dispose();
      for (const c of csrs) disposeCsr(c);
    },
  };
}

function randTensor(be: Backend, rng: Rng, shape: number[], label: string, lo = -1, hi = 1): Tensor {
  return be.tensor(randomArray(rng, shape.reduce((a, b) => a * b, 1), lo, hi), shape, 'f32', label);
}

/** Graph tensors of the amazon training graph on `be`. */
function graphTensors(be: Backend, tr: ReturnType<typeof tracker>): { adj: Csr; edges: EdgeGraph } {
  const adj = tr.csr(csrTensor(be, { rows: N, cols: N, rowPtr: graph.rowPtr, colIdx: graph.colIdx, values: graph.values }, 'adj'));
  const rev = tr.t(be.tensor(graph.rev, [NNZ], 'u32', 'rev'));
  return { adj, edges: { n: N, nnz: NNZ, rowPtr: adj.rowPtr, colIdx: adj.colIdx, rev } };
}

/** Rows of unit length (what the edge weights see: Ĉ is hard-normalised). */
function unitRows(be: Backend, rng: Rng, rows: number, d: number, label: string): Tensor {
  const raw = randomArray(rng, rows * d);
  const out = new Float32Array(rows * d);
  normalizeRowsCpu(rows, d, raw, out, 'hard');
  return be.tensor(out, [rows, d], 'f32', label);
}

function def<P>(c: Case<P>): Case<unknown> {
  return c as unknown as Case<unknown>;
}

/** A streaming copy in a compute shader: B = A over n4 vec4s, PER per invocation at a grid stride (coalesced). */
const SHADER_COPY_PER = 4;
const shaderCopyKernel = new Kernel({
  name: 'bench.shaderCopy',
  code: /* wgsl */ `
override WG: u32 = 64u;
override PER: u32 = 4u;
@group(0) @binding(0) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> B: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> params: Params;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = flat_workgroup(wid, nwg) * WG + lid;
  let stride = nwg.x * nwg.y * WG;
  for (var k = 0u; k < PER; k = k + 1u) {
    let i = t + k * stride;
    if (i < params.n4) { B[i] = A[i]; }
  }
}`,
  storage: ['read', 'rw'],
  params: { n4: 'u32' },
});

// ------------------------------------------------------------------------------------------------
// The cases

const cases: Case<unknown>[] = [
  def<{ floats: number }>({
    id: 'copy',
    kernel: 'copy (be.copy, copyBufferToBuffer)',
    metric: 'GB/s',
    formula: 'bytes = 2·4·n (read + write)',
    gpu: { floats: 16 * 1024 * 1024 },
    cpu: { floats: 16 * 1024 * 1024 },
    shape: (p) => `${p.floats / (1024 * 1024)}M f32 (${(p.floats * F) / 2 ** 20} MiB)`,
    amount: (p) => 2 * F * p.floats,
    build: (be, p) => {
      const tr = tracker();
      const src = tr.t(randTensor(be, new Rng(1), [p.floats], 'copy.src'));
      const dst = tr.t(be.zeros([p.floats], 'f32', 'copy.dst'));
      return { run: () => be.copy(src, dst), dispose: tr.dispose };
    },
    noDispatch: true,
  }),
  def<{ rows: number; d: number }>({
    id: 'copy-shader',
    kernel: 'copy (WGSL kernel, vec4, 4 per invocation)',
    metric: 'GB/s',
    formula: 'bytes = 2·4·n (read + write)',
    gpu: { rows: N, d: D },
    cpu: { rows: N, d: D },
    shape: (p) => `N·d = ${p.rows}×${p.d} f32 (${fmt((p.rows * p.d * F) / 2 ** 20)} MiB)`,
    amount: (p) => 2 * F * p.rows * p.d,
    build: (be, p) => {
      const tr = tracker();
      const src = tr.t(randTensor(be, new Rng(1), [p.rows, p.d], 'copy.src'));
      const dst = tr.t(be.zeros([p.rows, p.d], 'f32', 'copy.dst'));
      if (be.kind === 'cpu') return { run: () => dst.f.set(src.f), dispose: tr.dispose };
      const g = asGpu(be);
      const n4 = (p.rows * p.d) / 4;
      const grid = grid1d(Math.ceil(n4 / (64 * SHADER_COPY_PER)), g.ctx.limits.maxComputeWorkgroupsPerDimension);
      return { run: () => g.recorder.dispatch(shaderCopyKernel, [src.buffer, dst.buffer], { n4 }, grid, { WG: 64, PER: SHADER_COPY_PER }), dispose: tr.dispose };
    },
  }),
  def<{ d: number }>({
    id: 'spmm',
    kernel: 'spmm Y = Â·E',
    metric: 'GB/s',
    formula: 'bytes = 4·(N+1 + 2·nnz + nnz·d + N·d) (rowPtr, colIdx, values, one gathered row per edge, Y written)',
    gpu: { d: D },
    cpu: { d: D },
    shape: (p) => `N=${N}, nnz=${NNZ}, d=${p.d}`,
    amount: (p) => F * (N + 1 + 2 * NNZ + NNZ * p.d + N * p.d),
    build: (be, p) => {
      const tr = tracker();
      const { adj } = graphTensors(be, tr);
      const x = tr.t(randTensor(be, new Rng(2), [N, p.d], 'E'));
      const y = tr.t(be.zeros([N, p.d], 'f32', 'Y'));
      return { run: () => spmm(be, adj, x, y), dispose: tr.dispose };
    },
  }),
  def<{ d: number }>({
    id: 'spmm-t',
    kernel: 'spmm Y = Âᵀ·E (values through the reverse-edge index)',
    metric: 'GB/s',
    formula: 'bytes = 4·(N+1 + 3·nnz + nnz·d + 2·N·d) (as spmm plus the index read and Y read for +=; values[rev[e]] counted once per edge)',
    gpu: { d: D },
    cpu: { d: D },
    shape: (p) => `N=${N}, nnz=${NNZ}, d=${p.d}`,
    amount: (p) => F * (N + 1 + 3 * NNZ + NNZ * p.d + 2 * N * p.d),
    build: (be, p) => {
      const tr = tracker();
      const { adj, edges } = graphTensors(be, tr);
      const x = tr.t(randTensor(be, new Rng(2), [N, p.d], 'gY'));
      const y = tr.t(be.zeros([N, p.d], 'f32', 'gE'));
      return { run: () => spmm(be, adj, x, y, { values: adj.values, valueIndex: edges.rev, accumulate: true }), dispose: tr.dispose };
    },
  }),
  def<{ rows: number }>({
    id: 'matmul-fwd',
    kernel: 'matmul H = X·W1ᵀ + b1 (MLP layer 1, transB)',
    metric: 'GFLOP/s',
    formula: `FLOPs = 2·rows·${HIDDEN}·${TEXT}`,
    gpu: { rows: mmRows },
    cpu: { rows: 64 },
    shape: (p) => `X ${p.rows}×${TEXT} · (W1 ${HIDDEN}×${TEXT})ᵀ`,
    amount: (p) => 2 * p.rows * HIDDEN * TEXT,
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(3);
      const x = tr.t(randTensor(be, rng, [p.rows, TEXT], 'X'));
      const w = tr.t(randTensor(be, rng, [HIDDEN, TEXT], 'W1', -0.05, 0.05));
      const b = tr.t(randTensor(be, rng, [HIDDEN], 'b1'));
      const h = tr.t(be.zeros([p.rows, HIDDEN], 'f32', 'H'));
      return { run: () => matmul(be, x, w, h, { transB: true, bias: b }), dispose: tr.dispose };
    },
    cpuNote: 'rows reduced',
  }),
  def<{ rows: number }>({
    id: 'matmul-wgrad',
    kernel: 'matmul ∂W1 += gHᵀ·X (weight gradient, transA)',
    metric: 'GFLOP/s',
    formula: `FLOPs = 2·${HIDDEN}·${TEXT}·rows`,
    gpu: { rows: mmRows },
    cpu: { rows: 64 },
    shape: (p) => `(gH ${p.rows}×${HIDDEN})ᵀ · X ${p.rows}×${TEXT}`,
    amount: (p) => 2 * p.rows * HIDDEN * TEXT,
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(4);
      const gh = tr.t(randTensor(be, rng, [p.rows, HIDDEN], 'gH'));
      const x = tr.t(randTensor(be, rng, [p.rows, TEXT], 'X'));
      const dw = tr.t(be.zeros([HIDDEN, TEXT], 'f32', 'dW1'));
      return { run: () => matmul(be, gh, x, dw, { transA: true, accumulate: true }), dispose: tr.dispose };
    },
    cpuNote: 'rows reduced',
  }),
  def<{ rows: number }>({
    id: 'matmul-l2',
    kernel: 'matmul O = A·W2ᵀ + b2 (MLP layer 2, transB)',
    metric: 'GFLOP/s',
    formula: `FLOPs = 2·rows·${D}·${HIDDEN}`,
    gpu: { rows: N },
    cpu: { rows: 1024 },
    shape: (p) => `A ${p.rows}×${HIDDEN} · (W2 ${D}×${HIDDEN})ᵀ`,
    amount: (p) => 2 * p.rows * D * HIDDEN,
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(5);
      const a = tr.t(randTensor(be, rng, [p.rows, HIDDEN], 'A'));
      const w = tr.t(randTensor(be, rng, [D, HIDDEN], 'W2', -0.05, 0.05));
      const b = tr.t(randTensor(be, rng, [D], 'b2'));
      const o = tr.t(be.zeros([p.rows, D], 'f32', 'O'));
      return { run: () => matmul(be, a, w, o, { transB: true, bias: b }), dispose: tr.dispose };
    },
    cpuNote: 'rows reduced',
  }),
  def<{ rows: number; cols: number }>({
    id: 'softmax',
    kernel: 'softmaxRows',
    metric: 'GB/s',
    formula: 'bytes = 2·4·rows·cols',
    gpu: { rows: N, cols: 128 },
    cpu: { rows: N, cols: 128 },
    shape: (p) => `${p.rows}×${p.cols}`,
    amount: (p) => 2 * F * p.rows * p.cols,
    build: (be, p) => {
      const tr = tracker();
      const x = tr.t(randTensor(be, new Rng(6), [p.rows, p.cols], 'S', -5, 5));
      const y = tr.t(be.zeros([p.rows, p.cols], 'f32', 'Pi'));
      return { run: () => softmaxRows(be, x, y), dispose: tr.dispose };
    },
  }),
  def<{ rows: number; cols: number }>({
    id: 'softmax-bwd',
    kernel: 'softmaxRowsBackward (accumulate)',
    metric: 'GB/s',
    formula: 'bytes = 4·4·rows·cols (y, gY, gX read; gX written)',
    gpu: { rows: N, cols: 128 },
    cpu: { rows: N, cols: 128 },
    shape: (p) => `${p.rows}×${p.cols}`,
    amount: (p) => 4 * F * p.rows * p.cols,
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(18);
      const y = tr.t(be.zeros([p.rows, p.cols], 'f32', 'Pi'));
      softmaxRows(be, tr.t(randTensor(be, rng, [p.rows, p.cols], 'S', -5, 5)), y);
      const gY = tr.t(randTensor(be, rng, [p.rows, p.cols], 'gPi'));
      const gX = tr.t(be.zeros([p.rows, p.cols], 'f32', 'gS'));
      return { run: () => softmaxRowsBackward(be, y, gY, gX, { accumulate: true }), dispose: tr.dispose };
    },
  }),
  def<{ rows: number; cols: number }>({
    id: 'normalize',
    kernel: "normalizeRows (mode 'hard')",
    metric: 'GB/s',
    formula: 'bytes = 2·4·rows·cols',
    gpu: { rows: N, cols: D },
    cpu: { rows: N, cols: D },
    shape: (p) => `${p.rows}×${p.cols}`,
    amount: (p) => 2 * F * p.rows * p.cols,
    build: (be, p) => {
      const tr = tracker();
      const x = tr.t(randTensor(be, new Rng(7), [p.rows, p.cols], 'C'));
      const y = tr.t(be.zeros([p.rows, p.cols], 'f32', 'Chat'));
      return { run: () => normalizeRows(be, x, y, { mode: 'hard' }), dispose: tr.dispose };
    },
  }),
  def<{ rows: number; cols: number }>({
    id: 'normalize-bwd',
    kernel: "normalizeRowsBackward (mode 'soft', accumulate)",
    metric: 'GB/s',
    formula: 'bytes = 4·4·rows·cols (x, gY, gX read; gX written)',
    gpu: { rows: N, cols: D },
    cpu: { rows: N, cols: D },
    shape: (p) => `${p.rows}×${p.cols}`,
    amount: (p) => 4 * F * p.rows * p.cols,
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(19);
      const x = tr.t(randTensor(be, rng, [p.rows, p.cols], 'C'));
      const gY = tr.t(randTensor(be, rng, [p.rows, p.cols], 'gChat'));
      const gX = tr.t(be.zeros([p.rows, p.cols], 'f32', 'gC'));
      return { run: () => normalizeRowsBackward(be, x, gY, gX, { mode: 'soft', accumulate: true }), dispose: tr.dispose };
    },
  }),
  def<{ rows: number; cols: number }>({
    id: 'itm',
    kernel: 'itmLoss + gZ (accumulate)',
    metric: 'GB/s',
    formula: 'bytes = 4·(4·rows·cols + rows) (z, t, gZ read; gZ written; row losses; their final sum not counted)',
    gpu: { rows: N, cols: D },
    cpu: { rows: N, cols: D },
    shape: (p) => `${p.rows}×${p.cols}`,
    amount: (p) => F * (4 * p.rows * p.cols + p.rows),
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(20);
      const z = tr.t(randTensor(be, rng, [p.rows, p.cols], 'z', -3, 3));
      const t = tr.t(randTensor(be, rng, [p.rows, p.cols], 'T', -3, 3));
      const gZ = tr.t(be.zeros([p.rows, p.cols], 'f32', 'gZ'));
      const out = tr.t(be.zeros([8], 'f32', 'losses'));
      return { run: () => itmLoss(be, z, t, out, 5, { lossScale: -0.6 / p.rows, gradScale: 0.6 / p.rows, gZ, accumulate: true }), dispose: tr.dispose };
    },
  }),
  def<{ batch: number }>({
    id: 'gather',
    kernel: 'gatherRows',
    metric: 'GB/s',
    formula: 'bytes = 4·B + 2·4·B·d (ids, rows read, rows written)',
    gpu: { batch: BATCH },
    cpu: { batch: BATCH },
    shape: (p) => `B=${p.batch} rows of ${N}×${D}`,
    amount: (p) => F * p.batch + 2 * F * p.batch * D,
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(8);
      const src = tr.t(randTensor(be, rng, [N, D], 'E_fin'));
      const ids = tr.t(be.tensor(randomIds(rng, p.batch, N), [p.batch], 'u32', 'ids'));
      const dst = tr.t(be.zeros([p.batch, D], 'f32', 'x_u'));
      return { run: () => gatherRows(be, src, ids, dst), dispose: tr.dispose };
    },
  }),
  def<{ batch: number }>({
    id: 'scatter',
    kernel: 'scatterAddRows',
    metric: 'GB/s',
    formula: 'bytes = 4·B·d + 2·4·U·d + 4·(2U + 1 + B) (batch rows, U distinct rows read + written, groups)',
    gpu: { batch: BATCH },
    cpu: { batch: BATCH },
    shape: (p) => `B=${p.batch} rows into ${N}×${D}`,
    amount: (p) => {
      const u = distinctCount(randomIds(new Rng(9), p.batch, N));
      return F * p.batch * D + 2 * F * u * D + F * (2 * u + 1 + p.batch);
    },
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(9);
      const ids = randomIds(rng, p.batch, N);
      const groups = rowGroups(be, ids, N, 'batch');
      const src = tr.t(randTensor(be, rng, [p.batch, D], 'g_b'));
      const dst = tr.t(be.zeros([N, D], 'f32', 'gF'));
      return {
        run: () => scatterAddRows(be, src, groups, dst),
        dispose: () => {
          tr.dispose();
          disposeRowGroups(groups);
        },
      };
    },
  }),
  def<{ d: number }>({
    id: 'edge-fwd',
    kernel: 'edgeWeights (α, D, ρ, G)',
    metric: 'GB/s',
    formula: 'bytes = 4·(nnz·(2 + 2d + 1) + N+1 + 2·nnz + N) (per edge: colIdx, rev, both rows of Ĉ, α written; row sums, ρ)',
    gpu: { d: D },
    cpu: { d: D },
    shape: (p) => `N=${N}, nnz=${NNZ}, d=${p.d}`,
    amount: (p) => F * (NNZ * (2 + 2 * p.d + 1) + N + 1 + 2 * NNZ + N),
    build: (be, p) => {
      const tr = tracker();
      const { edges } = graphTensors(be, tr);
      const cHat = tr.t(unitRows(be, new Rng(10), N, p.d, 'Chat'));
      const G = tr.t(be.zeros([NNZ], 'f32', 'G'));
      const rho = tr.t(be.zeros([N], 'f32', 'rho'));
      return { run: () => edgeWeights(be, edges, cHat, G, rho), dispose: tr.dispose };
    },
  }),
  def<{ d: number }>({
    id: 'edge-bwd',
    kernel: 'edgeWeightsBackward (γ, β, gĈ)',
    metric: 'GB/s',
    formula:
      'bytes = 4·(nnz·(2 + 2d + 1) + (N+1 + 3·nnz + N) + (N+1 + nnz·(3 + d) + N·d)) (γ per edge: two rows; β: row pass; gĈ: β_e, β_rev, colIdx and one row of Ĉ per edge, N·d written)',
    gpu: { d: D },
    cpu: { d: D },
    shape: (p) => `N=${N}, nnz=${NNZ}, d=${p.d}`,
    amount: (p) => F * (NNZ * (2 + 2 * p.d + 1) + (N + 1 + 3 * NNZ + N) + (N + 1 + NNZ * (3 + p.d) + N * p.d)),
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(11);
      const { edges } = graphTensors(be, tr);
      const cHat = tr.t(unitRows(be, rng, N, p.d, 'Chat'));
      const G = tr.t(be.zeros([NNZ], 'f32', 'G'));
      const rho = tr.t(be.zeros([N], 'f32', 'rho'));
      edgeWeights(be, edges, cHat, G, rho); // realistic G and ρ
      const gY = tr.t(randTensor(be, rng, [N, p.d], 'gY'));
      const x = tr.t(randTensor(be, rng, [N, p.d], 'E_l'));
      const gC = tr.t(be.zeros([N, p.d], 'f32', 'gChat'));
      const scratch = tr.t(be.zeros([NNZ], 'f32', 'beta'));
      return { run: () => edgeWeightsBackward(be, edges, cHat, G, rho, gY, x, gC, { scratch }), dispose: tr.dispose };
    },
  }),
  def<{ batch: number; m: number }>({
    id: 'infonce-m',
    kernel: 'infoNce + gA, gP, gC (anchors vs all users)',
    metric: 'GFLOP/s',
    formula: 'FLOPs = 10·B·M·d (forward logits 2BMd; gA and gC sweeps each recompute the logits 2BMd and accumulate 2BMd)',
    gpu: { batch: BATCH, m: graph.numUsers },
    cpu: { batch: 128, m: graph.numUsers },
    shape: (p) => `B=${p.batch} vs M=${p.m}, d=${D}`,
    amount: (p) => 10 * p.batch * p.m * D,
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(12);
      const a = tr.t(randTensor(be, rng, [p.batch, D], 'a'));
      const pos = tr.t(randTensor(be, rng, [p.batch, D], 'p'));
      const c = tr.t(randTensor(be, rng, [p.m, D], 'c'));
      const out = tr.t(be.zeros([8], 'f32', 'losses'));
      const gA = tr.t(be.zeros([p.batch, D], 'f32', 'gA'));
      const gP = tr.t(be.zeros([p.batch, D], 'f32', 'gP'));
      const gC = tr.t(be.zeros([p.m, D], 'f32', 'gC'));
      return { run: () => infoNce(be, a, pos, c, out, 2, { tau: 0.2, scale: 1e-2 / p.batch, gA, gP, gC }), dispose: tr.dispose };
    },
    cpuNote: 'anchors reduced',
  }),
  def<{ batch: number }>({
    id: 'infonce-b',
    kernel: 'infoNce + gA, gP = gC (in-batch items)',
    metric: 'GFLOP/s',
    formula: 'FLOPs = 10·B·B·d (as above with M = B)',
    gpu: { batch: BATCH },
    cpu: { batch: 512 },
    shape: (p) => `B=${p.batch} vs M=${p.batch}, d=${D}`,
    amount: (p) => 10 * p.batch * p.batch * D,
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(13);
      const a = tr.t(randTensor(be, rng, [p.batch, D], 'a'));
      const t = tr.t(randTensor(be, rng, [p.batch, D], 't'));
      const out = tr.t(be.zeros([8], 'f32', 'losses'));
      const gA = tr.t(be.zeros([p.batch, D], 'f32', 'gA'));
      const gT = tr.t(be.zeros([p.batch, D], 'f32', 'gT'));
      return { run: () => infoNce(be, a, t, t, out, 2, { tau: 0.2, scale: 1e-2 / p.batch, gA, gP: gT, gC: gT, accumulate: true }), dispose: tr.dispose };
    },
    cpuNote: 'B reduced (quadratic scaling)',
  }),
  def<{ batch: number }>({
    id: 'bpr',
    kernel: 'bpr + gU, gP, gQ',
    metric: 'GB/s',
    formula: 'bytes = 4·(3·B·d read + 3·B·d written + B row losses)',
    gpu: { batch: BATCH },
    cpu: { batch: BATCH },
    shape: (p) => `B=${p.batch}, d=${D}`,
    amount: (p) => F * (6 * p.batch * D + p.batch),
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(14);
      const [u, pp, q] = ['u', 'p', 'q'].map((l) => tr.t(randTensor(be, rng, [p.batch, D], l)));
      const [gU, gP, gQ] = ['gU', 'gP', 'gQ'].map((l) => tr.t(be.zeros([p.batch, D], 'f32', l)));
      const out = tr.t(be.zeros([8], 'f32', 'losses'));
      return { run: () => bpr(be, u, pp, q, out, 0, { scale: 1 / p.batch, gU, gP, gQ }), dispose: tr.dispose };
    },
  }),
  def<{ n: number }>({
    id: 'ssl',
    kernel: 'sslContrastive + gX, gY (all pairs)',
    metric: 'GFLOP/s',
    formula: 'FLOPs = 10·N²·d (row statistics 2N²d; gX and gY sweeps each recompute 2N²d and accumulate 2N²d)',
    gpu: { n: sslN },
    cpu: { n: 512 },
    shape: (p) => `N=${p.n}, d=${D}`,
    amount: (p) => 10 * p.n * p.n * D,
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(15);
      const x = tr.t(randTensor(be, rng, [p.n, D], 'Xs'));
      const y = tr.t(randTensor(be, rng, [p.n, D], 'Ys'));
      const gX = tr.t(be.zeros([p.n, D], 'f32', 'gXs'));
      const gY = tr.t(be.zeros([p.n, D], 'f32', 'gYs'));
      const out = tr.t(be.zeros([8], 'f32', 'losses'));
      return { run: () => sslContrastive(be, x, y, out, 4, { tau: 1, scale: 1e-7 / p.n, gX, gY }), dispose: tr.dispose };
    },
    cpuNote: 'N reduced (quadratic scaling)',
  }),
  def<{ rows: number }>({
    id: 'adam',
    kernel: 'adamStep',
    metric: 'GB/s',
    formula: 'bytes = 4·7·n (param, grad, m, v read; param, m, v written)',
    gpu: { rows: N },
    cpu: { rows: N },
    shape: (p) => `${p.rows}×${D} (E0)`,
    amount: (p) => 7 * F * p.rows * D,
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(16);
      const param = tr.t(randTensor(be, rng, [p.rows, D], 'E0'));
      const grad = tr.t(randTensor(be, rng, [p.rows, D], 'grad', -1e-3, 1e-3));
      const m = tr.t(be.zeros([p.rows, D], 'f32', 'm'));
      const v = tr.t(be.zeros([p.rows, D], 'f32', 'v'));
      let step = 0;
      return { run: () => adamStep(be, param, grad, m, v, { ...ADAM_DEFAULTS, step: ++step, l2: 1e-7 }), dispose: tr.dispose };
    },
  }),
  def<{ users: number }>({
    id: 'topk',
    kernel: 'scoreTopK k=20 (training items masked)',
    metric: 'GFLOP/s',
    formula: 'FLOPs = 2·R·n·d (the scores; selection not counted)',
    gpu: { users: 1000 },
    cpu: { users: 100 },
    shape: (p) => `R=${p.users} users × n=${graph.numItems} items, d=${D}`,
    amount: (p) => 2 * p.users * graph.numItems * D,
    build: (be, p) => {
      const tr = tracker();
      const rng = new Rng(17);
      const users = tr.t(randTensor(be, rng, [p.users, D], 'users'));
      const items = tr.t(randTensor(be, rng, [graph.numItems, D], 'items'));
      // The users' training items (users 0 … R−1 of amazon), as in evaluation.
      const nu = graph.numUsers;
      const rowPtr = new Uint32Array(p.users + 1);
      for (let r = 0; r < p.users; r++) rowPtr[r + 1] = graph.rowPtr[r + 1];
      const colIdx = Uint32Array.from(graph.colIdx.subarray(0, rowPtr[p.users]), (c) => c - nu);
      const exclude = tr.csr(csrTensor(be, { rows: p.users, cols: graph.numItems, rowPtr, colIdx }, 'seen'));
      const ids = tr.t(be.zeros([p.users, 20], 'u32', 'topIds'));
      const vals = tr.t(be.zeros([p.users, 20], 'f32', 'topVals'));
      return { run: () => scoreTopK(be, users, items, 20, ids, vals, { exclude, maskValue: -1e8 }), dispose: tr.dispose };
    },
    cpuNote: 'users reduced',
  }),
];

function distinctCount(ids: Uint32Array): number {
  return new Set(ids).size;
}

// ------------------------------------------------------------------------------------------------
// Run

const only = listFlag(flags.only, []);
const selected = only.length ? cases.filter((c) => only.includes(c.id)) : cases;
if (only.length && selected.length !== only.length) {
  const known = cases.map((c) => c.id);
  throw new Error(`--only: unknown kernel id(s) ${only.filter((o) => !known.includes(o)).join(', ')} (known: ${known.join(', ')})`);
}

interface Row {
  id: string;
  kernel: string;
  metric: Metric;
  formula: string;
  gpuShape: string;
  gpu: Timing;
  gpuTimestampMs: number | null;
  gpuKernels: { kernel: string; calls: number; ms: number }[] | null;
  throughput: number;
  cpuShape: string;
  cpu: Timing;
  /** CPU ms scaled to the GPU shape by amount(gpu) / amount(cpu). */
  cpuScaledMs: number;
  cpuScale: number;
  speedup: number;
  load1: number;
  cpuNote?: string;
  /** The copy and shader-copy roofs (GB/s) of the run that measured this row (null: not measured in it). */
  roofs?: { copy: number | null; shader: number | null };
}

const profiler = new GpuProfiler(gpuBe);
const rows: Row[] = [];
const t0 = performance.now();
for (const c of selected) {
  const tc = performance.now();
  const g = c.build(gpuBe, c.gpu);
  // Compile the pipelines on the small (CPU-twin) shape when it differs: the same kernels and constants.
  const small = c.cpu !== c.gpu && c.shape(c.cpu) !== c.shape(c.gpu) ? c.build(gpuBe, c.cpu) : null;
  const gpu = await timeGpu(gpuBe, g.run, { runs, targetMs, warmup: small?.run, profiler: c.noDispatch ? null : profiler });
  small?.dispose();
  g.dispose();
  await gpuBe.flush();
  const cb = c.build(cpuBe, c.cpu);
  const cpu = timeCpu(cb.run, { runs, targetMs });
  cb.dispose();
  const amountGpu = c.amount(c.gpu);
  const cpuScale = amountGpu / c.amount(c.cpu);
  const row: Row = {
    id: c.id,
    kernel: c.kernel,
    metric: c.metric,
    formula: c.formula,
    gpuShape: c.shape(c.gpu),
    gpu,
    gpuTimestampMs: gpu.timestampMs ?? null,
    gpuKernels: gpu.kernels ?? null,
    throughput: amountGpu / (gpu.ms * 1e6),
    cpuShape: c.shape(c.cpu),
    cpu,
    cpuScaledMs: cpu.ms * cpuScale,
    cpuScale,
    speedup: (cpu.ms * cpuScale) / gpu.ms,
    load1: load()[0],
    cpuNote: c.cpuNote,
  };
  rows.push(row);
  log(
    `${c.id.padEnd(13)} GPU ${fmt(gpu.ms)} ms (${gpu.runs.length} runs × ${gpu.reps}, warm-up ${fmt(gpu.warmupMs)} ms, timestamps ${fmt(row.gpuTimestampMs)} ms)  ` +
      `${fmt(row.throughput)} ${c.metric}  CPU ${fmt(cpu.ms)} ms @ ${row.cpuShape} → ${fmt(row.cpuScaledMs)} ms  ×${fmt(row.speedup)}  ` +
      `[${((performance.now() - tc) / 1000).toFixed(1)} s, load ${row.load1}]`,
  );
}
profiler.dispose();
const totalSeconds = (performance.now() - t0) / 1000;

// ------------------------------------------------------------------------------------------------
// Report

// Roofs of this run, stored with each row measured in it (so kept rows keep the roofs of their own run).
const runRoofs = {
  copy: rows.find((r) => r.id === 'copy')?.throughput ?? null,
  shader: rows.find((r) => r.id === 'copy-shader')?.throughput ?? null,
};
for (const r of rows) r.roofs = runRoofs;

// --only: keep the other rows of the previous results, in the table's order.
interface PreviousResults {
  machine?: { date?: string; adapter?: string };
  copyRoofGBs?: number | null;
  shaderCopyRoofGBs?: number | null;
  rows?: Row[];
}
const previousPath = join(resultsDir(), 'kernels.json');
const previous: PreviousResults | null = only.length && existsSync(previousPath) ? (JSON.parse(readFileSync(previousPath, 'utf8')) as PreviousResults) : null;
const kept = (previous?.rows ?? []).filter((r) => !rows.some((n) => n.id === r.id) && cases.some((c) => c.id === r.id));
for (const r of kept) r.roofs ??= { copy: previous?.copyRoofGBs ?? null, shader: previous?.shaderCopyRoofGBs ?? null };
if (kept.length) {
  const order = new Map(cases.map((c, i) => [c.id, i]));
  rows.push(...kept);
  rows.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}
const keptNote = kept.length
  ? [
      `re-measured in this run (--only): ${selected.map((c) => c.id).join(', ')}; the other rows (${kept.map((r) => r.id).join(', ')}) are kept from the previous results (${previous?.machine?.date ?? 'unknown date'}, ${previous?.machine?.adapter ?? 'unknown adapter'}); every row's % of roof is against the roofs of the run that measured it ('–' where that run did not measure them)`,
    ]
  : [];

const roof = runRoofs.copy ?? rows.find((r) => r.id === 'copy')?.throughput ?? null;
const shaderRoof = runRoofs.shader ?? rows.find((r) => r.id === 'copy-shader')?.throughput ?? null;
const headers = [
  'kernel',
  'GPU shape',
  'GPU ms/call (wall)',
  'GPU ms/call (timestamps)',
  'throughput',
  '% of copy roof',
  '% of shader-copy roof',
  'CPU-twin shape',
  'CPU-twin ms (measured)',
  'CPU-twin ms (scaled to GPU shape)',
  'speedup',
  'load (1 min)',
];
const table = rows.map((r) => [
  r.kernel,
  r.gpuShape,
  fmt(r.gpu.ms),
  fmt(r.gpuTimestampMs),
  `${fmt(r.throughput)} ${r.metric}`,
  r.metric === 'GB/s' && r.roofs?.copy ? `${fmt((100 * r.throughput) / r.roofs.copy)}%` : '–',
  r.metric === 'GB/s' && r.roofs?.shader ? `${fmt((100 * r.throughput) / r.roofs.shader)}%` : '–',
  r.cpuShape === r.gpuShape ? 'same' : r.cpuShape,
  fmt(r.cpu.ms),
  r.cpuScale === 1 ? fmt(r.cpuScaledMs) : `${fmt(r.cpuScaledMs)} (×${fmt(r.cpuScale)})`,
  `${fmt(r.speedup)}×`,
  r.load1,
]);

const breakdown = rows
  .filter((r) => r.gpuKernels && r.gpuKernels.length > 1)
  .map((r) => `- ${r.kernel}: ${r.gpuKernels!.map((k) => `${k.kernel} ${fmt(k.ms)} ms${k.calls !== 1 ? ` (${Number.isInteger(k.calls) ? k.calls : fmt(k.calls)} dispatches)` : ''}`).join(', ')}`);

const md = [
  ...headerLines('irllrec kernel benchmark', machine, [
    `data: the amazon training graph (${graph.numUsers} users + ${graph.numItems} items = N ${N} nodes, ${NNZ} directed edges), d = ${D}; other inputs seeded random`,
    `sizes: matmul layer-1 / weight-gradient rows ${mmRows}${mmRows !== N ? ` (not N = ${N}: software adapter; --full for N)` : ''}; ssl N = ${sslN}${sslN !== N ? ` (not ${N}: software adapter)` : ''}; batch B = ${BATCH}`,
    `GPU ms/call: R calls recorded into one submission + await flush, wall time / R (R chosen for ~${targetMs} ms per run), median of ${runs} runs after a warm-up call (on the CPU-twin shape when smaller: same pipelines); calls over 3 s get 2 runs, the second with timestamps on; timestamps: GPU timestamp queries over R calls (each dispatch in its own pass), per call${profiler.available ? '' : ' — not available on this adapter'}`,
    'CPU twin: the same op on CpuBackend f32 in the same process (single-threaded JS); a smaller shape is scaled to the GPU shape by the work ratio in parentheses (the work models are linear in the reduced size)',
    `speedup = CPU-twin ms (scaled) / GPU ms (wall); total run ${totalSeconds.toFixed(0)} s`,
    'roofs: % of copy roof = throughput / the copy (copyBufferToBuffer) row; % of shader-copy roof = throughput / the WGSL copy row (gathered rows and re-read rows count once per use, so cache hits can exceed 100%)',
    ...keptNote,
  ]),
  '',
  markdownTable(headers, table),
  '',
  'Work models (throughput = amount / GPU wall time):',
  '',
  ...rows.map((r) => `- ${r.kernel}: ${r.metric === 'GB/s' ? 'GB/s' : 'GFLOP/s'}, ${r.formula}`),
  ...(breakdown.length ? ['', 'Timestamp breakdown per call (ms):', '', ...breakdown] : []),
  '',
].join('\n');

writeResults('kernels', md, {
  machine,
  loadEnd: load(),
  totalSeconds,
  graph: { n: N, nnz: NNZ, numUsers: graph.numUsers, numItems: graph.numItems, d: D },
  sizes: { mmRows, sslN, batch: BATCH, full },
  runs,
  targetMs,
  copyRoofGBs: roof,
  shaderCopyRoofGBs: shaderRoof,
  keptFromPrevious: kept.map((r) => r.id),
  rows,
});
gpuBe.destroy();
