/**
 * Do the learnt intents mean something? IRLLRec's K prototypes (the columns of Wi) have no names; each item's
 * top intent is argmax_k Xi[i]·Wi[:, k] on the ranking embeddings (the largest πi_k of `explain`). This module
 * compares that assignment with reference labels (the synthetic data's planted intents, or a catalogue's genres)
 * by normalised mutual information and purity, next to the same scores for a chance assignment with the same
 * cluster sizes (many small clusters raise both scores by themselves).
 */
import { IrllrecError } from '../errors.js';
import type { RecModel } from '../models/model.js';
import { Rng } from '../util/random.js';

/** Each item's top intent: argmax_k of Xi[i]·Wi[:, k] (ties → lower k). IRLLRec models only. */
export async function itemTopIntents(model: RecModel): Promise<Int32Array> {
  if (!model.parts.intents) throw new IrllrecError('range', `itemTopIntents: ${model.config.kind} has no intent prototypes (IRLLRec only)`);
  const be = model.be;
  const fin = model.finalEmbeddings();
  const [x, w] = await be.readAll([fin, model.params.get('item_intent')!]);
  fin.dispose();
  const d = model.config.embeddingDim;
  const K = model.config.numIntents;
  const out = new Int32Array(model.numItems);
  for (let i = 0; i < model.numItems; i++) {
    const row = (model.numUsers + i) * d;
    let best = -Infinity;
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += x[row + c] * w[c * K + k];
      if (s > best) {
        best = s;
        out[i] = k;
      }
    }
  }
  return out;
}

export interface ClusterAgreement {
  /** Normalised mutual information, I(P;T) / ((H(P) + H(T)) / 2), in [0, 1]. */
  nmi: number;
  /** Σ over predicted clusters of their most common label's count, / items: in [0, 1]. */
  purity: number;
  /** Predicted clusters that hold at least one labelled item. */
  clusters: number;
}

/**
 * Agreement of a predicted clustering with reference labels, over the items whose label is ≥ 0 (−1 = unlabelled).
 */
export function clusterAgreement(pred: ArrayLike<number>, truth: ArrayLike<number>): ClusterAgreement {
  if (pred.length !== truth.length) throw new IrllrecError('shape', `clusterAgreement: ${pred.length} predictions but ${truth.length} labels`);
  const joint = new Map<string, number>();
  const pc = new Map<number, number>();
  const tc = new Map<number, number>();
  let n = 0;
  for (let i = 0; i < pred.length; i++) {
    if (truth[i] < 0) continue;
    n++;
    const key = `${pred[i]},${truth[i]}`;
    joint.set(key, (joint.get(key) ?? 0) + 1);
    pc.set(pred[i], (pc.get(pred[i]) ?? 0) + 1);
    tc.set(truth[i], (tc.get(truth[i]) ?? 0) + 1);
  }
  if (n === 0) return { nmi: 0, purity: 0, clusters: 0 };
  const h = (m: Map<number, number>) => [...m.values()].reduce((s, c) => s - (c / n) * Math.log(c / n), 0);
  let mi = 0;
  const bestInCluster = new Map<number, number>();
  for (const [key, c] of joint) {
    const [p, t] = key.split(',').map(Number);
    mi += (c / n) * Math.log((c * n) / (pc.get(p)! * tc.get(t)!));
    bestInCluster.set(p, Math.max(bestInCluster.get(p) ?? 0, c));
  }
  const denom = (h(pc) + h(tc)) / 2;
  const purity = [...bestInCluster.values()].reduce((a, b) => a + b, 0) / n;
  return { nmi: denom > 0 ? Math.max(0, mi / denom) : 0, purity, clusters: pc.size };
}

/** The mean agreement of `rounds` random permutations of `pred` (same cluster sizes) with `truth`: the chance level. */
export function chanceAgreement(pred: ArrayLike<number>, truth: ArrayLike<number>, rounds = 20, seed = 1): ClusterAgreement {
  const rng = new Rng(seed);
  const acc = { nmi: 0, purity: 0, clusters: 0 };
  for (let r = 0; r < rounds; r++) {
    const perm = Int32Array.from(pred);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    const a = clusterAgreement(perm, truth);
    acc.nmi += a.nmi / rounds;
    acc.purity += a.purity / rounds;
    acc.clusters += a.clusters / rounds;
  }
  return acc;
}
