/**
 * On-device personalisation (fold-in): a user vector in E_fin space learnt from a handful of item ids, and
 * optionally the person's own profile-text embedding, with every item-side parameter frozen.
 *
 * Initialisation: x₀ = mean of the items' E_fin rows, (1/n)·Σ_{i∈S} Xi[i] — a LightGCN-like propagation of a
 * new node whose neighbours are S. With no items (text only), x₀ is the projected text f_p(t) rescaled to
 * the RMS norm of the training users' rows.
 *
 * Refinement: `steps` Adam steps (β = 0.9, 0.999, ε = 1e-8; the model's own optimiser) on the model's
 * user-side losses, recorded into one submission and run on the device:
 *
 *   L(x) = (1/B)·Σ_b softplus(x·Xi[q_b] − x·Xi[p_b])                  BPR (spec §4.1), B pairs per step: each
 *                                                                       item of S against fresh uniform
 *                                                                       negatives q ∉ S (`negativesPerItem`)
 *        + w_t·Φ(x, f_p(t), [f_p(t); f_p(Pu)]; τ)                      kd alignment (spec §4.4, user side):
 *                                                                       InfoNCE of x against the projected
 *                                                                       text, the training users' projected
 *                                                                       profiles as the other candidates
 *        + λ·‖x‖²                                                      L2 (spec §4.2), fused into Adam
 *
 * with w_t = the model's kdWeight, τ = kdTemperature and λ = reg unless overridden. The kd term needs a
 * profile MLP (RLMRec, IRLLRec) and the training users' profile embeddings (`userProfiles` when building
 * the recommender). IRLLRec's intent alignment (kd_int) is not used: it acts on the intent view Ȳ, which
 * does not enter ranking.
 *
 * Privacy: nothing about the person leaves this module: no network, no logging, no callbacks; the handle
 * holds the vector (on the device and as a host copy) until it is disposed.
 */
import type { IdMap } from '../data/ids.js';
import { IrllrecError } from '../errors.js';
import { mlpForward } from '../models/mlp.js';
import { sumRows } from '../ops/dense.js';
import { scaleInPlace } from '../ops/elementwise.js';
import { gatherRows } from '../ops/gather.js';
import { bpr, infoNce } from '../ops/losses.js';
import { ADAM_DEFAULTS, adamStep } from '../ops/optim.js';
import { normalizeRows } from '../ops/rowwise.js';
import type { Tensor } from '../ops/tensor.js';
import { Rng, hashU32 } from '../util/random.js';
import type { Recommender, ServingTables } from './recommender.js';

/** Options of `Recommender.personalize`. */
export interface PersonalizeOptions {
  /**
   * Items the person likes, as dense indices (numbers) or original ids (strings); duplicates ignored. At
   * least one item, or a `textEmbedding`.
   */
  items?: ArrayLike<number> | readonly (number | string)[];
  /** The person's own profile-text embedding (dp values, the width the profile MLP takes). */
  textEmbedding?: ArrayLike<number>;
  /** Adam steps (default 40; 0 keeps the initialisation). */
  steps?: number;
  /** Adam step size (default 0.02 × the RMS of the item rows of E_fin, so it suits any embedding scale). */
  lr?: number;
  /** Negatives drawn per item and step (default 8). */
  negativesPerItem?: number;
  /** Upper bound on BPR pairs per step (default 4096; positives are then sampled per step). */
  maxPairs?: number;
  /** L2 weight λ on ‖x‖² (default: the model's `reg`). */
  reg?: number;
  /** Weight of the text alignment (default: the model's `kdWeight`; falls back to 1 with no items). */
  textWeight?: number;
  /** Temperature of the text alignment (default: the model's `kdTemperature`). */
  textTemperature?: number;
  /** Seed of the negative sampling (default: derived from the items, so equal inputs give equal vectors). */
  seed?: number;
}

/**
 * A personalised user: a vector in E_fin space (the handle `recommend`, `similarUsers` and `explain` accept).
 * It belongs to the recommender that made it and lives on its backend until `dispose()`.
 */
export class PersonalizedUser {
  /** The recommender it was made by. */
  readonly owner: Recommender;
  /** The person's items, ascending and distinct (excluded by `recommend` with `excludeSeen`). */
  readonly items: Uint32Array;
  /** The learnt vector x (d values), a host copy. */
  readonly vector: Float32Array;
  /** BPR loss at each step (before its update); empty without items or steps. */
  readonly bprLoss: Float32Array;
  /** Text-alignment loss w_t·Φ at each step; null without a text embedding. */
  readonly textLoss: Float32Array | null;
  /** @internal The vector on the device, [1×d]. */
  readonly tensor: Tensor;
  private disposed = false;
  private readonly disposeCallbacks: (() => void)[] = [];

  /** @internal Built by `Recommender.personalize`. */
  constructor(owner: Recommender, items: Uint32Array, tensor: Tensor, vector: Float32Array, bprLoss: Float32Array, textLoss: Float32Array | null) {
    this.owner = owner;
    this.items = items;
    this.tensor = tensor;
    this.vector = vector;
    this.bprLoss = bprLoss;
    this.textLoss = textLoss;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** @internal */
  onDispose(cb: () => void): void {
    this.disposeCallbacks.push(cb);
  }

  /** Release the device copy (and forget the host copy's items). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.tensor.dispose();
    this.vector.fill(0);
    for (const cb of this.disposeCallbacks.splice(0)) cb();
  }
}

function positiveInt(name: string, v: number, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw new IrllrecError('range', `personalize: ${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

function finiteNonNegative(name: string, v: number, strict = false): number {
  if (!Number.isFinite(v) || v < 0 || (strict && v === 0)) throw new IrllrecError('range', `personalize: ${name} must be a finite number ${strict ? '> 0' : '≥ 0'}, got ${v}`);
  return v;
}

/** The distinct, in-range items of `items`, ascending. */
function itemSet(items: PersonalizeOptions['items'], numItems: number, ids: IdMap): Uint32Array {
  if (items === undefined) return new Uint32Array(0);
  const list = Array.from(items as ArrayLike<number | string>, (i, r) => (typeof i === 'string' ? ids.index(i, `personalize: item at position ${r}`) : i));
  for (let r = 0; r < list.length; r++) {
    const i = list[r];
    if (!Number.isInteger(i) || i < 0 || i >= numItems) throw new IrllrecError('range', `personalize: item ${i} at position ${r} is not an item id (0…${numItems - 1})`);
  }
  const sorted = Uint32Array.from(new Set(list)).sort();
  return sorted;
}

/** A seed from the item list (FNV-1a over the ids), so the same items give the same vector. */
function seedOf(items: Uint32Array): number {
  let h = 0x811c9dc5;
  for (const i of items) h = Math.imul(h ^ i, 0x01000193) >>> 0;
  return hashU32(h ^ items.length);
}

/** @internal The implementation of `Recommender.personalize` (see the module comment). */
export async function personalizeUser(owner: Recommender, t: ServingTables, opts: PersonalizeOptions): Promise<PersonalizedUser> {
  if (!opts || typeof opts !== 'object') throw new IrllrecError('range', 'personalize: expected an options object { items, textEmbedding? }');
  const be = t.be;
  const cfg = t.config;
  const d = cfg.embeddingDim;
  const ni = t.numItems;
  const items = itemSet(opts.items, ni, owner.items);
  const n = items.length;
  const hasText = opts.textEmbedding !== undefined;
  if (n === 0 && !hasText) throw new IrllrecError('range', 'personalize: give at least one item id or a textEmbedding');
  if (n >= ni) throw new IrllrecError('data', `personalize: the person has all ${ni} items, so no negative item exists`);
  const steps = positiveInt('steps', opts.steps ?? 40, 0);
  const negPer = positiveInt('negativesPerItem', opts.negativesPerItem ?? 8);
  const maxPairs = positiveInt('maxPairs', opts.maxPairs ?? 4096);
  const lr = finiteNonNegative('lr', opts.lr ?? 0.02 * (t.scale.items > 0 ? t.scale.items : 1), true);
  const reg = finiteNonNegative('reg', opts.reg ?? cfg.reg);
  const textWeight = finiteNonNegative('textWeight', opts.textWeight ?? (n === 0 ? 1 : cfg.kdWeight));
  const tau = finiteNonNegative('textTemperature', opts.textTemperature ?? cfg.kdTemperature, true);
  let text: Float32Array | null = null;
  if (hasText) {
    if (!t.profileMlp) throw new IrllrecError('data', `personalize: a ${cfg.kind} model has no profile MLP, so textEmbedding cannot be used`);
    if (!t.profileCandidates) {
      throw new IrllrecError('data', "personalize: textEmbedding needs the training users' profile embeddings (pass userProfiles when building the recommender)");
    }
    text = Float32Array.from(opts.textEmbedding!);
    if (text.length !== t.profileDim) throw new IrllrecError('shape', `personalize: textEmbedding has ${text.length} values, the profile MLP takes ${t.profileDim}`);
    for (let c = 0; c < text.length; c++) if (!Number.isFinite(text[c])) throw new IrllrecError('nonfinite', `personalize: textEmbedding[${c}] is ${text[c]}`);
  }
  const rng = new Rng(opts.seed ?? seedOf(items));

  const temps: Tensor[] = [];
  const tmp = (shape: number[], label: string, dtype: 'f32' | 'u32' = 'f32') => {
    const x = be.zeros(shape, dtype, `personalize.${label}`);
    temps.push(x);
    return x;
  };
  const upload = (data: ArrayLike<number>, shape: number[], label: string, dtype: 'f32' | 'u32') => {
    const x = be.tensor(data, shape, dtype, `personalize.${label}`);
    temps.push(x);
    return x;
  };
  const x = be.zeros([1, d], 'f32', 'personalize.x');
  try {
    // Projected text p̃ = f_p(t) and the kd candidates [p̃; f_p(Pu)] (the anchor's own row included, as for
    // training users, whose own row is among the Nu candidates).
    let pt: Tensor | null = null;
    let cand: Tensor | null = null;
    if (text && t.profileMlp && t.profileCandidates) {
      pt = tmp([1, d], 'text.projected');
      mlpForward(be, t.profileMlp, upload(text, [1, text.length], 'text', 'f32'), pt);
      cand = tmp([t.numUsers + 1, d], 'text.candidates');
      be.copyRange(pt, 0, cand, 0, d);
      be.copyRange(t.profileCandidates, 0, cand, d, t.numUsers * d);
    }

    // x₀
    if (n > 0) {
      const rows = tmp([n, d], 'itemRows');
      gatherRows(be, t.items, upload(items, [n], 'items', 'u32'), rows);
      const mean = tmp([d], 'mean');
      sumRows(be, rows, mean, { scale: 1 / n });
      be.copy(mean, x);
    } else {
      normalizeRows(be, pt!, x, { mode: 'hard' });
      scaleInPlace(be, x, t.scale.users * Math.sqrt(d));
    }

    // Refinement. Every step's losses go to their own slots of one vector, read once at the end.
    const lossHist = tmp([Math.max(1, 2 * steps)], 'losses');
    const g = tmp([1, d], 'grad');
    const m = tmp([1, d], 'adam.m');
    const v = tmp([1, d], 'adam.v');
    const member = new Uint8Array(ni);
    for (const i of items) member[i] = 1;
    const B = n > 0 ? Math.min(n * negPer, maxPairs) : 0;
    const fixedPositives = n * negPer <= maxPairs;
    let U: Tensor | null = null;
    let P: Tensor | null = null;
    let Q: Tensor | null = null;
    let gU: Tensor | null = null;
    let gRow: Tensor | null = null;
    let zeroIds: Tensor | null = null;
    let posIds: Tensor | null = null;
    let negIds: Tensor | null = null;
    const pos = new Uint32Array(B);
    const neg = new Uint32Array(B);
    if (B > 0) {
      U = tmp([B, d], 'U');
      P = tmp([B, d], 'P');
      Q = tmp([B, d], 'Q');
      gU = tmp([B, d], 'gU');
      gRow = tmp([d], 'gRow');
      zeroIds = tmp([B], 'zeroIds', 'u32'); // U = x broadcast to B rows by gathering row 0
      posIds = tmp([B], 'posIds', 'u32');
      negIds = tmp([B], 'negIds', 'u32');
      if (fixedPositives) {
        for (let b = 0; b < B; b++) pos[b] = items[b % n];
        be.write(posIds, pos);
        gatherRows(be, t.items, posIds, P);
      }
    }
    const adam = { ...ADAM_DEFAULTS, lr, l2: reg };
    for (let s = 0; s < steps; s++) {
      if (B > 0) {
        if (!fixedPositives) {
          for (let b = 0; b < B; b++) pos[b] = items[rng.int(n)];
          be.write(posIds!, pos);
          gatherRows(be, t.items, posIds!, P!);
        }
        for (let b = 0; b < B; b++) {
          let j: number;
          do j = rng.int(ni);
          while (member[j]);
          neg[b] = j;
        }
        be.write(negIds!, neg);
        gatherRows(be, t.items, negIds!, Q!);
        gatherRows(be, x, zeroIds!, U!);
        // ∂/∂x of the mean BPR is the sum over the B rows of ∂/∂U.
        bpr(be, U!, P!, Q!, lossHist, 2 * s, { scale: 1 / B, gU: gU! });
        sumRows(be, gU!, gRow!);
        be.copy(gRow!, g);
      } else be.zero(g);
      if (pt && cand && textWeight > 0) infoNce(be, x, pt, cand, lossHist, 2 * s + 1, { tau, scale: textWeight, gA: g, accumulate: true });
      adamStep(be, x, g, m, v, { ...adam, step: s + 1 });
    }
    const [vec, hist] = await be.readAll([x, lossHist]);
    const vector = Float32Array.from(vec);
    for (let c = 0; c < d; c++) {
      if (!Number.isFinite(vector[c])) throw new IrllrecError('nonfinite', `personalize: the user vector became non-finite (coordinate ${c}); try a smaller lr`);
    }
    const bprLoss = new Float32Array(B > 0 ? steps : 0);
    for (let s = 0; s < bprLoss.length; s++) bprLoss[s] = hist[2 * s];
    let textLoss: Float32Array | null = null;
    if (pt) {
      textLoss = new Float32Array(steps);
      for (let s = 0; s < steps; s++) textLoss[s] = hist[2 * s + 1];
    }
    return new PersonalizedUser(owner, items, x, vector, bprLoss, textLoss);
  } catch (e) {
    x.dispose();
    throw e;
  } finally {
    for (const tt of temps) tt.dispose();
  }
}
