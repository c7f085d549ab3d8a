/**
 * Top-K recommendation for known users on the device: E_fin once, then fused scoring + top-K with the
 * users' training items removed, in chunks of users that fit the device's binding limits; only ids and
 * scores come back.
 */
import { csrRows, userItemCsr } from '../data/graph.js';
import type { Interactions } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import type { RecModel } from '../models/model.js';
import { bindingLimit, chunkRows, rowsThatFit } from '../models/plan.js';
import { gatherRows } from '../ops/gather.js';
import { csrTensor, disposeCsr } from '../ops/spmm.js';
import { TOPK_MAX_K, scoreTopKAuto, servingBlockBytes } from '../ops/topk.js';

export interface Recommendation {
  ids: Uint32Array;
  scores: Float32Array;
}

export interface RecommendForUsersOptions {
  /** Items per user (1 … min(TOPK_MAX_K, items); default 20). */
  k?: number;
  /** Remove each user's training items (default true; needs `train`). */
  excludeSeen?: boolean;
  /** At most this many users per device chunk (default: as many as fit the binding limits). */
  chunkUsers?: number;
}

/** Top-k items of every user in `users` (dense indices), in their order. */
export async function recommendForUsers(model: RecModel, train: Interactions | null, users: Uint32Array, opts: RecommendForUsersOptions = {}): Promise<Recommendation[]> {
  const out: Recommendation[] = [];
  for await (const chunk of recommendChunks(model, train, users, opts)) out.push(...chunk.results);
  return out;
}

/**
 * `recommendForUsers` one chunk of users at a time (E_fin computed once): yields the results of users
 * `start …` of `users` as each chunk comes back from the device, for exports that stream and report progress.
 * Arguments are checked before any device work.
 */
export async function* recommendChunks(model: RecModel, train: Interactions | null, users: Uint32Array, opts: RecommendForUsersOptions = {}): AsyncGenerator<{ start: number; results: Recommendation[] }> {
  const k = opts.k ?? 20;
  const be = model.be;
  const nu = model.numUsers;
  const ni = model.numItems;
  const d = model.config.embeddingDim;
  if (!Number.isInteger(k) || k < 1 || k > TOPK_MAX_K || k > ni) throw new IrllrecError('range', `recommend: k must be an integer in 1..min(${TOPK_MAX_K}, ${ni}), got ${k}`);
  for (let r = 0; r < users.length; r++) if (users[r] >= nu) throw new IrllrecError('range', `recommend: user ${users[r]} at position ${r} is out of range (${nu} users)`);
  const chunkUsers = opts.chunkUsers ?? Infinity;
  if (!(chunkUsers >= 1)) throw new IrllrecError('range', `recommend: chunkUsers must be at least 1, got ${chunkUsers}`);
  const R = users.length;
  if (R === 0) return;
  const excludeSeen = opts.excludeSeen ?? true;
  const seenCsr = excludeSeen && train ? userItemCsr(nu, ni, train) : null;
  // Chunks of users whose R×d, R×k and excluded-item buffers each fit one binding (R+1 row pointers ≤ 2R).
  const seenOf = (r: number) => (seenCsr ? seenCsr.rowPtr[users[r] + 1] - seenCsr.rowPtr[users[r]] : 0);
  const starts = chunkRows(R, rowsThatFit(be, 4 * Math.max(d, k, 2), Math.min(R, chunkUsers)), seenCsr ? seenOf : null, Math.floor(bindingLimit(be) / 4));
  const efin = model.finalEmbeddings();
  const items = be.zeros([ni, d], 'f32', 'recommend.items');
  be.copyRange(efin, nu * d, items, 0, ni * d);
  try {
    for (let c = 0; c + 1 < starts.length; c++) {
      const out: Recommendation[] = [];
      const chunk = users.subarray(starts[c], starts[c + 1]);
      const rows = chunk.length;
      const exclude = seenCsr ? csrTensor(be, { rows, cols: ni, ...csrRows(seenCsr, chunk) }, 'recommend.seen') : null;
      const ids = be.tensor(chunk, [rows], 'u32', 'recommend.users');
      const u = be.zeros([rows, d], 'f32', 'recommend.userEmb');
      gatherRows(be, efin, ids, u);
      const topIds = be.zeros([rows, k], 'u32', 'recommend.ids');
      const topScores = be.zeros([rows, k], 'f32', 'recommend.scores');
      // GEMM score blocks + topK for many users, the fused kernel for a few (whichever is faster).
      scoreTopKAuto(be, u, items, k, topIds, topScores, { exclude, dropMasked: true, blockBytes: servingBlockBytes(be, ni) });
      const [idArr, scArr] = await be.readAll([topIds, topScores]);
      for (const t of [ids, u, topIds, topScores]) t.dispose();
      if (exclude) disposeCsr(exclude);
      for (let r = 0; r < rows; r++) {
        let n = k;
        while (n > 0 && idArr[r * k + n - 1] === 0xffffffff) n--;
        out.push({ ids: Uint32Array.from(idArr.subarray(r * k, r * k + n)), scores: Float32Array.from(scArr.subarray(r * k, r * k + n)) });
      }
      yield { start: starts[c], results: out };
    }
  } finally {
    efin.dispose();
    items.dispose();
  }
}
