/**
 * Full-ranking evaluation on the device (spec §8): E_fin from the full Â, scores of every item for each
 * evaluated user, training items masked to −1e8, top-K selected on the GPU; only the top-K ids come back.
 */
import { csrRows, userItemCsr } from '../data/graph.js';
import type { Dataset, Interactions } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import { profileSection } from '../gpu/profiler.js';
import type { RecModel } from '../models/model.js';
import { bindingLimit, checkPlan, chunkRows, planEvaluate, rowsThatFit } from '../models/plan.js';
import { gatherRows } from '../ops/gather.js';
import { csrTensor, disposeCsr } from '../ops/spmm.js';
import { TOPK_MAX_K, scoreTopKAuto } from '../ops/topk.js';
import { DEFAULT_METRICS, MetricAccumulator, type MetricName, type Metrics } from './metrics.js';

export interface EvaluateOptions {
  /** Cut-offs (default 5, 10, 20), each in 1 … min(TOPK_MAX_K, number of items). */
  ks?: number[];
  /** Metrics to compute (default recall and ndcg, the reference's; see src/train/metrics.ts for the definitions). */
  metrics?: readonly MetricName[];
  /** Receives each evaluated user's own metrics (dense user index; the means are over these). */
  onUser?: (user: number, metrics: Metrics) => void;
  /** Users scored per dispatch (bounds memory; default 2048; fewer when a chunk's buffers would exceed the device limits). */
  usersPerChunk?: number;
}

/** Per-user ground truth as CSR over users (sorted items). */
function groundTruth(numUsers: number, numItems: number, split: Interactions) {
  return userItemCsr(numUsers, numItems, split);
}

/**
 * Ranking metrics (default Recall@K and NDCG@K; `opts.metrics`) of `model` on `split` ('val' or 'test') of `data`, over the users with at least one
 * interaction in that split; only their training items are masked. Its GPU work (propagation, scoring, top-K)
 * is the 'evaluation' section of a profile.
 */
export function evaluate(model: RecModel, data: Dataset, split: 'val' | 'test', opts: EvaluateOptions = {}): Promise<Metrics & { users: number }> {
  return profileSection(model.be, 'evaluation', () => evaluateOnDevice(model, data, split, opts));
}

async function evaluateOnDevice(model: RecModel, data: Dataset, split: 'val' | 'test', opts: EvaluateOptions): Promise<Metrics & { users: number }> {
  const ks = opts.ks ?? [5, 10, 20];
  const kmax = Math.max(...ks);
  if (ks.length === 0 || kmax > TOPK_MAX_K || ks.some((k) => !Number.isInteger(k) || k < 1)) throw new IrllrecError('range', `evaluate: cut-offs must be integers in 1..${TOPK_MAX_K}, got [${ks.join(', ')}]`);
  if (kmax > data.numItems) throw new IrllrecError('range', `evaluate: K = ${kmax} exceeds the ${data.numItems} items`);
  const acc = new MetricAccumulator(ks, opts.metrics ?? DEFAULT_METRICS);
  const be = model.be;
  const nu = data.numUsers;
  const ni = data.numItems;
  const d = model.config.embeddingDim;
  const truth = groundTruth(nu, ni, data[split]);
  const train = userItemCsr(nu, ni, data.train);
  const evalUsers: number[] = [];
  for (let u = 0; u < nu; u++) if (truth.rowPtr[u + 1] > truth.rowPtr[u]) evalUsers.push(u);

  // Chunks of users whose R×d, R×K and masked-item buffers each fit one binding (R+1 row pointers ≤ 2R).
  const maxRows = rowsThatFit(be, 4 * Math.max(d, kmax, 2), Math.max(1, opts.usersPerChunk ?? 2048));
  const seenOf = (r: number) => train.rowPtr[evalUsers[r] + 1] - train.rowPtr[evalUsers[r]];
  const starts = chunkRows(evalUsers.length, maxRows, seenOf, Math.floor(bindingLimit(be) / 4));
  let maxSeen = 0;
  for (let c = 0; c + 1 < starts.length; c++) {
    let seen = 0;
    for (let r = starts[c]; r < starts[c + 1]; r++) seen += seenOf(r);
    maxSeen = Math.max(maxSeen, seen);
  }
  checkPlan(be, planEvaluate(model.planInput(), Math.min(maxRows, Math.max(1, evalUsers.length)), kmax, maxSeen), `evaluate(${split})`);

  const efin = model.finalEmbeddings();
  const items = be.zeros([ni, d], 'f32', 'eval.items');
  be.copyRange(efin, nu * d, items, 0, ni * d);
  try {
    for (let c = 0; c + 1 < starts.length; c++) {
      const users = Uint32Array.from(evalUsers.slice(starts[c], starts[c + 1]));
      const R = users.length;
      // Training items of these users, as a CSR over the chunk's rows.
      const exclude = csrTensor(be, { rows: R, cols: ni, ...csrRows(train, users) }, 'eval.seen');
      const ids = be.tensor(users, [R], 'u32', 'eval.userIds');
      const uEmb = be.zeros([R, d], 'f32', 'eval.users');
      gatherRows(be, efin, ids, uEmb);
      const topIds = be.zeros([R, kmax], 'u32', 'eval.topIds');
      const topVals = be.zeros([R, kmax], 'f32', 'eval.topScores');
      // GEMM score blocks + topK for many users, the fused kernel for a few (whichever is faster).
      scoreTopKAuto(be, uEmb, items, kmax, topIds, topVals, { exclude, maskValue: -1e8 });
      const ranked = await be.read(topIds);
      for (let r = 0; r < R; r++) {
        const u = users[r];
        const m = acc.add(ranked.subarray(r * kmax, (r + 1) * kmax), truth.colIdx.subarray(truth.rowPtr[u], truth.rowPtr[u + 1]));
        if (m && opts.onUser) opts.onUser(u, m);
      }
      for (const t of [ids, uEmb, topIds, topVals]) t.dispose();
      disposeCsr(exclude);
    }
  } finally {
    efin.dispose();
    items.dispose();
  }
  return { ...acc.result(), users: acc.users };
}
