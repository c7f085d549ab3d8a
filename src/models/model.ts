/**
 * The model ladder in one code base: LightGCN, RLMRec-Con and IRLLRec (spec §2–§6, §9), and the same
 * ladder on the SGL and SimGCL backbones (backbones spec; their augmented views live in backbones.ts).
 *
 * Everything lives in backend tensors; one training step records propagation, the intent branch, the
 * text towers, every loss with its hand-written backward, EMA and Adam into one recording and submits
 * it once; only the loss vector is read back. The same code runs on the WebGPU backend and on the CPU
 * twins (in float64 for gradient checks).
 *
 * Node layout: users are nodes 0..Nu−1, items Nu..N−1. Node-indexed tensors (E_l, E_fin, Ȳ, the text
 * views P̃ and Z) are N×d; the embedding parameter is stored as one N×d table `E0 = [Eu; Ei]` and split
 * into `user_embeds` / `item_embeds` on export.
 */
import type { Graph } from '../data/graph.js';
import type { Matrix } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import { type EdgeGraph, edgeWeights, edgeWeightsBackward } from '../ops/adaptive.js';
import { PackedF16Matrix, matmul, packF16Checked } from '../ops/dense.js';
import { addInto, axpy, mulOnePlus, scaleInPlace } from '../ops/elementwise.js';
import { type RowGroups, disposeRowGroups, gatherRows, rowGroups, scatterAddRows } from '../ops/gather.js';
import { crossViewInfoNce } from '../ops/contrast.js';
import { bpr, infoNce } from '../ops/losses.js';
import { ADAM_DEFAULTS, type AdamConfig, adamStep, emaUpdate } from '../ops/optim.js';
import { dropoutValues, randomNormal } from '../ops/random.js';
import { sumSquares } from '../ops/reduce.js';
import { itmLoss, normalizeRows, normalizeRowsBackward, softmaxRows, softmaxRowsBackward } from '../ops/rowwise.js';
import { type Csr, spmm } from '../ops/spmm.js';
import { sslContrastive } from '../ops/ssl.js';
import { type Backend, type Tensor, UPLOAD_CHUNK_BYTES } from '../ops/tensor.js';
import { packedF16RowWords } from '../util/f16.js';
import { Rng, hashU32 } from '../util/random.js';
import { type View, augmentedViews } from './backbones.js';
import { LOSS_NAMES, type LossComponents, type LossName, type ModelConfig, modelParts, validateConfig } from './config.js';
import { type MlpTensors, initMlp, mlpBackward, mlpForward, mlpShapes, uniform, xavier } from './mlp.js';
import { type ModelPlanInput, type TowerMemory, checkPlan, modelPlanInput, planCreation, planStep, towerMemory } from './plan.js';

/** One mini-batch of training triples (item ids are 0-based item ids, not node ids). */
export interface Batch {
  users: Uint32Array;
  pos: Uint32Array;
  neg: Uint32Array;
}

/** What a model is built on: the training graph and, for RLMRec/IRLLRec, the LLM text embeddings. */
export interface ModelData {
  numUsers: number;
  numItems: number;
  graph: Graph;
  text?: { userProfile?: Matrix; itemProfile?: Matrix; userIntent?: Matrix; itemIntent?: Matrix };
  /** Text widths for a ranking-only model built without text (e.g. loaded from a file to recommend). */
  textDims?: { profile?: number; intent?: number };
}

export interface StepOptions {
  /**
   * Seed of this step's random draws (ssl noise, dropout masks, SimGCL's noise): every draw is a counter-based
   * hash of it, so a step is replayed exactly, on either backend, by passing the same seed. Default: derived
   * from the model seed and step.
   */
  noiseSeed?: number;
}

/** Options of `loss` and `computeGradients`. */
export interface LossOptions extends StepOptions {
  /** Apply the step's EMA update of the teacher first, as a training step (and the reference's cal_loss) does. */
  updateTeacher?: boolean;
  /**
   * Only these loss terms (diagnostics: each term's own gradient): the others are left out of the loss and the
   * gradients, as if their weight were 0. Default: every term.
   */
  terms?: readonly LossName[];
  /** Copy intermediate views into these N×d tensors (diagnostics): Ȳ (IRLLRec's graph-side intent view), E_fin. */
  views?: { ybar?: Tensor; efin?: Tensor };
}

const SLOT = { bpr: 0, reg: 1, kd: 2, kd_int: 3, ssl: 4, itm: 5, cl: 6 } as const;
const NUM_SLOTS = 8;

type ParamName = string;

/** Reference tensor names of the student/teacher MLPs (`nn.Sequential(Linear, LeakyReLU, Linear)`). */
function mlpNames(prefix: string): Record<keyof MlpTensors, string> {
  return { w1: `${prefix}.0.weight`, b1: `${prefix}.0.bias`, w2: `${prefix}.2.weight`, b2: `${prefix}.2.bias` };
}
export const PROFILE_MLP = mlpNames('mlp');
export const INTENT_MLP = mlpNames('int_mlp');
export const TEACHER_MLP = mlpNames('int_mlp_m');

function checkMatrix(m: Matrix | undefined, rows: number, what: string): Matrix {
  if (!m) throw new IrllrecError('data', `${what} is required by this model but was not provided`);
  if (m.rows !== rows) throw new IrllrecError('shape', `${what}: ${m.rows} rows, expected ${rows}`);
  if (m.data.length < m.rows * m.cols) throw new IrllrecError('shape', `${what}: data holds ${m.data.length} values, expected ${m.rows * m.cols}`);
  for (let i = 0; i < m.rows * m.cols; i++) {
    if (!Number.isFinite(m.data[i])) throw new IrllrecError('nonfinite', `${what}: value at row ${Math.floor(i / m.cols)}, column ${i % m.cols} is ${m.data[i]}`);
  }
  return m;
}

export class RecModel {
  readonly be: Backend;
  readonly config: ModelConfig;
  readonly numUsers: number;
  readonly numItems: number;
  readonly n: number;
  readonly seed: number;
  /** Trainable parameters by reference name ('E0' is the N×d node table). */
  readonly params = new Map<ParamName, Tensor>();
  /** EMA teacher (IRLLRec on LightGCN). */
  readonly teacher = new Map<ParamName, Tensor>();
  /** Gradients of the last `computeGradients` call, by parameter name. */
  readonly grads = new Map<ParamName, Tensor>();
  private readonly adamM = new Map<ParamName, Tensor>();
  private readonly adamV = new Map<ParamName, Tensor>();
  /** Adam steps taken (the next step uses t = step + 1). */
  step = 0;
  adam: AdamConfig = { ...ADAM_DEFAULTS };
  /** How the text towers hold their hidden activations in a step (src/models/plan.ts `towerMemory`; results do not depend on it). */
  towerMemory: TowerMemory;
  /** The ssl term's share of loss slot 4 in the last recording (the rest is ITM's; see readLosses). */
  private sslShare = 0;

  // Constants on the backend.
  private readonly adj: Csr; // Â
  private readonly edges: EdgeGraph;
  // Text tables: f32 tensors, or packed f16 under `textPrecision: 'f16'` (only ever matmul operands).
  private readonly profile: Tensor | PackedF16Matrix | null; // [Pu; Pi]  N×dp
  private readonly intent: Tensor | PackedF16Matrix | null; // [Qu; Qi]  N×dq
  private readonly lossVec: Tensor;
  private readonly textDims: { profile: number; intent: number };
  private disposed = false;

  private constructor(be: Backend, config: ModelConfig, data: ModelData, seed: number) {
    validateConfig(config);
    // Every buffer this model and its steps will bind, checked against the device limits before any is made.
    checkPlan(be, planCreation(modelPlanInput(config, data)), `${config.kind} model (${data.numUsers} users, ${data.numItems} items)`);
    this.be = be;
    this.config = config;
    this.numUsers = data.numUsers;
    this.numItems = data.numItems;
    this.n = data.numUsers + data.numItems;
    this.seed = seed >>> 0;
    const g = data.graph;
    if (g.n !== this.n || g.numUsers !== this.numUsers) {
      throw new IrllrecError('shape', `graph has ${g.n} nodes (${g.numUsers} users), the model expects ${this.n} (${this.numUsers} users)`);
    }
    const rowPtr = be.tensor(g.rowPtr, [g.n + 1], 'u32', 'graph.rowPtr');
    const colIdx = be.tensor(g.colIdx, [g.nnz], 'u32', 'graph.colIdx');
    this.adj = { rows: g.n, cols: g.n, nnz: g.nnz, rowPtr, colIdx, values: be.tensor(g.values, [g.nnz], 'f32', 'graph.values') };
    this.edges = { n: g.n, nnz: g.nnz, rowPtr, colIdx, rev: be.tensor(g.rev, [g.nnz], 'u32', 'graph.rev') };
    const parts = modelParts(config.kind);
    const t = data.text ?? {};
    const has = (a?: Matrix, b?: Matrix) => a !== undefined || b !== undefined;
    // The text goes to the device in blocks of rows, users then items, straight into the new buffer's mapping
    // (Backend.tensorFrom: no host copy of a whole table, no staging memory): f32, or rounded to f16 on the
    // host block by block and packed (textPrecision 'f16'): the same values on every backend.
    const uploadText = (u: Matrix, i: Matrix, what: string, label: string): Tensor | PackedF16Matrix => {
      if (u.cols !== i.cols) throw new IrllrecError('shape', `${what}: user embeddings are ${u.cols}-d but item embeddings are ${i.cols}-d`);
      const cols = u.cols;
      const f16 = config.textPrecision === 'f16';
      const width = f16 ? packedF16RowWords(cols) : cols;
      const rowsPerBlock = Math.max(1, Math.floor(UPLOAD_CHUNK_BYTES / (4 * Math.max(1, width))));
      const n = this.n;
      function* blocks() {
        let row = 0;
        for (const m of [u, i]) {
          for (let r = 0; r < m.rows; r += rowsPerBlock) {
            const rows = Math.min(rowsPerBlock, m.rows - r);
            const values = m.data.subarray(r * cols, (r + rows) * cols);
            yield f16 ? packF16Checked(values, rows, cols, label, row) : values;
            row += rows;
          }
        }
      }
      const table = be.tensorFrom([n, width], f16 ? 'u32' : 'f32', label, blocks());
      return f16 ? new PackedF16Matrix(table, this.n, cols) : table;
    };
    // Text is needed to train the towers; a model loaded only to rank (E_fin needs no text) may lack it,
    // in which case `textDims` gives the towers' input widths.
    if (parts.profile && has(t.userProfile, t.itemProfile)) {
      const pu = checkMatrix(t.userProfile, this.numUsers, 'user profile embeddings');
      const pi = checkMatrix(t.itemProfile, this.numItems, 'item profile embeddings');
      this.profile = uploadText(pu, pi, 'profile embeddings', 'text.profile');
    } else this.profile = null;
    if (parts.intents && has(t.userIntent, t.itemIntent)) {
      const qu = checkMatrix(t.userIntent, this.numUsers, 'user intent embeddings');
      const qi = checkMatrix(t.itemIntent, this.numItems, 'item intent embeddings');
      this.intent = uploadText(qu, qi, 'intent embeddings', 'text.intent');
    } else this.intent = null;
    this.textDims = {
      profile: this.profile?.cols ?? data.textDims?.profile ?? 0,
      intent: this.intent?.cols ?? data.textDims?.intent ?? 0,
    };
    if (parts.profile && !this.textDims.profile) throw new IrllrecError('data', `${config.kind} needs user and item profile embeddings (or textDims.profile for a ranking-only model)`);
    if (parts.intents && !this.textDims.intent) throw new IrllrecError('data', `${config.kind} needs user and item intent embeddings (or textDims.intent for a ranking-only model)`);
    this.lossVec = be.zeros([NUM_SLOTS], 'f32', 'losses');
    this.towerMemory = towerMemory(this.textDims.profile, this.textDims.intent, config.embeddingDim);
  }

  /** A freshly initialised model (spec §2, including the teacher-initialisation quirk). */
  static create(be: Backend, config: ModelConfig, data: ModelData, opts: { seed?: number } = {}): RecModel {
    const seed = opts.seed ?? 2023;
    const m = new RecModel(be, config, data, seed);
    m.initialise(new Rng(seed));
    return m;
  }

  get parts() {
    return modelParts(this.config.kind);
  }
  get profileDim(): number {
    return this.textDims.profile;
  }
  get intentDim(): number {
    return this.textDims.intent;
  }
  /** Bytes the loaded text tables occupy on the backend (halved by `textPrecision: 'f16'`). */
  get textTableBytes(): number {
    return (this.profile?.byteLength ?? 0) + (this.intent?.byteLength ?? 0);
  }
  /** The sizes this model's binding plan depends on (src/models/plan.ts). */
  planInput(): ModelPlanInput {
    return { config: this.config, numUsers: this.numUsers, numItems: this.numItems, edges: this.adj.nnz, profileDim: this.profileDim, intentDim: this.intentDim, withText: this.canTrain, towers: this.towerMemory };
  }
  /** Whether the text embeddings needed for training are loaded. */
  get canTrain(): boolean {
    return (!this.parts.profile || this.profile !== null) && (!this.parts.intents || this.intent !== null);
  }

  /** Shapes of every parameter by reference name (teacher included), for import/export. */
  parameterShapes(): Map<string, number[]> {
    const d = this.config.embeddingDim;
    const s = new Map<string, number[]>();
    s.set('E0', [this.n, d]);
    if (this.parts.intents) {
      s.set('user_intent', [d, this.config.numIntents]);
      s.set('item_intent', [d, this.config.numIntents]);
    }
    if (this.parts.profile) {
      const ms = mlpShapes(this.profileDim, d);
      for (const k of ['w1', 'b1', 'w2', 'b2'] as const) s.set(PROFILE_MLP[k], ms[k]);
    }
    if (this.parts.intents) {
      const ms = mlpShapes(this.intentDim, d);
      for (const k of ['w1', 'b1', 'w2', 'b2'] as const) {
        s.set(INTENT_MLP[k], ms[k]);
        if (this.parts.teacher) s.set(TEACHER_MLP[k], ms[k]);
      }
    }
    return s;
  }

  private initialise(rng: Rng): void {
    const be = this.be;
    const d = this.config.embeddingDim;
    const nu = this.numUsers;
    const ni = this.numItems;
    const e0 = new Float32Array(this.n * d);
    e0.set(uniform(rng, nu * d, Math.sqrt(6 / (nu + d))));
    e0.set(uniform(rng, ni * d, Math.sqrt(6 / (ni + d))), nu * d);
    this.addParam('E0', e0, [this.n, d]);
    if (this.parts.intents) {
      this.addParam('user_intent', xavier(rng, d, this.config.numIntents), [d, this.config.numIntents]);
      this.addParam('item_intent', xavier(rng, d, this.config.numIntents), [d, this.config.numIntents]);
    }
    if (this.parts.profile) {
      const w = initMlp(rng, this.profileDim, d);
      const ms = mlpShapes(this.profileDim, d);
      for (const k of ['w1', 'b1', 'w2', 'b2'] as const) this.addParam(PROFILE_MLP[k], w[k], ms[k]);
    }
    if (this.parts.intents) {
      const ms = mlpShapes(this.intentDim, d);
      const student = initMlp(rng, this.intentDim, d);
      // Reference quirk (spec §2): the teacher copies the student's default-initialised parameters, then the
      // weights of both are re-drawn by xavier independently; so biases match and weights do not. The
      // backbones' _int models have no teacher (backbones spec §2) and draw nothing for it.
      const teacherW = this.parts.teacher ? initMlp(rng, this.intentDim, d) : student;
      for (const k of ['w1', 'b1', 'w2', 'b2'] as const) {
        this.addParam(INTENT_MLP[k], student[k], ms[k]);
        if (!this.parts.teacher) continue;
        const tv = this.config.teacherInit === 'copy' || k === 'b1' || k === 'b2' ? student[k] : teacherW[k];
        this.teacher.set(TEACHER_MLP[k], be.tensor(tv, ms[k], 'f32', TEACHER_MLP[k]));
      }
    }
  }

  private addParam(name: string, value: ArrayLike<number>, shape: number[]): void {
    const be = this.be;
    this.params.set(name, be.tensor(value, shape, 'f32', name));
    this.grads.set(name, be.zeros(shape, 'f32', `grad.${name}`));
    this.adamM.set(name, be.zeros(shape, 'f32', `adam.m.${name}`));
    this.adamV.set(name, be.zeros(shape, 'f32', `adam.v.${name}`));
  }

  private p(name: string): Tensor {
    const t = this.params.get(name) ?? this.teacher.get(name);
    if (!t) throw new IrllrecError('range', `model has no parameter '${name}'`);
    return t;
  }
  private mlp(names: Record<keyof MlpTensors, string>, from: 'params' | 'grads' | 'teacher' = 'params'): MlpTensors {
    const src = from === 'params' ? this.params : from === 'grads' ? this.grads : this.teacher;
    const get = (k: string) => {
      const t = src.get(k);
      if (!t) throw new IrllrecError('range', `model has no ${from} tensor '${k}'`);
      return t;
    };
    return { w1: get(names.w1), b1: get(names.b1), w2: get(names.w2), b2: get(names.b2) };
  }

  // ------------------------------------------------------------------------------------------------
  // Propagation

  /** E_fin = Σ_{l=0..L} Â^l E_0 with the full Â (no dropout): the embeddings used for ranking (spec §8). */
  finalEmbeddings(out?: Tensor): Tensor {
    const be = this.be;
    const d = this.config.embeddingDim;
    const fin = out ?? be.zeros([this.n, d], 'f32', 'E_fin');
    const e0 = this.p('E0');
    be.copy(e0, fin);
    let prev = e0;
    const bufs = [be.zeros([this.n, d], 'f32', 'E_a'), be.zeros([this.n, d], 'f32', 'E_b')];
    for (let l = 0; l < this.config.layers; l++) {
      const next = bufs[l % 2];
      spmm(be, this.adj, prev, next);
      axpy(be, 1, next, fin);
      prev = next;
    }
    for (const b of bufs) b.dispose();
    return fin;
  }

  // ------------------------------------------------------------------------------------------------
  // One step

  /**
   * Every loss component for `batch` at the current parameters (no parameter update). By default the
   * teacher is used as it is, so repeated calls are deterministic for a given `noiseSeed`; with
   * `updateTeacher` the step's EMA update is applied first, exactly as the reference's `cal_loss` does
   * (the teacher then stays updated).
   */
  async loss(batch: Batch, opts: LossOptions = {}): Promise<LossComponents> {
    this.record(batch, { grads: false, updateTeacher: opts.updateTeacher ?? false, noiseSeed: opts.noiseSeed ?? this.stepSeed(), terms: opts.terms, views: opts.views });
    return this.readLosses();
  }

  /**
   * Loss and gradients of every trainable parameter (left in `grads`), without updating anything. With
   * `updateTeacher` the teacher's EMA update of the step is applied first, as a training step does.
   */
  async computeGradients(batch: Batch, opts: LossOptions = {}): Promise<LossComponents> {
    this.record(batch, { grads: true, updateTeacher: opts.updateTeacher ?? false, noiseSeed: opts.noiseSeed ?? this.stepSeed(), terms: opts.terms, views: opts.views });
    return this.readLosses();
  }

  /** One optimiser step on `batch` (spec §3 order: forward, losses, EMA, ITM, backward, Adam). */
  async trainStep(batch: Batch, opts: StepOptions = {}): Promise<LossComponents> {
    this.recordTrainStep(batch, opts);
    return this.readLosses();
  }

  /** Record one training step without reading anything back (the caller submits / reads). */
  recordTrainStep(batch: Batch, opts: StepOptions = {}): void {
    this.record(batch, { grads: true, updateTeacher: true, noiseSeed: opts.noiseSeed ?? this.stepSeed() });
    this.step++;
    for (const [name, param] of this.params) {
      adamStep(this.be, param, this.grads.get(name)!, this.adamM.get(name)!, this.adamV.get(name)!, { ...this.adam, step: this.step });
    }
  }

  /** The seed for the random draws of the next step. */
  stepSeed(): number {
    return hashU32((this.seed ^ Math.imul(this.step + 1, 0x9e3779b9)) >>> 0);
  }

  /** Read the loss vector and name its slots (weighted as they enter the total, spec §4.8). */
  async readLosses(): Promise<LossComponents> {
    const v = await this.be.read(this.lossVec);
    // Slot 4 holds w2·(1 + 0.4·w3)·L_ssl (the scale its gradient needs); split it into ssl and ITM's share.
    const sslBoth = v[SLOT.ssl];
    const sslShare = this.sslShare;
    const out = {
      bpr: v[SLOT.bpr],
      reg: v[SLOT.reg],
      kd: v[SLOT.kd],
      kd_int: v[SLOT.kd_int],
      ssl: sslBoth * sslShare,
      itm: v[SLOT.itm] + sslBoth * (1 - sslShare),
      cl: v[SLOT.cl],
      total: 0,
    } as LossComponents;
    out.total = LOSS_NAMES.reduce((s, k) => s + out[k], 0);
    return out;
  }

  private record(batch: Batch, mode: { grads: boolean; updateTeacher: boolean; noiseSeed: number; terms?: readonly LossName[]; views?: LossOptions['views'] }): void {
    if (this.disposed) throw new IrllrecError('disposed', 'the model was disposed');
    const be = this.be;
    const only = mode.terms ? new Set<LossName>(mode.terms) : null;
    const on = (term: LossName) => !only || only.has(term);
    // With `terms`, the left-out terms weigh 0 (and so are not computed at all).
    const cfg: ModelConfig = only
      ? { ...this.config, reg: on('reg') ? this.config.reg : 0, kdWeight: on('kd') ? this.config.kdWeight : 0, intWeight: on('kd_int') ? this.config.intWeight : 0, clWeight: on('cl') ? this.config.clWeight : 0 }
      : this.config;
    // L_ssl enters the total with weight w2 directly (ssl) and 0.4·w3·w2 inside ITM (§4.8): one pass, one scale.
    const w2 = this.config.sslWeight;
    const w3 = this.config.itmWeight;
    const sslScale = !this.parts.teacher ? 0 : on('ssl') && on('itm') ? w2 * (1 + 0.4 * w3) : on('ssl') ? w2 : on('itm') ? 0.4 * w3 * w2 : 0;
    const itmScale = this.parts.teacher && on('itm') ? w3 : 0;
    this.sslShare = sslScale > 0 ? (!on('ssl') ? 0 : !on('itm') ? 1 : 1 / (1 + 0.4 * w3)) : 0;
    const { numUsers: nu, numItems: ni, n } = this;
    const d = cfg.embeddingDim;
    const L = cfg.layers;
    const parts = this.parts;
    const B = batch.users.length;
    validateBatch(batch, nu, ni);
    if (!this.canTrain) throw new IrllrecError('data', `${cfg.kind}: the text embeddings were not loaded; losses need them (provide the dataset's .npy files)`);
    checkPlan(be, planStep(this.planInput(), B), `${cfg.kind} training step (batch of ${B})`);
    const temps: Tensor[] = [];
    const tmp = (shape: number[], label: string) => {
      const t = be.zeros(shape, 'f32', label);
      temps.push(t);
      return t;
    };
    // Temporaries that only `body` reads go back to the pool as soon as it is recorded, for the later work
    // of the step to reuse (the step's peak is then what is live at once, not the sum of everything).
    const scoped = (body: () => void) => {
      const start = temps.length;
      body();
      for (const t of temps.splice(start)) t.dispose();
    };
    const groups: RowGroups[] = [];
    const nodeGroups = (ids: Uint32Array, offset: number, label: string) => {
      const node = new Uint32Array(ids.length);
      for (let i = 0; i < ids.length; i++) node[i] = ids[i] + offset;
      const g = rowGroups(be, node, n, label);
      groups.push(g);
      return g;
    };
    const gu = nodeGroups(batch.users, 0, 'batch.users');
    const gp = nodeGroups(batch.pos, nu, 'batch.pos');
    const gq = nodeGroups(batch.neg, nu, 'batch.neg');

    be.zero(this.lossVec);
    if (mode.grads) for (const g of this.grads.values()) be.zero(g);
    const seedNoise1 = hashU32(mode.noiseSeed ^ 0x1111);
    const seedNoise2 = hashU32(mode.noiseSeed ^ 0x2222);
    const seedDrop = hashU32(mode.noiseSeed ^ 0x3333);

    // ---- F1–F4: propagation (dropout mask shared by all layers of this pass) and the intent branch.
    // On SGL and SimGCL this is the clean view 3 (keepRate applies to their augmented views only), and views
    // 1 and 2 feed L_cl (backbones spec §3).
    const backbone = parts.backbone;
    const e0 = this.p('E0');
    let adjValues: Tensor | null = this.adj.values;
    if (backbone === 'lightgcn' && cfg.keepRate < 1) {
      adjValues = tmp([this.adj.nnz], 'adj.dropped');
      dropoutValues(be, this.adj.values!, adjValues, seedDrop, cfg.keepRate);
    }
    const E: Tensor[] = [e0];
    for (let l = 0; l < L; l++) {
      const next = tmp([n, d], `E${l + 1}`);
      spmm(be, this.adj, E[l], next, { values: adjValues });
      E.push(next);
    }
    const efin = tmp([n, d], 'E_fin');
    be.copy(e0, efin);
    for (let l = 1; l <= L; l++) axpy(be, 1, E[l], efin);
    // Views 1 and 2 feed L_cl, and sgl_int's view 2 also feeds its intent branch (each view's draws depend on
    // the seed and the view only, so view 2 is the same whether or not L_cl is on).
    const needViews = backbone !== 'lightgcn' && (cfg.clWeight > 0 || (backbone === 'sgl' && parts.intents && cfg.intWeight > 0));
    const views: [View, View] | null = needViews ? augmentedViews(be, backbone, this.adj, e0, cfg, mode.noiseSeed, tmp) : null;
    // The intent branch reads the clean layers, except on SGL: its view 2's layers over Ã_2 (backbones spec §4.3).
    const intentLayers = backbone === 'sgl' ? views?.[1].layers : E;

    interface LayerCache {
      u: Tensor;
      i: Tensor;
      piU: Tensor;
      piI: Tensor;
      c: Tensor;
      cHat: Tensor;
      G: Tensor;
      rho: Tensor;
    }
    // A term whose weight is 0 costs nothing: the views only it reads are not computed (no kernel, no buffer).
    // Ȳ feeds only kd_int; the intent tower Z feeds kd_int, ssl and ITM; the profile tower P̃ feeds only kd.
    const needYbar = parts.intents && cfg.intWeight > 0;
    const needZ = parts.intents && (cfg.intWeight > 0 || sslScale > 0 || itmScale > 0);
    const needPt = parts.profile && cfg.kdWeight > 0;
    const layers: LayerCache[] = [];
    let ybar: Tensor | null = null;
    if (needYbar) {
      const K = cfg.numIntents;
      const wu = this.p('user_intent');
      const wi = this.p('item_intent');
      ybar = tmp([n, d], 'Ybar');
      const y = tmp([n, d], 'Y_l');
      for (let l = 0; l < L; l++) {
        const lc: LayerCache = {
          u: tmp([nu, d], `U${l}`),
          i: tmp([ni, d], `I${l}`),
          piU: tmp([nu, K], `PiU${l}`),
          piI: tmp([ni, K], `PiI${l}`),
          c: tmp([n, d], `C${l}`),
          cHat: tmp([n, d], `Chat${l}`),
          G: tmp([this.edges.nnz], `G${l}`),
          rho: tmp([n], `rho${l}`),
        };
        const El = intentLayers![l];
        be.copyRange(El, 0, lc.u, 0, nu * d);
        be.copyRange(El, nu * d, lc.i, 0, ni * d);
        this.intentSide(lc.u, wu, lc.piU, lc.c, 0, `u${l}`);
        this.intentSide(lc.i, wi, lc.piI, lc.c, nu * d, `i${l}`);
        normalizeRows(be, lc.c, lc.cHat, { mode: 'hard' });
        edgeWeights(be, this.edges, lc.cHat, lc.G, lc.rho);
        spmm(be, this.adj, El, y, { values: lc.G });
        axpy(be, 1 / L, y, ybar);
        layers.push(lc);
      }
    }

    // ---- F5: text towers over all rows, in row blocks; A kept for the backward only when the plan says so
    const towers = this.towerMemory;
    const towerOpts = (label: string, hidden: number) => ({
      blockRows: towers.blockRows,
      label,
      activations: mode.grads && towers.keepActivations ? tmp([n, hidden], `${label}.A`) : undefined,
    });
    let pt: Tensor | null = null;
    const profileOpts = needPt ? towerOpts('profile', this.p(PROFILE_MLP.w1).shape[0]) : null;
    if (needPt) {
      pt = tmp([n, d], 'P~');
      mlpForward(be, this.mlp(PROFILE_MLP), this.profile!, pt, profileOpts!);
    }
    let z: Tensor | null = null;
    const intentOpts = needZ ? towerOpts('intent', this.p(INTENT_MLP.w1).shape[0]) : null;
    if (needZ) {
      z = tmp([n, d], 'Z');
      mlpForward(be, this.mlp(INTENT_MLP), this.intent!, z, intentOpts!);
    }

    // Gradient sinks (spec §5).
    const gF = mode.grads ? tmp([n, d], 'gF') : null;
    const gYbar = mode.grads && needYbar ? tmp([n, d], 'gYbar') : null;
    const gPt = mode.grads && needPt ? tmp([n, d], 'gP~') : null;
    const gZ = mode.grads && needZ ? tmp([n, d], 'gZ') : null;

    // ---- F6–F7: losses
    const xu = tmp([B, d], 'x_u');
    const xp = tmp([B, d], 'x_p');
    const xq = tmp([B, d], 'x_q');
    gatherRows(be, efin, gu.ids, xu);
    gatherRows(be, efin, gp.ids, xp);
    gatherRows(be, efin, gq.ids, xq);
    const gb = mode.grads ? [tmp([B, d], 'g_b0'), tmp([B, d], 'g_b1'), tmp([B, d], 'g_b2')] : null;

    // BPR (§4.1)
    if (on('bpr')) bpr(be, xu, xp, xq, this.lossVec, SLOT.bpr, { scale: 1 / B, gU: gb?.[0], gP: gb?.[1], gQ: gb?.[2] });
    if (gb && gF && on('bpr')) {
      scatterAddRows(be, gb[0], gu, gF);
      scatterAddRows(be, gb[1], gp, gF);
      scatterAddRows(be, gb[2], gq, gF);
    }

    // L2 over every registered parameter tensor, whole, teacher included at its pre-EMA value (§4.2).
    if (cfg.reg > 0) {
      for (const t of this.params.values()) sumSquares(be, t, this.lossVec, SLOT.reg, { scale: cfg.reg });
      for (const t of this.teacher.values()) sumSquares(be, t, this.lossVec, SLOT.reg, { scale: cfg.reg });
    }

    // kd (§4.4) and kd_int (§4.5): the same InfoNCE structure with different views.
    const alignment = (anchorsNode: Tensor, text: Tensor, gAnchor: Tensor | null, gText: Tensor | null, weight: number, tau: number, slot: number, tag: string, negatives = true) => {
      const scale = weight / B;
      const au = tmp([B, d], `${tag}.a_u`);
      const tu = tmp([B, d], `${tag}.t_u`);
      const candU = tmp([nu, d], `${tag}.cand_u`);
      if (anchorsNode === efin) be.copy(xu, au);
      else gatherRows(be, anchorsNode, gu.ids, au);
      gatherRows(be, text, gu.ids, tu);
      be.copyRange(text, 0, candU, 0, nu * d);
      const gA = gAnchor ? tmp([B, d], `${tag}.gA`) : null;
      const gP = gText ? tmp([B, d], `${tag}.gP`) : null;
      const gC = gText ? tmp([nu, d], `${tag}.gC`) : null;
      // Users: against all Nu user rows of the text view (the anchor's own row included).
      infoNce(be, au, tu, candU, this.lossVec, slot, { tau, scale, gA, gP, gC });
      if (gText && gC && gP) {
        // gText is all zeros here: copying the candidate block is adding it. Must precede the scatters.
        be.copyRange(gC, 0, gText, 0, nu * d);
        scatterAddRows(be, gP, gu, gText);
      }
      if (gAnchor && gA) scatterAddRows(be, gA, gu, gAnchor);
      // Items: against the B in-batch rows of the same role, duplicates included (positive on the diagonal).
      for (const [grp, name] of negatives
        ? ([
            [gp, 'p'],
            [gq, 'q'],
          ] as const)
        : ([[gp, 'p']] as const)) {
        const ai = tmp([B, d], `${tag}.a_${name}`);
        const ti = tmp([B, d], `${tag}.t_${name}`);
        gatherRows(be, anchorsNode, grp.ids, ai);
        gatherRows(be, text, grp.ids, ti);
        const gAi = gAnchor ? tmp([B, d], `${tag}.gA_${name}`) : null;
        const gTi = gText ? tmp([B, d], `${tag}.gT_${name}`) : null;
        infoNce(be, ai, ti, ti, this.lossVec, slot, { tau, scale, gA: gAi, gP: gTi, gC: gTi, accumulate: true });
        if (gText && gTi) scatterAddRows(be, gTi, grp, gText);
        if (gAnchor && gAi) scatterAddRows(be, gAi, grp, gAnchor);
      }
    };
    if (needPt) scoped(() => alignment(efin, pt!, gF, gPt, cfg.kdWeight, cfg.kdTemperature, SLOT.kd, 'kd'));
    // simgcl_int's kd_int has no negative-item term (backbones spec §5.3, quirk 12).
    if (needYbar) scoped(() => alignment(ybar!, z!, gYbar, gZ, cfg.intWeight, cfg.intTemperature, SLOT.kd_int, 'kd_int', backbone !== 'simgcl'));

    // L_cl (backbones spec §3.4): view-1 anchors of the batch's users and positives (and SGL's negatives),
    // against all view-2 rows of their side.
    const gViews = mode.grads && views ? [tmp([n, d], 'gX1'), tmp([n, d], 'gX2')] : null;
    if (views && cfg.clWeight > 0) {
      const terms = [
        { groups: gu, side: 'users' as const },
        { groups: gp, side: 'items' as const },
      ];
      if (backbone === 'sgl') terms.push({ groups: gq, side: 'items' as const });
      crossViewInfoNce(be, views[0].sum, views[1].sum, nu, terms, this.lossVec, SLOT.cl, { tau: cfg.clTemperature, scale: cfg.clWeight / B, g1: gViews?.[0], g2: gViews?.[1] });
    }

    if (parts.teacher) {
      // ssl (§4.6): multiplicative Gaussian noise, all N nodes, τ = 1. Weight w2·(1 + 0.4·w3): it enters
      // the total once directly and once inside ITM.
      if (sslScale > 0) scoped(() => {
        const xi1 = tmp([n, d], 'xi1');
        const xi2 = tmp([n, d], 'xi2');
        randomNormal(be, xi1, seedNoise1);
        randomNormal(be, xi2, seedNoise2);
        const xs = tmp([n, d], 'Xs');
        const ys = tmp([n, d], 'Ys');
        mulOnePlus(be, z!, xi1, xs);
        mulOnePlus(be, efin, xi2, ys);
        const gXs = mode.grads ? tmp([n, d], 'gXs') : null;
        const gYs = mode.grads ? tmp([n, d], 'gYs') : null;
        sslContrastive(be, xs, ys, this.lossVec, SLOT.ssl, { tau: 1, scale: sslScale / n, gX: gXs, gY: gYs });
        if (gXs && gYs) {
          mulOnePlus(be, gXs, xi1, gZ!, { accumulate: true });
          mulOnePlus(be, gYs, xi2, gF!, { accumulate: true });
        }
      });
      // EMA of the teacher from the student's current (pre-Adam) values, then the teacher forward (§4.7).
      const teacher = this.mlp(TEACHER_MLP, 'teacher');
      if (mode.updateTeacher) {
        const student = this.mlp(INTENT_MLP);
        for (const k of ['w1', 'b1', 'w2', 'b2'] as const) emaUpdate(be, teacher[k], student[k], cfg.emaMomentum);
      }
      if (itmScale > 0) scoped(() => {
        const tOut = tmp([n, d], 'T');
        mlpForward(be, teacher, this.intent!, tOut, { blockRows: towers.blockRows, label: 'teacher' });
        itmLoss(be, z!, tOut, this.lossVec, SLOT.itm, { lossScale: (-0.6 * itmScale) / n, gradScale: (0.6 * itmScale) / n, gZ, accumulate: true });
      });
    }

    if (mode.views?.ybar && ybar) be.copy(ybar, mode.views.ybar);
    if (mode.views?.efin) be.copy(efin, mode.views.efin);

    // ---- F8: backward
    if (mode.grads) {
      if (gPt) mlpBackward(be, this.mlp(PROFILE_MLP), this.profile!, gPt, this.mlp(PROFILE_MLP, 'grads'), profileOpts!);
      if (gZ) mlpBackward(be, this.mlp(INTENT_MLP), this.intent!, gZ, this.mlp(INTENT_MLP, 'grads'), intentOpts!);
      // One chain per distinct propagation matrix (backbones spec §3.5): LightGCN's one view; SGL's Â, Ã_1,
      // Ã_2 (the intent terms ride on view 2's chain); SimGCL's three views all over Â, so one chain on the
      // summed gradients (its noise is a constant).
      if (backbone === 'lightgcn') this.graphBackward(E, layers, cfg.keepRate < 1 ? adjValues : null, gF!, gYbar, temps);
      else if (backbone === 'sgl') {
        this.graphBackward(E, [], null, gF!, null, temps);
        if (views && gViews) {
          if (cfg.clWeight > 0) this.graphBackward(views[0].layers, [], views[0].values, gViews[0], null, temps);
          this.graphBackward(views[1].layers, layers, views[1].values, gViews[1], gYbar, temps);
        }
      } else {
        if (gViews) for (const g of gViews) addInto(be, g, gF!);
        this.graphBackward(E, layers, null, gF!, gYbar, temps);
      }
      // L2 gradient 2λθ on every trainable tensor, every step (§4.2).
      if (cfg.reg > 0) for (const [name, t] of this.params) axpy(be, 2 * cfg.reg, t, this.grads.get(name)!);
    }

    for (const g of groups) disposeRowGroups(g);
    for (const t of temps) t.dispose();
  }

  /** One side of the intent branch: Π = softmax(X·W), C[rows] = Π·Wᵀ written at element `cOffset` of `c`. */
  private intentSide(x: Tensor, w: Tensor, pi: Tensor, c: Tensor, cOffset: number, tag: string): void {
    const be = this.be;
    const logits = be.zeros(pi.shape, 'f32', `S_${tag}`);
    matmul(be, x, w, logits);
    softmaxRows(be, logits, pi);
    logits.dispose();
    const side = be.zeros(x.shape, 'f32', `C_${tag}`);
    matmul(be, pi, w, side, { transB: true });
    be.copyRange(side, 0, c, cOffset, side.size);
    side.dispose();
  }

  /**
   * Graph backward of one view (spec §5.2): g_L = gF; g_l = gF + Mᵀ·g_{l+1} + Ĝ_lᵀ·gY_l + J_l; ∂E0 += g_0.
   * M is Â (symmetric) when `adjValues` is null, else the dropped Ã with these values: its transpose goes
   * through the reverse-edge index. The intent terms come in when `gYbar` is given, with `layers` and E the
   * layers the intent branch read.
   */
  private graphBackward(E: Tensor[], layers: { u: Tensor; i: Tensor; piU: Tensor; piI: Tensor; c: Tensor; cHat: Tensor; G: Tensor; rho: Tensor }[], adjValues: Tensor | null, gF: Tensor, gYbar: Tensor | null, temps: Tensor[]): void {
    const be = this.be;
    const cfg = this.config;
    const { numUsers: nu, numItems: ni, n } = this;
    const d = cfg.embeddingDim;
    const L = cfg.layers;
    const t = (shape: number[], label: string) => {
      const x = be.zeros(shape, 'f32', label);
      temps.push(x);
      return x;
    };
    const transposeOpts = adjValues ? { values: adjValues, valueIndex: this.edges.rev } : {};
    let gNext = t([n, d], 'g_next');
    be.copy(gF, gNext);
    let gCur = t([n, d], 'g_cur');
    let gYl: Tensor | null = null;
    if (this.parts.intents && gYbar) {
      gYl = t([n, d], 'gY_l');
      be.copy(gYbar, gYl);
      scaleInPlace(be, gYl, 1 / L); // gY_l = gȲ / L (each layer's share of the mean)
    }
    for (let l = L - 1; l >= 0; l--) {
      be.copy(gF, gCur);
      spmm(be, this.adj, gNext, gCur, { ...transposeOpts, accumulate: true });
      // A layer's temporaries go back to the pool for the next layer.
      const start = temps.length;
      if (gYl) {
        const lc = layers[l];
        spmm(be, this.adj, gYl, gCur, { values: lc.G, valueIndex: this.edges.rev, accumulate: true });
        const gCHat = t([n, d], `gChat${l}`);
        edgeWeightsBackward(be, this.edges, lc.cHat, lc.G, lc.rho, gYl, E[l], gCHat);
        const gC = t([n, d], `gC${l}`);
        normalizeRowsBackward(be, lc.c, gCHat, gC, { mode: 'hard' });
        const J = t([n, d], `J${l}`);
        this.intentSideBackward(lc.u, lc.piU, gC, 0, nu, this.p('user_intent'), this.grads.get('user_intent')!, J, `u${l}`, temps);
        this.intentSideBackward(lc.i, lc.piI, gC, nu * d, ni, this.p('item_intent'), this.grads.get('item_intent')!, J, `i${l}`, temps);
        addInto(be, J, gCur);
      }
      for (const x of temps.splice(start)) x.dispose();
      const swap = gNext;
      gNext = gCur;
      gCur = swap;
    }
    addInto(be, gNext, this.grads.get('E0')!);
  }

  /** Backward of C_side = softmax(X·W)·Wᵀ given gC rows at `offset`: J rows (into J at offset) and ∂W. */
  private intentSideBackward(x: Tensor, pi: Tensor, gC: Tensor, offset: number, rows: number, w: Tensor, gW: Tensor, J: Tensor, tag: string, temps: Tensor[]): void {
    const be = this.be;
    const d = this.config.embeddingDim;
    const K = this.config.numIntents;
    const t = (shape: number[], label: string) => {
      const v = be.zeros(shape, 'f32', label);
      temps.push(v);
      return v;
    };
    const gCs = t([rows, d], `gC_${tag}`);
    be.copyRange(gC, offset, gCs, 0, rows * d);
    const gPi = t([rows, K], `gPi_${tag}`);
    matmul(be, gCs, w, gPi); // gΠ = gC·W
    const gS = t([rows, K], `gS_${tag}`);
    softmaxRowsBackward(be, pi, gPi, gS); // gS = Π ⊙ (gΠ − rowsum(Π ⊙ gΠ))
    const js = t([rows, d], `J_${tag}`);
    matmul(be, gS, w, js, { transB: true }); // J = gS·Wᵀ
    be.copyRange(js, 0, J, offset, rows * d);
    matmul(be, x, gS, gW, { transA: true, accumulate: true }); // ∂W += Xᵀ·gS
    matmul(be, gCs, pi, gW, { transA: true, accumulate: true }); // ∂W += gCᵀ·Π
  }

  // ------------------------------------------------------------------------------------------------
  // Parameters in the reference's layout

  /**
   * Every parameter (teacher included) by reference name as float32 arrays: `user_embeds` [Nu, d],
   * `item_embeds` [Ni, d], `user_intent` / `item_intent` [d, K], `mlp.0.weight` [h, dp], ….
   */
  async exportParameters(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    const d = this.config.embeddingDim;
    for (const [name, t] of [...this.params, ...this.teacher]) {
      const data = Float32Array.from(await this.be.read(t));
      if (name === 'E0') {
        out.set('user_embeds', { shape: [this.numUsers, d], data: data.slice(0, this.numUsers * d) });
        out.set('item_embeds', { shape: [this.numItems, d], data: data.slice(this.numUsers * d) });
      } else out.set(name, { shape: [...t.shape], data });
    }
    return out;
  }

  /**
   * Load parameters by reference name (shapes must match; missing trainable tensors are an error, a
   * missing teacher is copied from the student). Non-finite values are rejected.
   */
  importParameters(tensors: Map<string, { shape: number[]; data: ArrayLike<number> }>, source = 'parameters'): void {
    const d = this.config.embeddingDim;
    const get = (name: string, shape: number[]) => {
      const t = tensors.get(name);
      if (!t) return null;
      if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
        throw new IrllrecError('shape', `${source}: tensor '${name}' has shape [${t.shape.join(', ')}], the model expects [${shape.join(', ')}]`);
      }
      for (let i = 0; i < t.data.length; i++) {
        if (!Number.isFinite(t.data[i])) throw new IrllrecError('nonfinite', `${source}: tensor '${name}' has a non-finite value at index ${i}`);
      }
      return t.data;
    };
    const ue = get('user_embeds', [this.numUsers, d]);
    const ie = get('item_embeds', [this.numItems, d]);
    if (!ue || !ie) throw new IrllrecError('format', `${source}: missing '${!ue ? 'user_embeds' : 'item_embeds'}'`);
    const e0 = new Float32Array(this.n * d);
    e0.set(ue);
    e0.set(ie, this.numUsers * d);
    checkScoreRange(e0, this.config.layers, `${source}: user_embeds and item_embeds`);
    const updates: [Tensor, ArrayLike<number>][] = [[this.p('E0'), e0]];
    for (const [name, t] of this.params) {
      if (name === 'E0') continue;
      const v = get(name, [...t.shape]);
      if (!v) throw new IrllrecError('format', `${source}: missing tensor '${name}' (needed by ${this.config.kind})`);
      updates.push([t, v]);
    }
    for (const [name, t] of this.teacher) {
      const v = get(name, [...t.shape]) ?? get(name.replace('int_mlp_m', 'int_mlp'), [...t.shape]);
      if (v) updates.push([t, v]);
    }
    // Validate everything before writing anything: a failed import leaves the model untouched.
    for (const [t, v] of updates) this.be.write(t, v);
  }

  /** Reset Adam moments and step (e.g. after importing parameters for fine-tuning). */
  resetOptimizer(): void {
    for (const t of [...this.adamM.values(), ...this.adamV.values()]) this.be.zero(t);
    this.step = 0;
  }

  /** Optimizer state by name (checkpoints). */
  optimizerState(): { m: Map<string, Tensor>; v: Map<string, Tensor> } {
    return { m: this.adamM, v: this.adamV };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const all = [
      ...this.params.values(),
      ...this.teacher.values(),
      ...this.grads.values(),
      ...this.adamM.values(),
      ...this.adamV.values(),
      this.adj.values!,
      this.adj.rowPtr,
      this.adj.colIdx,
      this.edges.rev,
      this.lossVec,
    ];
    for (const t of all) t.dispose();
    this.profile?.dispose();
    this.intent?.dispose();
  }
}

/** The largest finite f32. */
const F32_MAX = 3.4028234663852886e38;

/**
 * Refuse embeddings whose ranking scores could overflow f32 (±Infinity, then NaN, in rankings), the same way
 * on every backend since it is decided on the host before upload. Â is the symmetric normalised adjacency
 * (spectral norm ≤ 1), so ‖E_fin‖_F ≤ (L+1)·‖E0‖_F, and a score u·i — and every partial sum of it — is at
 * most ‖u‖·‖i‖ ≤ ‖E_fin‖_F²/2. When that bound (with 1% slack for f32 rounding of Â) is finite in f32, no
 * score can overflow; trained models are ~20 orders of magnitude below it.
 */
export function checkScoreRange(e0: ArrayLike<number>, layers: number, where: string): void {
  let sq = 0;
  for (let k = 0; k < e0.length; k++) sq += e0[k] * e0[k];
  const bound = 1.01 * ((layers + 1) ** 2 * sq) / 2;
  if (!(bound <= F32_MAX)) {
    throw new IrllrecError(
      'nonfinite',
      `${where}: the embeddings are so large (Frobenius norm ${Math.sqrt(sq).toExponential(3)}) that scores after ${layers} propagation layers may overflow f32 (bound ${bound.toExponential(3)} > ${F32_MAX.toExponential(3)})`,
    );
  }
}

function validateBatch(b: Batch, nu: number, ni: number): void {
  const B = b.users.length;
  if (B === 0) throw new IrllrecError('shape', 'batch is empty');
  if (b.pos.length !== B || b.neg.length !== B) throw new IrllrecError('shape', `batch: users, pos and neg must have the same length (got ${B}, ${b.pos.length}, ${b.neg.length})`);
  for (let k = 0; k < B; k++) {
    if (b.users[k] >= nu) throw new IrllrecError('range', `batch: user id ${b.users[k]} at position ${k} is out of range (${nu} users)`);
    if (b.pos[k] >= ni) throw new IrllrecError('range', `batch: positive item id ${b.pos[k]} at position ${k} is out of range (${ni} items)`);
    if (b.neg[k] >= ni) throw new IrllrecError('range', `batch: negative item id ${b.neg[k]} at position ${k} is out of range (${ni} items)`);
  }
}
