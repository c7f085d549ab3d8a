/**
 * A seeded synthetic dataset with planted intents, for tests, demos and the CLI's `--synthetic` run.
 *
 * Generative story:
 *  - K intents, each a random unit vector c_k in a latent space of LATENT_DIM dimensions.
 *  - Item i has a primary intent (intents dealt round-robin over a shuffled item order, so every intent has
 *    items) and, with probability SECOND_INTENT_P, a second one: mixture m_i = 0.7·c_a + 0.3·c_b (or c_a).
 *    Items carry a Zipf-like popularity w_i = 1/(rank_i + POP_OFFSET) over a random ranking.
 *  - User u mixes 1–3 intents with random weights: m_u = Σ π_k c_k.
 *  - User u has n_u ≈ interactionsPerUser·U(0.5, 1.5) distinct items: each draw picks an intent k ~ π_u,
 *    then an item of that intent with probability ∝ membership·w_i; a fraction NOISE_P of draws ignore
 *    intents and pick ∝ w_i (noise interactions).
 *  - Split per user 60/20/20 after a shuffle; a val/test pair whose item has no training interaction moves
 *    to train, so every evaluated item is in the training graph.
 *  - Text: x = normalise(normalise(W·m) + textNoise·g/√textDim), g ~ N(0, I), with fixed random maps W
 *    (one for profiles, one for intents, shared by users and items): the text carries the intent mixture,
 *    which is what lets text rescue items with few training interactions.
 *
 * Determinism: only integer/float arithmetic that IEEE 754 rounds exactly the same everywhere (+, ·, /, √)
 * is used: normals come from the Irwin–Hall sum of 12 uniforms (no log/cos), popularity from 1/(r + c)
 * (no pow), so a seed yields bit-identical data on every platform. Browser-safe.
 */
import { IrllrecError } from '../errors.js';
import { Rng } from '../util/random.js';
import { sortDedup } from './interactions.js';
import type { Dataset, Matrix } from './types.js';

export interface SyntheticOptions {
  seed?: number;
  numUsers?: number;
  numItems?: number;
  numIntents?: number;
  textDim?: number;
  interactionsPerUser?: number;
  /** Norm of the text noise relative to the (unit) signal; 0 = text is a function of the intents. */
  textNoise?: number;
}

const LATENT_DIM = 32;
const SECOND_INTENT_P = 0.35;
const POP_OFFSET = 8;
const NOISE_P = 0.1;

/** Approximately standard normal: Irwin–Hall sum of 12 uniforms − 6 (mean 0, variance 1, support ±6). */
function gaussian(rng: Rng): number {
  let s = 0;
  for (let k = 0; k < 12; k++) s += rng.next();
  return s - 6;
}

function normalise(v: Float64Array): Float64Array {
  let ss = 0;
  for (let k = 0; k < v.length; k++) ss += v[k] * v[k];
  const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
  for (let k = 0; k < v.length; k++) v[k] *= inv;
  return v;
}

/** Index r with cum[r−1] ≤ x < cum[r] (cum ascending, x < cum[last]). */
function searchCumulative(cum: Float64Array, x: number): number {
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

class WeightedTable {
  readonly cum: Float64Array;
  constructor(
    readonly ids: number[],
    weights: number[],
  ) {
    this.cum = new Float64Array(weights.length);
    let s = 0;
    for (let k = 0; k < weights.length; k++) this.cum[k] = s += weights[k];
  }
  draw(rng: Rng): number {
    return this.ids[searchCumulative(this.cum, rng.next() * this.cum[this.cum.length - 1])];
  }
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new IrllrecError('range', `syntheticDataset: ${name} must be an integer ≥ ${min}, got ${v}`);
}

/** A seeded synthetic dataset with planted latent intents (see the file comment for the model). */
export function syntheticDataset(opts: SyntheticOptions = {}): Dataset {
  const seed = opts.seed ?? 1;
  const numUsers = opts.numUsers ?? 600;
  const numItems = opts.numItems ?? 800;
  const numIntents = opts.numIntents ?? 16;
  const textDim = opts.textDim ?? 64;
  const perUser = opts.interactionsPerUser ?? 8;
  const textNoise = opts.textNoise ?? 0.5;
  checkInt('seed', seed, -(2 ** 31));
  checkInt('numUsers', numUsers, 1);
  checkInt('numItems', numItems, 6);
  checkInt('numIntents', numIntents, 1);
  checkInt('textDim', textDim, 1);
  checkInt('interactionsPerUser', perUser, 3);
  if (numIntents > numItems) throw new IrllrecError('range', `syntheticDataset: numIntents (${numIntents}) must not exceed numItems (${numItems})`);
  if (!Number.isFinite(textNoise) || textNoise < 0) throw new IrllrecError('range', `syntheticDataset: textNoise must be a finite number ≥ 0, got ${textNoise}`);
  const rng = new Rng(seed);

  // Intent directions.
  const intentVec: Float64Array[] = [];
  for (let k = 0; k < numIntents; k++) {
    const v = new Float64Array(LATENT_DIM);
    for (let c = 0; c < LATENT_DIM; c++) v[c] = gaussian(rng);
    intentVec.push(normalise(v));
  }

  // Items: intents and popularity.
  const order = rng.shuffle(Uint32Array.from({ length: numItems }, (_, i) => i));
  const itemPrimary = new Int32Array(numItems);
  const itemSecond = new Int32Array(numItems).fill(-1);
  for (let r = 0; r < numItems; r++) itemPrimary[order[r]] = r % numIntents;
  for (let i = 0; i < numItems; i++) {
    if (numIntents > 1 && rng.next() < SECOND_INTENT_P) {
      const b = rng.int(numIntents - 1);
      itemSecond[i] = b >= itemPrimary[i] ? b + 1 : b;
    }
  }
  const popRank = rng.shuffle(Uint32Array.from({ length: numItems }, (_, i) => i));
  const popularity = new Float64Array(numItems);
  for (let i = 0; i < numItems; i++) popularity[i] = 1 / (popRank[i] + POP_OFFSET);
  const byIntentIds: number[][] = Array.from({ length: numIntents }, () => []);
  const byIntentW: number[][] = Array.from({ length: numIntents }, () => []);
  for (let i = 0; i < numItems; i++) {
    const two = itemSecond[i] >= 0;
    byIntentIds[itemPrimary[i]].push(i);
    byIntentW[itemPrimary[i]].push((two ? 0.7 : 1) * popularity[i]);
    if (two) {
      byIntentIds[itemSecond[i]].push(i);
      byIntentW[itemSecond[i]].push(0.3 * popularity[i]);
    }
  }
  const intentTables = byIntentIds.map((ids, k) => new WeightedTable(ids, byIntentW[k]));
  const globalTable = new WeightedTable(Array.from({ length: numItems }, (_, i) => i), Array.from(popularity));
  const itemMix: Float64Array[] = [];
  for (let i = 0; i < numItems; i++) {
    const m = new Float64Array(LATENT_DIM);
    const wa = itemSecond[i] >= 0 ? 0.7 : 1;
    for (let c = 0; c < LATENT_DIM; c++) m[c] = wa * intentVec[itemPrimary[i]][c];
    if (itemSecond[i] >= 0) for (let c = 0; c < LATENT_DIM; c++) m[c] += 0.3 * intentVec[itemSecond[i]][c];
    itemMix.push(m);
  }

  // Users: intent mixtures and interactions.
  const maxPerUser = Math.floor(numItems / 2);
  const userMix: Float64Array[] = [];
  const userItems: number[][] = [];
  for (let u = 0; u < numUsers; u++) {
    const nIntents = Math.min(numIntents, 1 + rng.int(3));
    const ks: number[] = [];
    while (ks.length < nIntents) {
      const k = rng.int(numIntents);
      if (!ks.includes(k)) ks.push(k);
    }
    const weights = ks.map(() => 0.2 + 0.8 * rng.next());
    const mixTable = new WeightedTable(ks, weights);
    const total = weights.reduce((a, b) => a + b, 0);
    const m = new Float64Array(LATENT_DIM);
    ks.forEach((k, q) => {
      for (let c = 0; c < LATENT_DIM; c++) m[c] += (weights[q] / total) * intentVec[k][c];
    });
    userMix.push(m);

    const n = Math.min(maxPerUser, Math.max(3, Math.round(perUser * (0.5 + rng.next()))));
    const chosen = new Set<number>();
    while (chosen.size < n) {
      let item = -1;
      for (let attempt = 0; attempt < 64 && item < 0; attempt++) {
        const cand = rng.next() < NOISE_P ? globalTable.draw(rng) : intentTables[mixTable.draw(rng)].draw(rng);
        if (!chosen.has(cand)) item = cand;
      }
      if (item < 0) {
        // The user's intents are exhausted: take the next unchosen item after a random start.
        item = rng.int(numItems);
        while (chosen.has(item)) item = (item + 1) % numItems;
      }
      chosen.add(item);
    }
    userItems.push([...chosen]);
  }

  // Per-user 60/20/20 split.
  const split = { train: [[], []] as number[][], val: [[], []] as number[][], test: [[], []] as number[][] };
  const pending: { part: 'val' | 'test'; u: number; i: number }[] = [];
  const inTrain = new Uint8Array(numItems);
  for (let u = 0; u < numUsers; u++) {
    const items = rng.shuffle(Uint32Array.from(userItems[u]));
    const n = items.length;
    const nVal = Math.min(Math.round(0.2 * n), n - 1);
    const nTest = Math.min(Math.round(0.2 * n), n - 1 - nVal);
    for (let q = 0; q < n; q++) {
      if (q < nVal) pending.push({ part: 'val', u, i: items[q] });
      else if (q < nVal + nTest) pending.push({ part: 'test', u, i: items[q] });
      else {
        split.train[0].push(u);
        split.train[1].push(items[q]);
        inTrain[items[q]] = 1;
      }
    }
  }
  for (const { part, u, i } of pending) {
    const dest = inTrain[i] ? split[part] : split.train;
    inTrain[i] = 1;
    dest[0].push(u);
    dest[1].push(i);
  }
  const finish = (p: number[][]) => sortDedup(numUsers, { users: Uint32Array.from(p[0]), items: Uint32Array.from(p[1]) }).inter;

  // Text embeddings.
  const randomMap = () => {
    const w = new Float64Array(textDim * LATENT_DIM);
    for (let k = 0; k < w.length; k++) w[k] = gaussian(rng);
    return w;
  };
  const profileMap = randomMap();
  const intentMap = randomMap();
  const embed = (mixes: Float64Array[], map: Float64Array): Matrix => {
    const data = new Float32Array(mixes.length * textDim);
    const noiseScale = textNoise / Math.sqrt(textDim);
    const x = new Float64Array(textDim);
    mixes.forEach((m, r) => {
      for (let c = 0; c < textDim; c++) {
        let s = 0;
        for (let l = 0; l < LATENT_DIM; l++) s += map[c * LATENT_DIM + l] * m[l];
        x[c] = s;
      }
      normalise(x);
      for (let c = 0; c < textDim; c++) x[c] += noiseScale * gaussian(rng);
      normalise(x);
      data.set(x, r * textDim);
    });
    return { rows: mixes.length, cols: textDim, data };
  };

  return {
    name: 'synthetic',
    numUsers,
    numItems,
    train: finish(split.train),
    val: finish(split.val),
    test: finish(split.test),
    text: {
      userProfile: embed(userMix, profileMap),
      itemProfile: embed(itemMix, profileMap),
      userIntent: embed(userMix, intentMap),
      itemIntent: embed(itemMix, intentMap),
    },
    plantedIntents: itemPrimary,
  };
}
