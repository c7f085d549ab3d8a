/**
 * The serving API: a `Recommender` holds a trained model's ranking embeddings E_fin (spec §3 F3, §8) on a
 * backend and answers top-K queries on the device — a tiled GEMM for a block of scores then per-row top-K
 * (`matmul` + `topK`), or the fused `scoreTopK`, as `scoreTopKAuto` picks — batched over users: only ids and
 * scores come back.
 *
 *   const rec = await Recommender.load(bytes | url, { backend });        // core entry (browser and Node)
 *   const rec = await Recommender.load('model.safetensors');             // the `node` entry also takes paths
 *   const [r] = await rec.recommend([42], { k: 20 });                    // r.ids, r.scores, r.originalIds
 *   const r2 = await rec.recommend('A3SGXH7AUHU8GW');                    // a string is an original id
 *   const me = await rec.personalize({ items: [3, 17, 99] });            // on-device fold-in (personalize.ts)
 *   const why = await rec.explain(me, r.ids[0]);                          // intent prototypes (explain.ts)
 *
 * Ids: every user or item argument is a dense index (a number, 0…n−1: the fast path, as stored in tensors)
 * or an original id (a string: the ids of the data files, which model files carry; `rec.users` and
 * `rec.items` translate). Without original ids (synthetic data, files without them) the original id of
 * index i is the string of i. Results carry both: dense `ids` and `originalIds`.
 *
 * What is kept: the user rows Xu and item rows Xi of E_fin = Σ_{l=0..L} Â^l E0 computed once at load, the
 * training items of every user (to exclude them), and the small parameters that serving needs: the intent
 * prototypes Wu, Wi (IRLLRec, for `explain`) and the profile MLP (RLMRec/IRLLRec, for text-aware
 * `personalize`). Adam moments, the teacher and the graph are not kept.
 *
 * Design choices (documented on the methods too):
 *  - `filter` is implemented as a **candidate subset**: the allowed items' rows are gathered into a compact
 *    table that is scored instead of the full catalogue (cost O(|allowed|·d), no R×Ni mask); ids map back.
 *  - `similarItems` / `similarUsers` rank by **cosine** similarity of E_fin rows by default (E_fin norms
 *    grow with node degree, so dot products would favour popular nodes); `metric: 'dot'` is available.
 */
import { userItemCsr } from '../data/graph.js';
import { buildGraph } from '../data/graph.js';
import { IdMap, type OriginalId } from '../data/ids.js';
import type { Interactions, Matrix } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import { parseModelFile } from '../io/modelfile.js';
import type { ModelConfig, ModelKind } from '../models/config.js';
import { type MlpTensors, mlpForward } from '../models/mlp.js';
import { PROFILE_MLP, RecModel } from '../models/model.js';
import { bindingLimit, checkPlan, chunkRows, modelPlanInput, planCreation, planPersonalize, planServingTables, rowsThatFit } from '../models/plan.js';
import { gatherRows } from '../ops/gather.js';
import { sumSquares } from '../ops/reduce.js';
import { normalizeRows } from '../ops/rowwise.js';
import { type Csr, csrTensor, disposeCsr } from '../ops/spmm.js';
import type { Backend, Tensor } from '../ops/tensor.js';
import { FUSED_BELOW_ROWS, TOPK_MAX_K, TOPK_NONE, scoreTopKAuto, servingBlockBytes } from '../ops/topk.js';
import { type ExplainOptions, type Explanation, explainPairs } from './explain.js';
import { type PersonalizeOptions, PersonalizedUser, personalizeUser } from './personalize.js';
import type { Recommendation } from './recommend.js';

export type { Recommendation } from './recommend.js';

/**
 * A user to rank for: a training user's dense index (number), its original id (string), or a handle from
 * `personalize`.
 */
export type UserRef = number | string | PersonalizedUser;

/** An item: its dense index (number) or its original id (string). */
export type ItemRef = number | string;

/**
 * Which items may be recommended: an allow-list of items (array, typed array or Set of dense indices or
 * original ids) or a predicate over dense indices (it also gets the original id). Implemented as a candidate
 * subset (see the module comment).
 */
export type ItemFilter = ArrayLike<number> | readonly ItemRef[] | ReadonlySet<ItemRef> | ((item: number, id: string) => boolean);

/** A ranked list: dense `ids` (items, or users for `similarUsers`), their `scores` and their original ids. */
export interface Ranking extends Recommendation {
  originalIds: string[];
}

/** Where a model file comes from: its bytes, or a URL fetched with `fetch` (file paths: the `node` entry). */
export type ModelSource = Uint8Array | ArrayBuffer | URL | string;

/** Options of `recommend`. */
export interface RecommendOptions {
  /** Items per user (1…TOPK_MAX_K = 1,024; default 20). Fewer come back when fewer candidates remain. */
  k?: number;
  /** Remove each user's training items (personalised users: their `items`) from the candidates (default true). */
  excludeSeen?: boolean;
  /** Only recommend these items (see `ItemFilter`). */
  filter?: ItemFilter;
  /**
   * Users scored per dispatch (default 2048; fewer when a score block would exceed 32 MiB, or, for catalogues
   * over 131,072 items, the larger of 32 MiB and 64 rows, within the device's binding limit).
   */
  batchSize?: number;
  /**
   * 'matmul': a tiled GEMM writes a block of scores, then per-row top-K selects from it; 'fused': one kernel
   * computes the dot products inside the top-K selection (no score block in memory); 'auto' (default):
   * fused below 64 users per block (a GEMM tile would be mostly idle) unless the block is full, matmul
   * otherwise. All return the same
   * ranking; which is faster depends on the device (see bench/serve.ts).
   */
  scoring?: ScoringMode;
}

/** How `recommend` computes scores and selects the top k (see `RecommendOptions.scoring`). */
export type ScoringMode = 'auto' | 'matmul' | 'fused';

/** Options of `similarItems` / `similarUsers`. */
export interface SimilarOptions {
  /** 'cosine' (default): cosine similarity of E_fin rows; 'dot': raw dot products. */
  metric?: 'cosine' | 'dot';
  /** Only return these items (`similarItems` only; see `ItemFilter`). */
  filter?: ItemFilter;
}

/** Options shared by the ways to build a `Recommender`. */
export interface RecommenderOptions {
  /**
   * Training interactions: the graph that E_fin is propagated over and the items `excludeSeen` removes.
   * Required when the model file does not carry them (e.g. a PyTorch export).
   */
  interactions?: Interactions;
  /**
   * The training users' profile text embeddings Pu (Nu×dp): the candidates of the kd alignment that
   * `personalize({ textEmbedding })` uses. Only projected rows f_p(Pu) (Nu×d) are kept.
   */
  userProfiles?: Matrix;
  /** Display names of the K intent prototypes (IRLLRec), copied into explanations. */
  intentLabels?: readonly string[];
  /** Original user / item ids (a model file written by irllrec carries them). */
  userIds?: readonly string[];
  itemIds?: readonly string[];
}

/** Options of `Recommender.load`. */
export interface LoadOptions extends RecommenderOptions {
  /** The backend to serve on. Default: a new WebGPU backend (CPU fallback), destroyed with the recommender. */
  backend?: Backend;
  /** Reject model files larger than this many bytes before parsing them (default 1 GiB). */
  maxBytes?: number;
  /**
   * Reject safetensors headers (the JSON before the tensors) longer than this, before parsing them (default
   * and maximum: the format's 100 MB; parsing costs a small multiple of JSON.parse on the same text).
   */
  maxHeaderBytes?: number;
  /** Destroy `backend` in `dispose()` (default: only when the recommender created it). */
  destroyBackend?: boolean;
  /** Receives a one-line notice when no WebGPU adapter is found and the CPU is used (default: silent). */
  onNotice?: (message: string) => void;
  /** How errors name the source (default: the URL, or 'model bytes'). */
  sourceName?: string;
  /** For URL sources: abort the download. */
  signal?: AbortSignal;
  /** For URL sources: the fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
}

/** Default upper bound on a model file's size (bytes). */
export const DEFAULT_MAX_MODEL_BYTES = 1024 * 1024 * 1024;
const DEFAULT_BATCH = 2048;

/**
 * Internal tensors a `Recommender` shares with `personalize.ts` and `explain.ts` (not part of the public API).
 * @internal
 */
export interface ServingTables {
  be: Backend;
  config: ModelConfig;
  numUsers: number;
  numItems: number;
  /** Xu = E_fin[0:Nu] (Nu×d). */
  users: Tensor;
  /** Xi = E_fin[Nu:N] (Ni×d). */
  items: Tensor;
  /** Training items per user, ascending (CSR over users). */
  seen: { rowPtr: Uint32Array; colIdx: Uint32Array };
  /** Wu, Wi (d×K), IRLLRec only. */
  intents: { user: Tensor; item: Tensor } | null;
  /** The profile MLP f_p (RLMRec, IRLLRec). */
  profileMlp: MlpTensors | null;
  /** Its input width dp (0 without one). */
  profileDim: number;
  /** f_p(Pu) (Nu×d) when `userProfiles` were given. */
  profileCandidates: Tensor | null;
  intentLabels: readonly string[] | null;
  /** Row-normalised Xi, computed on first use. */
  normalizedItems(): Tensor;
  /** Root-mean-square of the entries of Xi and Xu (host numbers, computed once at build). */
  scale: { items: number; users: number };
}

function isPersonalized(u: unknown): u is PersonalizedUser {
  return u instanceof PersonalizedUser;
}

function checkK(op: string, k: number): void {
  if (!Number.isInteger(k) || k < 1 || k > TOPK_MAX_K) throw new IrllrecError('range', `${op}: k must be an integer in 1…${TOPK_MAX_K}, got ${k}`);
}

function checkItem(op: string, item: number, numItems: number, where = 'item'): void {
  if (!Number.isInteger(item) || item < 0 || item >= numItems) throw new IrllrecError('range', `${op}: ${where} is ${item}, not an item index (0…${numItems - 1}) or an original item id (a string)`);
}

/** A model file's bytes from a `ModelSource` (URL: fetched, streamed, size-checked). */
async function sourceBytes(source: ModelSource, opts: LoadOptions): Promise<{ bytes: Uint8Array; name: string }> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_MODEL_BYTES;
  const checkSize = (n: number, name: string) => {
    if (n > maxBytes) throw new IrllrecError('limit', `${name}: the model file has ${n} bytes, more than maxBytes = ${maxBytes}`);
  };
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    const bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
    const name = opts.sourceName ?? 'model bytes';
    checkSize(bytes.length, name);
    return { bytes, name };
  }
  if (typeof source !== 'string' && !(source instanceof URL)) {
    throw new IrllrecError('range', `Recommender.load: expected bytes, a URL or (in the node entry) a path, got ${typeof source}`);
  }
  const name = opts.sourceName ?? String(source);
  const fetchImpl = opts.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new IrllrecError('range', `${name}: no fetch() here to download the model (pass bytes, or use the node entry for paths)`);
  let res: Response;
  try {
    res = await fetchImpl(source, { signal: opts.signal });
  } catch (e) {
    if (opts.signal?.aborted) throw new IrllrecError('aborted', `${name}: download aborted`, { cause: e });
    throw new IrllrecError('data', `${name}: download failed (${(e as Error).message})`, { cause: e });
  }
  if (!res.ok) throw new IrllrecError('data', `${name}: download failed with HTTP ${res.status} ${res.statusText}`);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared)) checkSize(declared, name);
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    checkSize(bytes.length, name);
    return { bytes, name };
  }
  // Stream so that an oversized body is cut off at maxBytes rather than buffered whole.
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      checkSize(total, name);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.length;
  }
  return { bytes, name };
}

/**
 * Serving for one trained model (see the module comment). Build it with `Recommender.load` (a model file) or
 * `Recommender.fromModel` (a model in memory, e.g. the result of `fit`); release it with `dispose()`.
 */
export class Recommender {
  /** The backend the tables live on. */
  readonly backend: Backend;
  /** The model's configuration (kind, d, K, …). */
  readonly config: ModelConfig;
  readonly numUsers: number;
  readonly numItems: number;
  /** Original ids by dense id, when known. */
  readonly userIds: readonly string[] | null;
  readonly itemIds: readonly string[] | null;
  /** Original user ids ↔ dense indices (`rec.users.index('A3SG…')`, `rec.users.id(3)`). */
  readonly users: IdMap;
  /** Original item ids ↔ dense indices. */
  readonly items: IdMap;
  /** @internal */
  readonly tables: ServingTables;
  private readonly destroyBackend: boolean;
  private readonly handles = new Set<PersonalizedUser>();
  private normItems: Tensor | null = null;
  private normUsers: Tensor | null = null;
  private disposed = false;

  /** Use `Recommender.load` or `Recommender.fromModel`. */
  protected constructor(tables: ServingTables, opts: { ids: { users: IdMap; items: IdMap }; destroyBackend: boolean }) {
    this.tables = tables;
    this.backend = tables.be;
    this.config = tables.config;
    this.numUsers = tables.numUsers;
    this.numItems = tables.numItems;
    this.users = opts.ids.users;
    this.items = opts.ids.items;
    this.userIds = this.users.list;
    this.itemIds = this.items.list;
    this.destroyBackend = opts.destroyBackend;
    tables.normalizedItems = () => this.normalized('items');
  }

  /** The model kind (one of `MODEL_KINDS`: the LightGCN ladder, or SGL / SimGCL with their _plus and _int rungs). */
  get kind(): ModelKind {
    return this.config.kind;
  }
  /** Embedding width d. */
  get embeddingDim(): number {
    return this.config.embeddingDim;
  }
  /** Whether `explain` can name intent prototypes (IRLLRec). */
  get hasIntents(): boolean {
    return this.tables.intents !== null;
  }
  /** Whether `personalize` accepts a `textEmbedding` (a profile MLP and the users' projected profiles exist). */
  get acceptsText(): boolean {
    return this.tables.profileMlp !== null && this.tables.profileCandidates !== null;
  }

  /**
   * Load a model file (safetensors, as written by `serializeModel`) onto a backend and compute E_fin.
   * Sources: bytes, or a URL (fetched; in Node the `irllrec/node` entry also takes file paths). Files that do
   * not carry the training interactions need `opts.interactions`. Errors (all `IrllrecError`): 'limit' for a
   * file over `maxBytes` or tables over the device's buffer limits, 'format' for a truncated or malformed
   * file, 'nonfinite' for NaN/Inf parameters, 'data' when the training graph is missing.
   */
  static async load(source: ModelSource, opts: LoadOptions = {}): Promise<Recommender> {
    const { bytes, name } = await sourceBytes(source, opts);
    const file = parseModelFile(bytes, name, { maxHeaderBytes: opts.maxHeaderBytes });
    const train = opts.interactions ?? file.train;
    if (!train) {
      throw new IrllrecError('data', `${name}: the file carries no training interactions (e.g. a PyTorch export); pass them as options.interactions`);
    }
    let be = opts.backend;
    let created = false;
    if (!be) {
      const { createBackend } = await import('../backend.js');
      be = await createBackend({ backend: 'auto', onNotice: opts.onNotice ?? (() => undefined) });
      created = true;
    }
    try {
      const ids = idMaps(file.numUsers, file.numItems, opts.userIds ?? file.userIds, opts.itemIds ?? file.itemIds);
      checkDeviceLimits(be, file.numUsers + file.numItems, file.config.embeddingDim, name);
      const graph = buildGraph({ numUsers: file.numUsers, numItems: file.numItems, train });
      const modelData = { numUsers: file.numUsers, numItems: file.numItems, graph, textDims: file.textDims };
      // The ranking-only model and the serving tables, against the device limits before either is made.
      const plan = modelPlanInput(file.config, modelData);
      checkPlan(be, [...planCreation(plan), ...planServingTables(plan, { userProfiles: opts.userProfiles !== undefined })], name);
      const model = RecModel.create(be, file.config, modelData);
      try {
        model.importParameters(file.tensors, name);
        const tables = await buildTables(model, train, opts);
        return new this(tables, { ids, destroyBackend: opts.destroyBackend ?? created });
      } finally {
        model.dispose();
      }
    } catch (e) {
      if (created) be.destroy();
      throw e;
    }
  }

  /**
   * A recommender over a model in memory (e.g. `fit(...).model`) on the model's backend. The model is not
   * retained (its E_fin and the parameters serving needs are copied), so it may be disposed afterwards.
   * The copy is a snapshot: made from a model that is still training (e.g. in `fit`'s `onStep`), it holds
   * the parameters after one whole step — the copies are recorded synchronously between two steps and the
   * device runs work in recording order — and later steps do not change what it serves.
   */
  static async fromModel(model: RecModel, opts: RecommenderOptions & { interactions: Interactions }): Promise<Recommender> {
    if (!opts?.interactions) throw new IrllrecError('data', 'Recommender.fromModel: options.interactions (the training interactions) are required');
    const ids = idMaps(model.numUsers, model.numItems, opts.userIds, opts.itemIds);
    const tables = await buildTables(model, opts.interactions, opts);
    return new this(tables, { ids, destroyBackend: false });
  }

  private check(op: string): void {
    if (this.disposed) throw new IrllrecError('disposed', `${op}: the recommender was disposed`);
  }

  /** Row-normalised Xi or Xu (hard normalisation n(x), spec §0), computed once. */
  private normalized(which: 'items' | 'users'): Tensor {
    const t = this.tables;
    if (which === 'items') {
      if (!this.normItems) {
        this.normItems = t.be.zeros(t.items.shape, 'f32', 'serve.items.normalized');
        normalizeRows(t.be, t.items, this.normItems, { mode: 'hard' });
      }
      return this.normItems;
    }
    if (!this.normUsers) {
      this.normUsers = t.be.zeros(t.users.shape, 'f32', 'serve.users.normalized');
      normalizeRows(t.be, t.users, this.normUsers, { mode: 'hard' });
    }
    return this.normUsers;
  }

  /** @internal Validate a user reference and resolve it: a dense index or a personalised handle. */
  checkUser(op: string, u: UserRef, where = 'user'): number | PersonalizedUser {
    if (isPersonalized(u)) {
      if (u.owner !== this) throw new IrllrecError('range', `${op}: ${where} is a personalised user of another recommender`);
      if (u.isDisposed) throw new IrllrecError('disposed', `${op}: ${where} (a personalised user) was disposed`);
      return u;
    }
    if (typeof u === 'string') return this.users.index(u, `${op}: ${where}`);
    if (typeof u !== 'number' || !Number.isInteger(u) || u < 0 || u >= this.numUsers) {
      throw new IrllrecError('range', `${op}: ${where} is ${String(u)}, not a user index (0…${this.numUsers - 1}), an original user id (a string) or a personalised user`);
    }
    return u;
  }

  /** @internal The dense index of an item reference (a string is an original id). */
  itemIndex(op: string, item: ItemRef, where = 'item'): number {
    if (typeof item === 'string') return this.items.index(item, `${op}: ${where}`);
    checkItem(op, item, this.numItems, where);
    return item;
  }

  /** Dense indices of one item reference or a list of them (each checked). */
  private itemList(op: string, items: ItemRef | ArrayLike<number> | readonly ItemRef[]): Uint32Array {
    const single = typeof items === 'number' || typeof items === 'string';
    const list: ItemRef[] = single ? [items] : Array.from(items as ArrayLike<ItemRef>);
    return Uint32Array.from(list, (i, r) => this.itemIndex(op, i, single ? 'item' : `item at position ${r}`));
  }

  /** @internal Training items of a user reference (ascending). */
  seenItems(u: number | PersonalizedUser): Uint32Array {
    if (isPersonalized(u)) return u.items;
    const s = this.tables.seen;
    return s.colIdx.subarray(s.rowPtr[u], s.rowPtr[u + 1]);
  }

  /** The allowed item ids of a filter, ascending and distinct; null when every item is allowed. */
  private candidates(op: string, filter: ItemFilter | undefined): Uint32Array | null {
    if (filter === undefined) return null;
    const ni = this.numItems;
    const allowed = new Uint8Array(ni);
    if (typeof filter === 'function') {
      for (let i = 0; i < ni; i++) if (filter(i, this.items.id(i))) allowed[i] = 1;
    } else {
      const list: Iterable<ItemRef> = isSet(filter) ? filter : Array.from(filter as ArrayLike<ItemRef>);
      for (const i of list) allowed[this.itemIndex(op, i, 'filter item')] = 1;
    }
    let count = 0;
    for (let i = 0; i < ni; i++) count += allowed[i];
    if (count === ni) return null;
    const out = new Uint32Array(count);
    for (let i = 0, w = 0; i < ni; i++) if (allowed[i]) out[w++] = i;
    return out;
  }

  /**
   * Rank rows of `table` (or of its candidate subset) for R query rows, chunked: `fillQueries(start, R, Q)`
   * records the query rows into Q [R×d]; `exclude(r)` lists the item (or user) ids row r must not return.
   */
  private async rankRows(
    op: string,
    count: number,
    table: Tensor,
    k: number,
    cand: Uint32Array | null,
    fillQueries: (start: number, rows: number, q: Tensor) => void,
    exclude: ((row: number) => ArrayLike<number>) | null,
    batchSize: number,
    names: IdMap,
    scoring: ScoringMode = 'auto',
  ): Promise<Ranking[]> {
    const be = this.backend;
    const d = this.embeddingDim;
    const n = table.rows;
    const out: Ranking[] = [];
    if (count === 0) return out;
    if (cand && cand.length === 0) {
      for (let r = 0; r < count; r++) out.push({ ids: new Uint32Array(0), scores: new Float32Array(0), originalIds: [] });
      return out;
    }
    // Candidate subset: gather the allowed rows into a compact table; posOf maps ids to its rows.
    let scored = table;
    let posOf: Int32Array | null = null;
    let candTensor: Tensor | null = null;
    if (cand) {
      candTensor = be.tensor(cand, [cand.length], 'u32', `${op}.candidates`);
      scored = be.zeros([cand.length, d], 'f32', `${op}.candidateRows`);
      gatherRows(be, table, candTensor, scored);
      posOf = new Int32Array(n).fill(-1);
      for (let p = 0; p < cand.length; p++) posOf[cand[p]] = p;
    }
    const m = scored.rows;
    const kk = Math.min(k, m);
    // The score block R×m is bounded by servingBlockBytes (from the device's binding limit).
    const blockBytes = servingBlockBytes(be, m);
    let rowsPerBlock = batchSize;
    if (scoring !== 'fused') rowsPerBlock = Math.max(1, Math.min(batchSize, Math.floor(blockBytes / (4 * m))));
    // Blocks whose R×d queries, R×k results and excluded ids each fit one binding (R+1 row pointers ≤ 2R).
    rowsPerBlock = rowsThatFit(be, 4 * Math.max(d, kk, 2), rowsPerBlock);
    const starts = chunkRows(count, rowsPerBlock, exclude ? (r) => exclude(r).length : null, Math.floor(bindingLimit(be) / 4));
    try {
      for (let c = 0; c + 1 < starts.length; c++) {
        const start = starts[c];
        const R = starts[c + 1] - start;
        const q = be.zeros([R, d], 'f32', `${op}.queries`);
        fillQueries(start, R, q);
        let ex: Csr | null = null;
        if (exclude) {
          const rowPtr = new Uint32Array(R + 1);
          const cols: number[] = [];
          for (let r = 0; r < R; r++) {
            const row = exclude(start + r);
            for (let e = 0; e < row.length; e++) {
              const p = posOf ? posOf[row[e]] : row[e];
              if (p >= 0) cols.push(p); // an excluded id outside the candidates needs no mask
            }
            rowPtr[r + 1] = cols.length;
          }
          const colIdx = Uint32Array.from(cols);
          ex = csrTensor(be, { rows: R, cols: m, rowPtr, colIdx }, `${op}.exclude`);
        }
        const ids = be.zeros([R, kk], 'u32', `${op}.ids`);
        const scores = be.zeros([R, kk], 'f32', `${op}.scores`);
        // The fused kernel, or s = Q·Tᵀ in score blocks then per-row top-K ('auto': by row count, and the GEMM
        // for a whole block of a catalogue too long for FUSED_BELOW_ROWS rows per block).
        const path = scoring === 'auto' && R === rowsPerBlock && R < FUSED_BELOW_ROWS ? 'matmul' : scoring;
        scoreTopKAuto(be, q, scored, kk, ids, scores, { exclude: ex, dropMasked: true, path, blockBytes });
        const [idArr, scArr] = await be.readAll([ids, scores]);
        for (const t of [q, ids, scores]) t.dispose();
        if (ex) disposeCsr(ex);
        for (let r = 0; r < R; r++) {
          let len = kk;
          while (len > 0 && idArr[r * kk + len - 1] === TOPK_NONE) len--;
          const rid = new Uint32Array(len);
          const rsc = new Float32Array(len);
          for (let t = 0; t < len; t++) {
            const p = idArr[r * kk + t];
            rid[t] = cand ? cand[p] : p;
            rsc[t] = scArr[r * kk + t];
          }
          out.push({ ids: rid, scores: rsc, originalIds: names.ids(rid) });
        }
      }
    } finally {
      if (candTensor) {
        candTensor.dispose();
        scored.dispose();
      }
    }
    return out;
  }

  /** Record the E_fin rows of `refs[start … start+R)` into q (training users gathered, personalised copied). */
  private fillUserRows(refs: readonly (number | PersonalizedUser)[], source: Tensor, normalize: boolean): (start: number, R: number, q: Tensor) => void {
    const be = this.backend;
    const d = this.embeddingDim;
    return (start, R, q) => {
      const ids = new Uint32Array(R);
      let anyKnown = false;
      for (let r = 0; r < R; r++) {
        const u = refs[start + r];
        if (!isPersonalized(u)) {
          ids[r] = u;
          anyKnown = true;
        }
      }
      const target = normalize ? be.zeros([R, d], 'f32', 'serve.rawQueries') : q;
      if (anyKnown) {
        const idT = be.tensor(ids, [R], 'u32', 'serve.queryIds');
        gatherRows(be, source, idT, target);
        idT.dispose();
      }
      for (let r = 0; r < R; r++) {
        const u = refs[start + r];
        if (isPersonalized(u)) be.copyRange(u.tensor, 0, target, r * d, d);
      }
      if (normalize) {
        normalizeRows(be, target, q, { mode: 'hard' });
        target.dispose();
      }
    };
  }

  /**
   * Top-k items for each user, scored s_ui = Xu[u]·Xi[i] on the device (scores + top-K kernels, ties → lower
   * item index; see `scoring`), batched `batchSize` users per dispatch. Users are training users (dense
   * indices, or original ids as strings: `recommend('42')` is the user whose original id is '42') or
   * personalised handles; an unknown id is an IrllrecError naming it. `excludeSeen` (default true) removes
   * the user's training items; `filter` restricts the candidates (a subset of Xi is scored). A single user
   * gives a single `Ranking` (dense `ids`, `scores`, `originalIds`), a list gives one per user.
   */
  async recommend(user: UserRef, opts?: RecommendOptions): Promise<Ranking>;
  async recommend(users: ArrayLike<number> | readonly UserRef[], opts?: RecommendOptions): Promise<Ranking[]>;
  async recommend(users: UserRef | ArrayLike<number> | readonly UserRef[], opts: RecommendOptions = {}): Promise<Ranking | Ranking[]> {
    const op = 'recommend';
    this.check(op);
    const single = isSingleUser(users);
    const refs = (single ? [users as UserRef] : Array.from(users as ArrayLike<UserRef>)).map((u, r) => this.checkUser(op, u, single ? 'user' : `user at position ${r}`));
    const k = opts.k ?? 20;
    checkK(op, k);
    const batchSize = opts.batchSize ?? DEFAULT_BATCH;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new IrllrecError('range', `${op}: batchSize must be a positive integer, got ${batchSize}`);
    const scoring = opts.scoring ?? 'auto';
    if (scoring !== 'auto' && scoring !== 'matmul' && scoring !== 'fused') throw new IrllrecError('range', `${op}: scoring must be 'auto', 'matmul' or 'fused', got '${String(scoring)}'`);
    const cand = this.candidates(op, opts.filter);
    const excludeSeen = opts.excludeSeen ?? true;
    const res = await this.rankRows(
      op,
      refs.length,
      this.tables.items,
      k,
      cand,
      this.fillUserRows(refs, this.tables.users, false),
      excludeSeen ? (r) => this.seenItems(refs[r]) : null,
      batchSize,
      this.items,
      scoring,
    );
    return single ? res[0] : res;
  }

  /**
   * The k items most similar to `item` (a dense index or an original id; the item itself excluded): cosine
   * similarity of E_fin rows by default, or dot products with `metric: 'dot'`. A list of items gives one
   * result per item.
   */
  async similarItems(item: ItemRef, k?: number, opts?: SimilarOptions): Promise<Ranking>;
  async similarItems(items: ArrayLike<number> | readonly ItemRef[], k?: number, opts?: SimilarOptions): Promise<Ranking[]>;
  async similarItems(items: ItemRef | ArrayLike<number> | readonly ItemRef[], k = 10, opts: SimilarOptions = {}): Promise<Ranking | Ranking[]> {
    const op = 'similarItems';
    this.check(op);
    const single = typeof items === 'number' || typeof items === 'string';
    const list = this.itemList(op, items);
    checkK(op, k);
    const cosine = (opts.metric ?? 'cosine') === 'cosine';
    if (opts.metric !== undefined && opts.metric !== 'cosine' && opts.metric !== 'dot') throw new IrllrecError('range', `${op}: metric must be 'cosine' or 'dot', got '${String(opts.metric)}'`);
    const table = cosine ? this.normalized('items') : this.tables.items;
    const be = this.backend;
    const cand = this.candidates(op, opts.filter);
    const res = await this.rankRows(
      op,
      list.length,
      table,
      k,
      cand,
      (start, R, q) => {
        const idT = be.tensor(list.subarray(start, start + R), [R], 'u32', `${op}.queryIds`);
        gatherRows(be, table, idT, q);
        idT.dispose();
      },
      (r) => [list[r]],
      DEFAULT_BATCH,
      this.items,
    );
    return single ? res[0] : res;
  }

  /**
   * The k training users most similar to `user` (a training user, itself excluded, or a personalised
   * handle): cosine similarity of E_fin rows by default, or dot products with `metric: 'dot'`. The results'
   * `ids` and `originalIds` are users.
   */
  async similarUsers(user: UserRef, k?: number, opts?: Omit<SimilarOptions, 'filter'>): Promise<Ranking>;
  async similarUsers(users: ArrayLike<number> | readonly UserRef[], k?: number, opts?: Omit<SimilarOptions, 'filter'>): Promise<Ranking[]>;
  async similarUsers(users: UserRef | ArrayLike<number> | readonly UserRef[], k = 10, opts: Omit<SimilarOptions, 'filter'> = {}): Promise<Ranking | Ranking[]> {
    const op = 'similarUsers';
    this.check(op);
    const single = isSingleUser(users);
    const refs = (single ? [users as UserRef] : Array.from(users as ArrayLike<UserRef>)).map((u, r) => this.checkUser(op, u, single ? 'user' : `user at position ${r}`));
    checkK(op, k);
    if (opts.metric !== undefined && opts.metric !== 'cosine' && opts.metric !== 'dot') throw new IrllrecError('range', `${op}: metric must be 'cosine' or 'dot', got '${String(opts.metric)}'`);
    const cosine = (opts.metric ?? 'cosine') === 'cosine';
    const table = cosine ? this.normalized('users') : this.tables.users;
    const res = await this.rankRows(
      op,
      refs.length,
      table,
      k,
      null,
      this.fillUserRows(refs, this.tables.users, cosine),
      (r) => (isPersonalized(refs[r]) ? [] : [refs[r] as number]),
      DEFAULT_BATCH,
      this.users,
    );
    return single ? res[0] : res;
  }

  /**
   * Why `user` might like `item`. IRLLRec: the intent prototypes that most connect them, from
   * πu = softmax(Xu[u]·Wu) and πi = softmax(Xi[i]·Wi) over the K intents, ranked by πu_k·πi_k (see
   * `Explanation`). Other models have no prototypes: the explanation has `kind: 'items'` and only the
   * item-to-item evidence `becauseOf` (the user's training items most similar to `item`). A list of items
   * gives one explanation per item. Users and items are dense indices or original ids (strings); the
   * explanation names items both ways (`item` / `itemId`, `examples` / `exampleIds`).
   */
  async explain(user: UserRef, item: ItemRef, opts?: ExplainOptions): Promise<Explanation>;
  async explain(user: UserRef, items: ArrayLike<number> | readonly ItemRef[], opts?: ExplainOptions): Promise<Explanation[]>;
  async explain(user: UserRef, items: ItemRef | ArrayLike<number> | readonly ItemRef[], opts: ExplainOptions = {}): Promise<Explanation | Explanation[]> {
    const op = 'explain';
    this.check(op);
    const u = this.checkUser(op, user);
    const single = typeof items === 'number' || typeof items === 'string';
    const list = this.itemList(op, items);
    const res = await explainPairs(this.tables, u, this.seenItems(u), list, opts, this.items);
    return single ? res[0] : res;
  }

  /**
   * Learn a user vector on the device from a handful of item ids (and optionally the person's own profile
   * text embedding), with every item-side parameter frozen: see `personalize.ts`. The handle works with
   * `recommend`, `similarUsers` and `explain`; nothing about the person leaves this call.
   */
  async personalize(opts: PersonalizeOptions): Promise<PersonalizedUser> {
    this.check('personalize');
    // Its buffers against the device limits before any is made (the defaults are personalize.ts's).
    const items = opts.items ? Math.min(opts.items.length, this.numItems) : 0;
    checkPlan(
      this.backend,
      planPersonalize(this.tables, { items, steps: opts.steps ?? 40, negativesPerItem: opts.negativesPerItem ?? 8, maxPairs: opts.maxPairs ?? 4096, text: opts.textEmbedding !== undefined }),
      'personalize',
    );
    const h = await personalizeUser(this, this.tables, opts);
    this.handles.add(h);
    h.onDispose(() => this.handles.delete(h));
    return h;
  }

  /** Release every table (and personalised handle); the backend too when the recommender created it. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const h of [...this.handles]) h.dispose();
    const t = this.tables;
    const all: (Tensor | null | undefined)[] = [t.users, t.items, t.intents?.user, t.intents?.item, t.profileCandidates, this.normItems, this.normUsers];
    if (t.profileMlp) all.push(t.profileMlp.w1, t.profileMlp.b1, t.profileMlp.w2, t.profileMlp.b2);
    for (const x of all) x?.dispose();
    if (this.destroyBackend) this.backend.destroy();
  }
}

/** Whether a `recommend` / `similarUsers` argument is one user (a number, an original id or a handle), not a list. */
function isSingleUser(u: unknown): u is UserRef {
  return typeof u === 'number' || typeof u === 'string' || isPersonalized(u);
}

/** The id maps of a recommender, checked before any table is built. */
function idMaps(numUsers: number, numItems: number, userIds: readonly string[] | undefined, itemIds: readonly string[] | undefined): { users: IdMap; items: IdMap } {
  return { users: new IdMap('user', numUsers, userIds), items: new IdMap('item', numItems, itemIds) };
}

function isSet(f: unknown): f is ReadonlySet<number> {
  return typeof (f as Set<number>)?.has === 'function' && typeof (f as Set<number>)?.[Symbol.iterator] === 'function' && !ArrayBuffer.isView(f) && !Array.isArray(f);
}

function deviceLimits(be: Backend): { maxStorageBufferBindingSize: number; maxBufferSize: number } {
  return (be as unknown as { ctx: { limits: { maxStorageBufferBindingSize: number; maxBufferSize: number } } }).ctx.limits;
}

/** Early, model-level check of the largest tables against the device's buffer limits. */
function checkDeviceLimits(be: Backend, nodes: number, d: number, name: string): void {
  if (be.kind !== 'webgpu') return;
  const limits = deviceLimits(be);
  const bytes = nodes * d * 4;
  const max = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (bytes > max) {
    throw new IrllrecError('limit', `${name}: the ${nodes}×${d} embedding table needs ${bytes} bytes, more than this device's storage buffer limit (${max} bytes)`);
  }
}

/** Copy of a parameter tensor of `model` on its backend. */
function copyParam(model: RecModel, name: string): Tensor {
  const src = model.params.get(name);
  if (!src) throw new IrllrecError('format', `model has no parameter '${name}'`);
  const t = model.be.zeros(src.shape, 'f32', `serve.${name}`);
  model.be.copy(src, t);
  return t;
}

/** E_fin and the small parameters serving needs, copied out of `model`. */
async function buildTables(model: RecModel, train: Interactions, opts: RecommenderOptions): Promise<ServingTables> {
  const be = model.be;
  const nu = model.numUsers;
  const ni = model.numItems;
  const d = model.config.embeddingDim;
  checkPlan(be, planServingTables(model.planInput(), { userProfiles: opts.userProfiles !== undefined }), 'Recommender');
  const seen = userItemCsr(nu, ni, train);
  const made: Tensor[] = [];
  try {
    const efin = model.finalEmbeddings();
    const users = be.zeros([nu, d], 'f32', 'serve.users');
    const items = be.zeros([ni, d], 'f32', 'serve.items');
    made.push(users, items);
    be.copyRange(efin, 0, users, 0, nu * d);
    be.copyRange(efin, nu * d, items, 0, ni * d);
    efin.dispose();
    let intents: ServingTables['intents'] = null;
    if (model.parts.intents) {
      intents = { user: copyParam(model, 'user_intent'), item: copyParam(model, 'item_intent') };
      made.push(intents.user, intents.item);
      if (opts.intentLabels && opts.intentLabels.length !== model.config.numIntents) {
        throw new IrllrecError('shape', `intentLabels: ${opts.intentLabels.length} labels for ${model.config.numIntents} intent prototypes`);
      }
    }
    let profileMlp: MlpTensors | null = null;
    let profileCandidates: Tensor | null = null;
    if (model.parts.profile) {
      profileMlp = { w1: copyParam(model, PROFILE_MLP.w1), b1: copyParam(model, PROFILE_MLP.b1), w2: copyParam(model, PROFILE_MLP.w2), b2: copyParam(model, PROFILE_MLP.b2) };
      made.push(profileMlp.w1, profileMlp.b1, profileMlp.w2, profileMlp.b2);
      const pu = opts.userProfiles;
      if (pu) {
        if (pu.rows !== nu || pu.cols !== model.profileDim || pu.data.length < pu.rows * pu.cols) {
          throw new IrllrecError('shape', `userProfiles: ${pu.rows}×${pu.cols} (${pu.data.length} values), the model expects ${nu}×${model.profileDim}`);
        }
        for (let i = 0; i < pu.rows * pu.cols; i++) {
          if (!Number.isFinite(pu.data[i])) throw new IrllrecError('nonfinite', `userProfiles: value at row ${Math.floor(i / pu.cols)}, column ${i % pu.cols} is ${pu.data[i]}`);
        }
        const x = be.tensor(pu.data.subarray(0, pu.rows * pu.cols), [nu, pu.cols], 'f32', 'serve.userProfiles');
        profileCandidates = be.zeros([nu, d], 'f32', 'serve.userProfiles.projected');
        made.push(profileCandidates);
        mlpForward(be, profileMlp, x, profileCandidates);
        x.dispose();
      }
    } else if (opts.userProfiles) {
      throw new IrllrecError('data', `userProfiles: a ${model.config.kind} model has no profile MLP to project them`);
    }
    // RMS of the item and user rows: the scale that personalize's default step size is relative to.
    const sums = be.zeros([2], 'f32', 'serve.scale');
    sumSquares(be, items, sums, 0);
    sumSquares(be, users, sums, 1);
    const s = await be.read(sums);
    sums.dispose();
    for (const [what, v] of [['item', s[0]], ['user', s[1]]] as const) {
      if (!Number.isFinite(v)) throw new IrllrecError('nonfinite', `the model's ${what} embeddings E_fin are not finite`);
    }
    const scale = { items: Math.sqrt(s[0] / Math.max(1, ni * d)), users: Math.sqrt(s[1] / Math.max(1, nu * d)) };
    return {
      be,
      config: { ...model.config },
      numUsers: nu,
      numItems: ni,
      users,
      items,
      seen,
      intents,
      profileMlp,
      profileDim: model.parts.profile ? model.profileDim : 0,
      profileCandidates,
      intentLabels: opts.intentLabels ?? null,
      normalizedItems: () => {
        throw new IrllrecError('range', 'not attached to a recommender');
      },
      scale,
    };
  } catch (e) {
    for (const t of made) t.dispose();
    throw e;
  }
}
