/**
 * Full-ranking evaluation on the device (spec §8): E_fin from the full Â, scores of every item for each
 * evaluated user, training items masked to −1e8, top-K selected on the GPU; only the top-K ids come back.
 */
import { csrRows, userItemCsr } from '../data/graph.js';
import type { Dataset, Interactions } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import type { RecModel } from '../models/model.js';
import { gatherRows } from '../ops/gather.js';
import { csrTensor, disposeCsr } from '../ops/spmm.js';
import { scoreTopK } from '../ops/topk.js';
import { MetricAccumulator, type Metrics } from './metrics.js';

export interface EvaluateOptions {
  /** Cut-offs (default 5, 10, 20). */
  ks?: number[];
  /** Users scored per dispatch (bounds memory; default 2048). */
  usersPerChunk?: number;
}

/** Per-user ground truth as CSR over users (sorted items). */
function groundTruth(numUsers: number, numItems: number, split: Interactions) {
  return userItemCsr(numUsers, numItems, split);
}

/**
 * Recall@K and NDCG@K of `model` on `split` ('val' or 'test') of `data`, over the users with at least one
 * interaction in that split; only their training items are masked.
 */
export async function evaluate(model: RecModel, data: Dataset, split: 'val' | 'test', opts: EvaluateOptions = {}): Promise<Metrics & { users: number }> {
  const ks = opts.ks ?? [5, 10, 20];
  const kmax = Math.max(...ks);
  if (kmax > 100 || ks.some((k) => !Number.isInteger(k) || k < 1)) throw new IrllrecError('range', `evaluate: cut-offs must be integers in 1..100, got ${ks.join(', ')}`);
  if (kmax > data.numItems) throw new IrllrecError('range', `evaluate: K = ${kmax} exceeds the ${data.numItems} items`);
  const be = model.be;
  const nu = data.numUsers;
  const ni = data.numItems;
  const d = model.config.embeddingDim;
  const truth = groundTruth(nu, ni, data[split]);
  const train = userItemCsr(nu, ni, data.train);
  const evalUsers: number[] = [];
  for (let u = 0; u < nu; u++) if (truth.rowPtr[u + 1] > truth.rowPtr[u]) evalUsers.push(u);
  const acc = new MetricAccumulator(ks);

  const efin = model.finalEmbeddings();
  const items = be.zeros([ni, d], 'f32', 'eval.items');
  be.copyRange(efin, nu * d, items, 0, ni * d);
  const chunk = Math.max(1, opts.usersPerChunk ?? 2048);
  try {
    for (let start = 0; start < evalUsers.length; start += chunk) {
      const users = Uint32Array.from(evalUsers.slice(start, start + chunk));
      const R = users.length;
      // Training items of these users, as a CSR over the chunk's rows.
      const exclude = csrTensor(be, { rows: R, cols: ni, ...csrRows(train, users) }, 'eval.seen');
      const ids = be.tensor(users, [R], 'u32', 'eval.userIds');
      const uEmb = be.zeros([R, d], 'f32', 'eval.users');
      gatherRows(be, efin, ids, uEmb);
      const topIds = be.zeros([R, kmax], 'u32', 'eval.topIds');
      const topVals = be.zeros([R, kmax], 'f32', 'eval.topScores');
      scoreTopK(be, uEmb, items, kmax, topIds, topVals, { exclude, maskValue: -1e8 });
      const ranked = await be.read(topIds);
      for (let r = 0; r < R; r++) {
        const u = users[r];
        acc.add(ranked.subarray(r * kmax, (r + 1) * kmax), truth.colIdx.subarray(truth.rowPtr[u], truth.rowPtr[u + 1]));
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
