/**
 * Top-K recommendation for known users on the device: E_fin once, then fused scoring + top-K with the
 * users' training items removed; only ids and scores come back.
 */
import { csrRows, userItemCsr } from '../data/graph.js';
import type { Interactions } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import type { RecModel } from '../models/model.js';
import { gatherRows } from '../ops/gather.js';
import { csrTensor, disposeCsr } from '../ops/spmm.js';
import { scoreTopK } from '../ops/topk.js';

export interface Recommendation {
  ids: Uint32Array;
  scores: Float32Array;
}

export async function recommendForUsers(model: RecModel, train: Interactions | null, users: Uint32Array, opts: { k?: number; excludeSeen?: boolean } = {}): Promise<Recommendation[]> {
  const k = opts.k ?? 20;
  const be = model.be;
  const nu = model.numUsers;
  const ni = model.numItems;
  const d = model.config.embeddingDim;
  if (!Number.isInteger(k) || k < 1 || k > 100 || k > ni) throw new IrllrecError('range', `recommend: k must be an integer in 1..min(100, ${ni}), got ${k}`);
  for (let r = 0; r < users.length; r++) if (users[r] >= nu) throw new IrllrecError('range', `recommend: user ${users[r]} at position ${r} is out of range (${nu} users)`);
  const R = users.length;
  if (R === 0) return [];
  const excludeSeen = opts.excludeSeen ?? true;
  let exclude = null;
  if (excludeSeen && train) {
    const seen = csrRows(userItemCsr(nu, ni, train), users);
    exclude = csrTensor(be, { rows: R, cols: ni, ...seen }, 'recommend.seen');
  }
  const efin = model.finalEmbeddings();
  const items = be.zeros([ni, d], 'f32', 'recommend.items');
  be.copyRange(efin, nu * d, items, 0, ni * d);
  const ids = be.tensor(users, [R], 'u32', 'recommend.users');
  const u = be.zeros([R, d], 'f32', 'recommend.userEmb');
  gatherRows(be, efin, ids, u);
  const topIds = be.zeros([R, k], 'u32', 'recommend.ids');
  const topScores = be.zeros([R, k], 'f32', 'recommend.scores');
  scoreTopK(be, u, items, k, topIds, topScores, { exclude, dropMasked: true });
  const idArr = (await be.read(topIds)) as Uint32Array;
  const scArr = await be.read(topScores);
  for (const t of [efin, items, ids, u, topIds, topScores]) t.dispose();
  if (exclude) disposeCsr(exclude);
  const out: Recommendation[] = [];
  for (let r = 0; r < R; r++) {
    let n = k;
    while (n > 0 && idArr[r * k + n - 1] === 0xffffffff) n--;
    out.push({ ids: Uint32Array.from(idArr.subarray(r * k, r * k + n)), scores: Float32Array.from(scArr.subarray(r * k, r * k + n)) });
  }
  return out;
}
