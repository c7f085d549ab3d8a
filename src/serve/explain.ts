/**
 * Explanations of a (user, item) pair, computed on the device and shaped for a UI.
 *
 * IRLLRec (`kind: 'intents'`): the K learnt intent prototypes are the columns of Wu (users) and Wi (items).
 * On the ranking embeddings,
 *
 *   πu = softmax(Xu[u]·Wu)  and  πi = softmax(Xi[i]·Wi)     (distributions over the K intents)
 *
 * and the intents that most connect the two are those with the largest product πu_k·πi_k. Its sum
 * A = Σ_k πu_k·πi_k is the probability that user and item, each drawing an intent from its distribution,
 * draw the same one (`intentAffinity`); each intent's `share` is πu_k·πi_k / A. The prototypes have no names:
 * each comes with `examples`, the catalogue items most typical of it (largest πi_k over all items), which is
 * what a UI can show (or `intentLabels` given when building the recommender).
 *
 * Every model (`becauseOf`): the user's own training items most similar to the item (cosine of E_fin rows),
 * the "because you liked …" evidence. LightGCN and RLMRec have no prototypes, so their explanations have
 * `kind: 'items'` with this evidence only — a heuristic, not an exact decomposition of the score.
 */
import type { IdMap } from '../data/ids.js';
import { IrllrecError } from '../errors.js';
import { matmul } from '../ops/dense.js';
import { gatherRows } from '../ops/gather.js';
import { softmaxRows } from '../ops/rowwise.js';
import { csrTensor, disposeCsr } from '../ops/spmm.js';
import type { Tensor } from '../ops/tensor.js';
import { TOPK_NONE, scoreTopK, topK } from '../ops/topk.js';
import type { PersonalizedUser } from './personalize.js';
import type { ServingTables } from './recommender.js';

/** Options of `Recommender.explain`. */
export interface ExplainOptions {
  /** Intents to return (IRLLRec; default 3, at most K). */
  intents?: number;
  /** Example items per intent (default 3, at most 15). */
  examples?: number;
  /** Training items of the user to return as evidence (default 3, at most 100). */
  becauseOf?: number;
}

/** One intent prototype's part in an explanation. */
export interface IntentContribution {
  /** Prototype index k (a column of Wu and Wi). */
  intent: number;
  /** Its display name, when `intentLabels` were given; else null. */
  label: string | null;
  /** πu_k·πi_k / Σ_j πu_j·πi_j: this intent's share of the user–item agreement (the shares of all K sum to 1). */
  share: number;
  /** πu_k: the user's weight on this intent. */
  userWeight: number;
  /** πi_k: the item's weight on this intent. */
  itemWeight: number;
  /** Catalogue items most typical of this prototype (largest πi_k), the explained item left out. */
  examples: Uint32Array;
  /** Their original ids. */
  exampleIds: string[];
}

/** One of the user's items offered as evidence. */
export interface ItemEvidence {
  item: number;
  /** Its original id. */
  itemId: string;
  /** Cosine similarity of its E_fin row to the explained item's. */
  similarity: number;
}

/** Why a user might like an item (see the module comment). */
export interface Explanation {
  item: number;
  /** The item's original id. */
  itemId: string;
  /** 'intents' for IRLLRec; 'items' for models without intent prototypes (only `becauseOf`). */
  kind: 'intents' | 'items';
  /** The ranking score Xu[u]·Xi[i]. */
  score: number;
  /** Σ_k πu_k·πi_k (IRLLRec; 0 otherwise). */
  intentAffinity: number;
  /** The top intents by πu_k·πi_k, largest first (ties → lower k); empty for 'items'. */
  intents: IntentContribution[];
  /** The user's training items most similar to the item, most similar first; the item itself left out. */
  becauseOf: ItemEvidence[];
}

const MAX_EXAMPLES = 15;
/** Per-recommender cache: the top items of each prototype, [K × (MAX_EXAMPLES + 1)] ids. */
const exampleCache = new WeakMap<ServingTables, { ids: Uint32Array; width: number }>();

function count(name: string, v: number | undefined, def: number, max: number): number {
  const x = v ?? def;
  if (!Number.isInteger(x) || x < 0 || x > max) throw new IrllrecError('range', `explain: ${name} must be an integer in 0…${max}, got ${x}`);
  return x;
}

/**
 * The most typical items of every prototype: Πi = softmax(Xi·Wi) [Ni×K], transposed on the device by a
 * product with the identity (Πiᵀ = I_K·Πiᵀ), then top-(MAX_EXAMPLES+1) per row.
 */
async function prototypeExamples(t: ServingTables): Promise<{ ids: Uint32Array; width: number }> {
  const cached = exampleCache.get(t);
  if (cached) return cached;
  const be = t.be;
  const K = t.config.numIntents;
  const ni = t.numItems;
  const width = Math.min(ni, MAX_EXAMPLES + 1);
  const logits = be.zeros([ni, K], 'f32', 'explain.itemLogits');
  const pi = be.zeros([ni, K], 'f32', 'explain.itemIntents');
  const eyeData = new Float32Array(K * K);
  for (let k = 0; k < K; k++) eyeData[k * K + k] = 1;
  const eye = be.tensor(eyeData, [K, K], 'f32', 'explain.identity');
  const piT = be.zeros([K, ni], 'f32', 'explain.itemIntentsT');
  const ids = be.zeros([K, width], 'u32', 'explain.prototypeItems');
  const vals = be.zeros([K, width], 'f32', 'explain.prototypeWeights');
  try {
    matmul(be, t.items, t.intents!.item, logits);
    softmaxRows(be, logits, pi);
    matmul(be, eye, pi, piT, { transB: true });
    topK(be, piT, width, ids, vals);
    const out = { ids: Uint32Array.from(await be.read(ids)), width };
    exampleCache.set(t, out);
    return out;
  } finally {
    for (const x of [logits, pi, eye, piT, ids, vals]) x.dispose();
  }
}

/** @internal The implementation of `Recommender.explain` for one user and a list of items. */
export async function explainPairs(t: ServingTables, user: number | PersonalizedUser, seen: Uint32Array, items: Uint32Array, opts: ExplainOptions, names: IdMap): Promise<Explanation[]> {
  const be = t.be;
  const d = t.config.embeddingDim;
  const K = t.config.numIntents;
  const withIntents = t.intents !== null;
  const nIntents = withIntents ? count('intents', opts.intents, 3, K) : 0;
  const nExamples = count('examples', opts.examples, 3, MAX_EXAMPLES);
  const nEvidence = count('becauseOf', opts.becauseOf, 3, 100);
  const m = items.length;
  if (m === 0) return [];
  const temps: Tensor[] = [];
  const tmp = (shape: number[], label: string, dtype: 'f32' | 'u32' = 'f32') => {
    const x = be.zeros(shape, dtype, `explain.${label}`);
    temps.push(x);
    return x;
  };
  const upload = (data: Uint32Array, label: string) => {
    const x = be.tensor(data, [data.length], 'u32', `explain.${label}`);
    temps.push(x);
    return x;
  };
  try {
    const u = tmp([1, d], 'user');
    if (typeof user === 'number') gatherRows(be, t.users, upload(Uint32Array.of(user), 'userId'), u);
    else be.copy(user.tensor, u);
    const itemIds = upload(items, 'itemIds');
    const it = tmp([m, d], 'items');
    gatherRows(be, t.items, itemIds, it);
    const scores = tmp([m, 1], 'scores');
    matmul(be, it, u, scores, { transB: true }); // s = Xi[items]·Xu[u]ᵀ
    const reads: Promise<ArrayLike<number>>[] = [be.read(scores)];

    let piU: Tensor | null = null;
    let piI: Tensor | null = null;
    if (withIntents) {
      const lu = tmp([1, K], 'userLogits');
      piU = tmp([1, K], 'userIntents');
      matmul(be, u, t.intents!.user, lu);
      softmaxRows(be, lu, piU);
      const li = tmp([m, K], 'itemLogits');
      piI = tmp([m, K], 'itemIntents');
      matmul(be, it, t.intents!.item, li);
      softmaxRows(be, li, piI);
      reads.push(be.read(piU), be.read(piI));
    }

    // Evidence: cosine of the item against the user's items, the item itself masked out of its own row.
    const S = seen.length;
    const kEvidence = Math.min(nEvidence, S);
    let evIds: Tensor | null = null;
    let evVals: Tensor | null = null;
    if (kEvidence > 0) {
      const norm = t.normalizedItems();
      const q = tmp([m, d], 'queryNormalized');
      gatherRows(be, norm, itemIds, q);
      const sRows = tmp([S, d], 'seenNormalized');
      gatherRows(be, norm, upload(seen, 'seenIds'), sRows);
      const rowPtr = new Uint32Array(m + 1);
      const cols: number[] = [];
      for (let r = 0; r < m; r++) {
        const p = binarySearch(seen, items[r]);
        if (p >= 0) cols.push(p);
        rowPtr[r + 1] = cols.length;
      }
      const ex = csrTensor(be, { rows: m, cols: S, rowPtr, colIdx: Uint32Array.from(cols) }, 'explain.self');
      evIds = tmp([m, kEvidence], 'evidenceIds', 'u32');
      evVals = tmp([m, kEvidence], 'evidenceSims');
      scoreTopK(be, q, sRows, kEvidence, evIds, evVals, { exclude: ex, dropMasked: true });
      disposeCsr(ex);
      reads.push(be.read(evIds), be.read(evVals));
    }
    const examples = withIntents && nIntents > 0 && nExamples > 0 ? await prototypeExamples(t) : null;
    const got = await Promise.all(reads);
    const sc = got[0];
    let next = 1;
    const pu = piU ? got[next++] : null;
    const pi = piI ? got[next++] : null;
    const eIds = evIds ? (got[next++] as Uint32Array) : null;
    const eVals = evVals ? got[next++] : null;

    const out: Explanation[] = [];
    for (let r = 0; r < m; r++) {
      const item = items[r];
      const intents: IntentContribution[] = [];
      let affinity = 0;
      if (pu && pi) {
        const w = new Float64Array(K);
        for (let k = 0; k < K; k++) {
          w[k] = pu[k] * pi[r * K + k];
          affinity += w[k];
        }
        const order = Array.from({ length: K }, (_, k) => k).sort((a, b) => w[b] - w[a] || a - b);
        for (const k of order.slice(0, nIntents)) {
          let ex = new Uint32Array(0);
          if (examples) {
            const row = examples.ids.subarray(k * examples.width, (k + 1) * examples.width);
            ex = Uint32Array.from(Array.from(row).filter((id) => id !== item && id !== TOPK_NONE).slice(0, nExamples));
          }
          intents.push({
            intent: k,
            label: t.intentLabels?.[k] ?? null,
            share: affinity > 0 ? w[k] / affinity : 0,
            userWeight: pu[k],
            itemWeight: pi[r * K + k],
            examples: ex,
            exampleIds: names.ids(ex),
          });
        }
      }
      const becauseOf: ItemEvidence[] = [];
      if (eIds && eVals) {
        for (let e = 0; e < kEvidence; e++) {
          const p = eIds[r * kEvidence + e];
          if (p === TOPK_NONE) break;
          becauseOf.push({ item: seen[p], itemId: names.id(seen[p]), similarity: eVals[r * kEvidence + e] });
        }
      }
      out.push({ item, itemId: names.id(item), kind: withIntents ? 'intents' : 'items', score: sc[r], intentAffinity: affinity, intents, becauseOf });
    }
    return out;
  } finally {
    for (const x of temps) x.dispose();
  }
}

function binarySearch(sorted: Uint32Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo] === x ? lo : -1;
}
