/**
 * Binding plans: every storage buffer a model, a training step, an evaluation or a serving call will ask the
 * buffer pool for, computed from the configuration and the data sizes alone (pure arithmetic, no device).
 *
 * Why: the pool checks each buffer against the device's maxStorageBufferBindingSize / maxBufferSize when it
 * is allocated, which for per-step temporaries is in the middle of recording a training step. Checking the
 * plan first makes an oversized model fail before anything is allocated, with every offending tensor named,
 * and lets row-chunked work (evaluation, recommendation) pick a chunk that fits instead of failing.
 *
 * Labels are the pool labels the code uses ('E1', 'infoNce.hat', 'eval.users', …), so a test can check that
 * the plan covers what is really allocated (test/reliability/limits.test.ts). Sizes are in f32/u32 elements
 * × 4 bytes; a zero-sized tensor still gets a 4-byte buffer, as in the pool.
 */
import { IrllrecError } from '../errors.js';
import type { Backend, WebGpuBackend } from '../ops/tensor.js';
import { type ModelConfig, modelParts } from './config.js';
import { hiddenWidth, mlpShapes } from './mlp.js';

/** What a planned buffer's size grows with: picks the hint of the error message. */
export type PlanKnob = 'embeddingDim' | 'numIntents' | 'textDim' | 'catalogue' | 'graph' | 'batchSize' | 'chunk' | 'personalize';

export interface PlannedBinding {
  /** The pool label the code allocates it under. */
  label: string;
  shape: number[];
  /** Bytes requested from the pool (4 per element, at least 4). */
  bytes: number;
  /** Which phase allocates it: 'model' (persistent), 'rank' (E_fin), 'step', 'evaluate', 'serve', 'recommend', 'personalize'. */
  phase: string;
  knob: PlanKnob;
  /**
   * Sized down to the device limit at run time (score blocks): listed so that the plan names every buffer,
   * but never an error in `checkPlan`.
   */
  adapts?: boolean;
}

/** The sizes a model's plan depends on. */
export interface ModelPlanInput {
  config: ModelConfig;
  numUsers: number;
  numItems: number;
  /** Directed edges of the training graph (2 × distinct training pairs). */
  edges: number;
  /** Text widths dp, dq (0 when the kind has no such tower). */
  profileDim: number;
  intentDim: number;
  /** Whether the text tables live on the device (a trainable model); false for a ranking-only model. */
  withText: boolean;
  /** How a step's text towers hold their activations (default: `towerMemory` of the widths). */
  towers?: TowerMemory;
}

/**
 * How a training step's text towers hold their hidden activations (src/models/mlp.ts `MlpOptions`): rows per
 * block, and whether A of all N rows is kept from the forward for the backward (one N×hidden buffer per
 * tower, no recomputation) or recomputed block by block. Results are bit-identical either way.
 */
export interface TowerMemory {
  blockRows: number;
  keepActivations: boolean;
}

/** The default size of a tower block's largest temporary (its input rows or its H). */
export const TOWER_BLOCK_BYTES = 4 * 1024 * 1024;

/** Blocks whose largest temporary is at most `blockBytes` (at least one row), activations recomputed unless `keep`. */
export function towerMemory(profileDim: number, intentDim: number, d: number, blockBytes = TOWER_BLOCK_BYTES, keep = false): TowerMemory {
  const widest = Math.max(1, profileDim, intentDim, hiddenWidth(profileDim, d), hiddenWidth(intentDim, d));
  return { blockRows: Math.max(1, Math.floor(blockBytes / (4 * widest))), keepActivations: keep };
}

/** The plan input of a model about to be built from `data` (RecModel's constructor arguments). */
export function modelPlanInput(
  config: ModelConfig,
  data: { numUsers: number; numItems: number; graph: { nnz: number }; text?: { userProfile?: { cols: number }; itemProfile?: { cols: number }; userIntent?: { cols: number }; itemIntent?: { cols: number } }; textDims?: { profile?: number; intent?: number } },
): ModelPlanInput {
  const parts = modelParts(config.kind);
  const t = data.text ?? {};
  const profileText = parts.profile && (t.userProfile ?? t.itemProfile);
  const intentText = parts.intents && (t.userIntent ?? t.itemIntent);
  return {
    config,
    numUsers: data.numUsers,
    numItems: data.numItems,
    edges: data.graph.nnz,
    profileDim: parts.profile ? (profileText ? profileText.cols : (data.textDims?.profile ?? 0)) : 0,
    intentDim: parts.intents ? (intentText ? intentText.cols : (data.textDims?.intent ?? 0)) : 0,
    // The constructor loads the text a kind needs when any of it is given (and rejects half of it).
    withText: (!parts.profile || !!profileText) && (!parts.intents || !!intentText),
  };
}

/** Default largest score block of the GEMM scoring paths (bytes). */
const SCORE_BLOCK_BYTES = 32 * 1024 * 1024;

/** Rows per block of a reduction's partial sums (src/ops/reduce.ts CHUNK). */
const REDUCE_CHUNK = 4096;
/** Row stride of the normalised copies in infoNce / ssl (src/ops/losses.ts, ssl.ts): 32·⌈d/32⌉ floats. */
const padded = (d: number) => 32 * Math.ceil(d / 32);

class Plan {
  readonly list: PlannedBinding[] = [];
  constructor(private phase: string) {}
  in(phase: string): this {
    this.phase = phase;
    return this;
  }
  add(label: string, shape: number[], knob: PlanKnob, adapts = false): void {
    const elements = shape.reduce((a, b) => a * b, 1);
    this.list.push({ label, shape, bytes: Math.max(4, elements * 4), phase: this.phase, knob, ...(adapts ? { adapts } : {}) });
  }
  /** The partial sums of a reduction over `n` floats (none when one workgroup does it). */
  reduce(n: number, knob: PlanKnob): void {
    const groups = Math.ceil(n / REDUCE_CHUNK);
    if (groups > 1) this.add('reduce_sum.partials', [groups], knob);
  }
  /** infoNce scratch for B anchors against M candidates of width d (src/ops/losses.ts). */
  infoNce(B: number, M: number, d: number, knob: PlanKnob): void {
    const R = 2 * B + M;
    this.add('infoNce.hat', [R, padded(d)], knob);
    this.add('infoNce.nu', [R], knob);
    this.add('infoNce.lse', [B], knob);
    this.add('infoNce.rowLoss', [B], knob);
    this.add('infoNce.unused', [1], knob);
  }
  bpr(B: number): void {
    this.add('bpr.rowLoss', [B], 'batchSize');
    this.add('bpr.unused', [1], 'batchSize');
  }
  /** mlpForward in one block (scratch H, A). */
  mlpScratch(rows: number, hidden: number, knob: PlanKnob): void {
    this.add('mlp.h', [rows, hidden], knob);
    this.add('mlp.a', [rows, hidden], knob);
  }
  /** A tower pass over n rows in blocks of R (src/models/mlp.ts): a block's input rows (xWords wide), H, A, output. */
  towerPass(label: string, n: number, R: number, xWords: number, hidden: number, d: number, keptA: boolean): void {
    if (R < n) this.add(`${label}.x`, [R, xWords], 'textDim');
    this.add(`${label}.h`, [R, hidden], 'textDim');
    if (!(keptA && R === n)) this.add(`${label}.a`, [R, hidden], 'textDim');
    if (R < n) this.add(`${label}.out`, [R, d], 'embeddingDim');
  }
  /** The backward of a tower (mlpBackward): A of all rows (recomputed unless kept), then gH block by block. */
  towerBackward(label: string, n: number, R: number, xWords: number, hidden: number, d: number, keptA: boolean): void {
    if (!keptA) {
      this.add(`${label}.A`, [n, hidden], 'textDim');
      if (R < n) this.add(`${label}.x`, [R, xWords], 'textDim');
      this.add(`${label}.h`, [R, hidden], 'textDim');
      if (R < n) this.add(`${label}.a`, [R, hidden], 'textDim');
    }
    if (R < n) {
      this.add(`${label}.gO`, [R, d], 'embeddingDim');
      this.add(`${label}.aRows`, [R, hidden], 'textDim');
    }
    this.add(`${label}.gH`, [R, hidden], 'textDim');
  }
}

/** Parameter shapes by reference name (trainable ones, then the teacher), as RecModel registers them. */
function parameterShapes(p: ModelPlanInput): { trainable: [string, number[]][]; teacher: [string, number[]][] } {
  const { config: c } = p;
  const d = c.embeddingDim;
  const parts = modelParts(c.kind);
  const trainable: [string, number[]][] = [['E0', [p.numUsers + p.numItems, d]]];
  const teacher: [string, number[]][] = [];
  if (parts.intents) trainable.push(['user_intent', [d, c.numIntents]], ['item_intent', [d, c.numIntents]]);
  if (parts.profile) {
    const s = mlpShapes(p.profileDim, d);
    trainable.push(['mlp.0.weight', s.w1], ['mlp.0.bias', s.b1], ['mlp.2.weight', s.w2], ['mlp.2.bias', s.b2]);
  }
  if (parts.intents) {
    const s = mlpShapes(p.intentDim, d);
    trainable.push(['int_mlp.0.weight', s.w1], ['int_mlp.0.bias', s.b1], ['int_mlp.2.weight', s.w2], ['int_mlp.2.bias', s.b2]);
    if (parts.teacher) teacher.push(['int_mlp_m.0.weight', s.w1], ['int_mlp_m.0.bias', s.b1], ['int_mlp_m.2.weight', s.w2], ['int_mlp_m.2.bias', s.b2]);
  }
  return { trainable, teacher };
}

const knobOf = (name: string): PlanKnob => (name === 'E0' ? 'embeddingDim' : name.endsWith('_intent') ? 'numIntents' : 'textDim');

/** Persistent tensors of a RecModel (graph, text tables, parameters, gradients, Adam moments, teacher). */
export function planModel(p: ModelPlanInput): PlannedBinding[] {
  const plan = new Plan('model');
  const n = p.numUsers + p.numItems;
  const parts = modelParts(p.config.kind);
  plan.add('graph.rowPtr', [n + 1], 'catalogue');
  plan.add('graph.colIdx', [p.edges], 'graph');
  plan.add('graph.values', [p.edges], 'graph');
  plan.add('graph.rev', [p.edges], 'graph');
  // Text tables: f32, or packed f16 (two halves per 32-bit word, ⌈cols/2⌉ words per row).
  const textCols = (cols: number) => (p.config.textPrecision === 'f16' ? Math.ceil(cols / 2) : cols);
  if (p.withText && parts.profile) plan.add('text.profile', [n, textCols(p.profileDim)], 'textDim');
  if (p.withText && parts.intents) plan.add('text.intent', [n, textCols(p.intentDim)], 'textDim');
  plan.add('losses', [8], 'catalogue');
  const { trainable, teacher } = parameterShapes(p);
  for (const [name, shape] of trainable) {
    for (const prefix of ['', 'grad.', 'adam.m.', 'adam.v.']) plan.add(`${prefix}${name}`, shape, knobOf(name));
  }
  for (const [name, shape] of teacher) plan.add(name, shape, 'textDim');
  return plan.list;
}

/** E_fin = Σ Â^l E0 and its two ping-pong buffers (RecModel.finalEmbeddings: evaluation and serving). */
export function planFinalEmbeddings(p: ModelPlanInput): PlannedBinding[] {
  const plan = new Plan('rank');
  const shape = [p.numUsers + p.numItems, p.config.embeddingDim];
  for (const label of ['E_fin', 'E_a', 'E_b']) plan.add(label, shape, 'embeddingDim');
  return plan.list;
}

/**
 * Every temporary of one training step on a batch of `batchSize` triples (RecModel.record with gradients,
 * the losses, the towers and the graph backward), in the order they are allocated.
 */
export function planStep(p: ModelPlanInput, batchSize: number): PlannedBinding[] {
  const plan = new Plan('step');
  const c = p.config;
  const parts = modelParts(c.kind);
  const nu = p.numUsers;
  const ni = p.numItems;
  const n = nu + ni;
  const d = c.embeddingDim;
  const K = c.numIntents;
  const L = c.layers;
  const B = batchSize;
  const nd = [n, d];
  for (const g of ['batch.users', 'batch.pos', 'batch.neg']) {
    plan.add(`${g}.ids`, [B], 'batchSize');
    plan.add(`${g}.unique`, [B], 'batchSize');
    plan.add(`${g}.offsets`, [B + 1], 'batchSize');
    plan.add(`${g}.positions`, [B], 'batchSize');
  }
  if (parts.backbone === 'lightgcn' && c.keepRate < 1) plan.add('adj.dropped', [p.edges], 'graph');
  for (let l = 1; l <= L; l++) plan.add(`E${l}`, nd, 'embeddingDim');
  plan.add('E_fin', nd, 'embeddingDim');
  // SGL / SimGCL: the augmented views 1 and 2 (src/models/backbones.ts) and L_cl (src/ops/contrast.ts).
  const views = parts.backbone !== 'lightgcn';
  if (views) {
    for (const v of [1, 2]) {
      if (parts.backbone === 'sgl' && c.keepRate < 1) plan.add(`view${v}.adj`, [p.edges], 'graph');
      for (let l = 1; l <= L; l++) plan.add(`view${v}.E${l}`, nd, 'embeddingDim');
      plan.add(`view${v}.X`, nd, 'embeddingDim');
    }
  }
  if (parts.intents) {
    plan.add('Ybar', nd, 'embeddingDim');
    plan.add('Y_l', nd, 'embeddingDim');
    for (let l = 0; l < L; l++) {
      plan.add(`U${l}`, [nu, d], 'embeddingDim');
      plan.add(`I${l}`, [ni, d], 'embeddingDim');
      plan.add(`PiU${l}`, [nu, K], 'numIntents');
      plan.add(`PiI${l}`, [ni, K], 'numIntents');
      plan.add(`C${l}`, nd, 'embeddingDim');
      plan.add(`Chat${l}`, nd, 'embeddingDim');
      plan.add(`G${l}`, [p.edges], 'graph');
      plan.add(`rho${l}`, [n], 'catalogue');
      for (const [side, rows] of [['u', nu], ['i', ni]] as const) {
        plan.add(`S_${side}${l}`, [rows, K], 'numIntents');
        plan.add(`C_${side}${l}`, [rows, d], 'embeddingDim');
      }
    }
  }
  const hp = parts.profile ? hiddenWidth(p.profileDim, d) : 0;
  const hq = parts.intents ? hiddenWidth(p.intentDim, d) : 0;
  const towers = p.towers ?? towerMemory(p.profileDim, p.intentDim, d);
  const R = Math.min(n, towers.blockRows);
  const keep = towers.keepActivations;
  const words = (cols: number) => (c.textPrecision === 'f16' ? Math.ceil(cols / 2) : cols);
  if (parts.profile) {
    if (keep) plan.add('profile.A', [n, hp], 'textDim');
    plan.add('P~', nd, 'embeddingDim');
    plan.towerPass('profile', n, R, words(p.profileDim), hp, d, keep);
  }
  if (parts.intents) {
    if (keep) plan.add('intent.A', [n, hq], 'textDim');
    plan.add('Z', nd, 'embeddingDim');
    plan.towerPass('intent', n, R, words(p.intentDim), hq, d, keep);
  }
  plan.add('gF', nd, 'embeddingDim');
  if (parts.intents) plan.add('gYbar', nd, 'embeddingDim');
  if (parts.profile) plan.add('gP~', nd, 'embeddingDim');
  if (parts.intents) plan.add('gZ', nd, 'embeddingDim');
  for (const label of ['x_u', 'x_p', 'x_q', 'g_b0', 'g_b1', 'g_b2']) plan.add(label, [B, d], 'batchSize');
  plan.bpr(B);
  // L2 over every parameter: the largest reduction is E0's.
  plan.reduce(n * d, 'embeddingDim');
  const alignment = (tag: string) => {
    for (const label of ['a_u', 't_u', 'gA', 'gP']) plan.add(`${tag}.${label}`, [B, d], 'batchSize');
    plan.add(`${tag}.cand_u`, [nu, d], 'embeddingDim');
    plan.add(`${tag}.gC`, [nu, d], 'embeddingDim');
    // 2B anchor/positive rows + Nu candidates: whichever dominates is the lever.
    plan.infoNce(B, nu, d, 2 * B > nu ? 'batchSize' : 'embeddingDim');
    for (const r of ['p', 'q']) for (const label of ['a_', 't_', 'gA_', 'gT_']) plan.add(`${tag}.${label}${r}`, [B, d], 'batchSize');
    plan.infoNce(B, B, d, 'batchSize');
  };
  if (parts.profile && c.kdWeight > 0) alignment('kd');
  if (parts.intents && c.intWeight > 0) alignment('kd_int');
  if (views) {
    for (const label of ['gX1', 'gX2', 'cl.gC']) plan.add(label, nd, 'embeddingDim');
    for (const [side, rows] of [['users', nu], ['items', ni]] as const) {
      plan.add(`cl.cand_${side}`, [rows, d], 'embeddingDim');
      plan.add(`cl.gC_${side}`, [rows, d], 'embeddingDim');
      plan.infoNce(B, rows, d, 2 * B > rows ? 'batchSize' : 'embeddingDim');
    }
    for (const label of ['a', 'p', 'gA', 'gP']) plan.add(`cl.${label}`, [B, d], 'batchSize');
  }
  if (parts.intents && c.sslWeight > 0) {
    for (const label of ['xi1', 'xi2', 'Xs', 'Ys', 'gXs', 'gYs']) plan.add(label, nd, 'embeddingDim');
    plan.add('ssl.xhat', [n, padded(d)], 'embeddingDim');
    plan.add('ssl.yhat', [n, padded(d)], 'embeddingDim');
    plan.add('ssl.xnorm', [n], 'catalogue');
    plan.add('ssl.ynorm', [n], 'catalogue');
    plan.add('ssl.rowstats', [n, 4], 'catalogue');
  }
  if (parts.intents && c.itmWeight > 0) {
    plan.add('T', nd, 'embeddingDim');
    plan.towerPass('teacher', n, R, words(p.intentDim), hq, d, false);
    plan.add('itm.rowLoss', [n], 'catalogue');
    plan.add('itm.noGrad', [1], 'catalogue');
    plan.reduce(n, 'catalogue');
  }
  // Backward: the towers, then the graph.
  if (parts.profile) plan.towerBackward('profile', n, R, words(p.profileDim), hp, d, keep);
  if (parts.intents) plan.towerBackward('intent', n, R, words(p.intentDim), hq, d, keep);
  plan.add('g_next', nd, 'embeddingDim');
  plan.add('g_cur', nd, 'embeddingDim');
  if (parts.intents) {
    plan.add('gY_l', nd, 'embeddingDim');
    for (let l = L - 1; l >= 0; l--) {
      for (const label of [`gChat${l}`, `gC${l}`, `J${l}`]) plan.add(label, nd, 'embeddingDim');
      plan.add('edgeWeightsBackward.beta', [p.edges], 'graph');
      for (const [side, rows] of [['u', nu], ['i', ni]] as const) {
        plan.add(`gC_${side}${l}`, [rows, d], 'embeddingDim');
        plan.add(`gPi_${side}${l}`, [rows, K], 'numIntents');
        plan.add(`gS_${side}${l}`, [rows, K], 'numIntents');
        plan.add(`J_${side}${l}`, [rows, d], 'embeddingDim');
      }
    }
  }
  return plan.list;
}

/** One evaluation chunk of `rows` users (src/train/evaluate.ts), `seen` masked training items in it. */
export function planEvaluate(p: ModelPlanInput, rows: number, k: number, seen: number): PlannedBinding[] {
  const plan = new Plan('evaluate');
  const d = p.config.embeddingDim;
  plan.add('eval.items', [p.numItems, d], 'embeddingDim');
  plan.add('eval.seen.rowPtr', [rows + 1], 'chunk');
  plan.add('eval.seen.colIdx', [seen], 'chunk');
  plan.add('eval.userIds', [rows], 'chunk');
  plan.add('eval.users', [rows, d], 'chunk');
  plan.add('eval.topIds', [rows, k], 'chunk');
  plan.add('eval.topScores', [rows, k], 'chunk');
  // scoreTopKAuto (src/ops/topk.ts) for many rows: GEMM score blocks of at most 32 MiB, fewer rows under a
  // smaller binding limit (the fused kernel when not even one row fits).
  const blockRows = Math.max(1, Math.min(rows, Math.floor(SCORE_BLOCK_BYTES / (4 * Math.max(1, p.numItems)))));
  plan.add('scoreTopKAuto.scoreBlock', [blockRows, p.numItems], 'chunk', true);
  plan.add('scoreTopKAuto.userBlock', [blockRows, d], 'chunk', true);
  return [...planFinalEmbeddings(p), ...plan.list];
}

/**
 * The plan of training: the model, the steps on batches of `batchSize`, and (when `evaluation` is given)
 * the smallest evaluation chunk, one user with k items: larger chunks adapt to the limit (see `chunkRows`).
 */
export function planBindings(p: ModelPlanInput, opts: { batchSize?: number; evaluateK?: number } = {}): PlannedBinding[] {
  const out = [...planModel(p), ...planFinalEmbeddings(p)];
  if (opts.batchSize !== undefined && opts.batchSize > 0) {
    out.push(...planStep(p, opts.batchSize));
    // fit's best-so-far snapshot: a copy of every parameter and the teacher.
    const { trainable, teacher } = parameterShapes(p);
    const plan = new Plan('fit');
    for (const [name, shape] of [...trainable, ...teacher]) plan.add(`snapshot.${name}`, shape, knobOf(name));
    out.push(...plan.list);
  }
  if (opts.evaluateK !== undefined) out.push(...planEvaluate(p, 1, opts.evaluateK, 0));
  return out;
}

/** What a Recommender keeps and computes at build time (src/serve/recommender.ts buildTables). */
export function planServingTables(p: ModelPlanInput, opts: { userProfiles: boolean }): PlannedBinding[] {
  const plan = new Plan('serve');
  const { config: c, numUsers: nu, numItems: ni } = p;
  const d = c.embeddingDim;
  const parts = modelParts(c.kind);
  plan.add('serve.users', [nu, d], 'embeddingDim');
  plan.add('serve.items', [ni, d], 'embeddingDim');
  if (parts.intents) {
    plan.add('serve.user_intent', [d, c.numIntents], 'numIntents');
    plan.add('serve.item_intent', [d, c.numIntents], 'numIntents');
  }
  if (parts.profile) {
    const s = mlpShapes(p.profileDim, d);
    for (const [name, shape] of [['mlp.0.weight', s.w1], ['mlp.0.bias', s.b1], ['mlp.2.weight', s.w2], ['mlp.2.bias', s.b2]] as const) plan.add(`serve.${name}`, shape, 'textDim');
    if (opts.userProfiles) {
      plan.add('serve.userProfiles', [nu, p.profileDim], 'textDim');
      plan.add('serve.userProfiles.projected', [nu, d], 'embeddingDim');
      plan.mlpScratch(nu, s.w1[0], 'textDim');
    }
  }
  plan.add('serve.scale', [2], 'catalogue');
  plan.reduce(Math.max(nu, ni) * d, 'embeddingDim');
  // Cosine similarity tables, made on first use.
  plan.add('serve.items.normalized', [ni, d], 'embeddingDim');
  plan.add('serve.users.normalized', [nu, d], 'embeddingDim');
  return [...planFinalEmbeddings(p), ...plan.list];
}

/**
 * One block of a ranking call (Recommender.recommend / similarItems / similarUsers, op = its name): R query
 * rows against `candidates` rows (a filter's subset, else the whole table of `tableRows`), `excluded` ids
 * masked in the block, k results per row, and the R×m score block of the 'matmul' scoring path. The block
 * size adapts to the limits (see `rowsThatFit`, `chunkRows`), so this plan is informative.
 */
export function planRecommend(op: string, d: number, o: { rows: number; tableRows: number; candidates: number | null; k: number; excluded: number; matmul: boolean }): PlannedBinding[] {
  const plan = new Plan(op);
  const m = o.candidates ?? o.tableRows;
  const kk = Math.min(o.k, m);
  if (o.candidates !== null) {
    plan.add(`${op}.candidates`, [m], 'catalogue');
    plan.add(`${op}.candidateRows`, [m, d], 'embeddingDim');
  }
  plan.add(`${op}.queries`, [o.rows, d], 'chunk');
  plan.add(op === 'similarItems' ? `${op}.queryIds` : 'serve.queryIds', [o.rows], 'chunk');
  plan.add('serve.rawQueries', [o.rows, d], 'chunk');
  plan.add(`${op}.exclude.rowPtr`, [o.rows + 1], 'chunk');
  plan.add(`${op}.exclude.colIdx`, [o.excluded], 'chunk');
  plan.add(`${op}.ids`, [o.rows, kk], 'chunk');
  plan.add(`${op}.scores`, [o.rows, kk], 'chunk');
  if (o.matmul) {
    // scoreTopKAuto's GEMM path: the R×m score block (and a copy of the block's query rows when it splits R).
    plan.add('scoreTopKAuto.scoreBlock', [o.rows, m], 'chunk', true);
    plan.add('scoreTopKAuto.userBlock', [o.rows, d], 'chunk', true);
  }
  return plan.list;
}

/**
 * One `personalize` call (src/serve/personalize.ts) with `items` liked items, B = min(items·negativesPerItem,
 * maxPairs) BPR pairs per step, and the text alignment against the Nu projected profiles when `text`.
 */
export function planPersonalize(p: { config: ModelConfig; numUsers: number; profileDim: number }, o: { items: number; steps: number; negativesPerItem: number; maxPairs: number; text: boolean }): PlannedBinding[] {
  const plan = new Plan('personalize');
  const d = p.config.embeddingDim;
  const B = o.items > 0 ? Math.min(o.items * o.negativesPerItem, o.maxPairs) : 0;
  plan.add('personalize.x', [1, d], 'personalize');
  if (o.text) {
    plan.add('personalize.text.projected', [1, d], 'personalize');
    plan.add('personalize.text', [1, p.profileDim], 'textDim');
    plan.mlpScratch(1, hiddenWidth(p.profileDim, d), 'textDim');
    plan.add('personalize.text.candidates', [p.numUsers + 1, d], 'embeddingDim');
    plan.infoNce(1, p.numUsers + 1, d, 'embeddingDim');
  }
  if (o.items > 0) {
    plan.add('personalize.itemRows', [o.items, d], 'personalize');
    plan.add('personalize.items', [o.items], 'personalize');
    plan.add('personalize.mean', [d], 'personalize');
  }
  plan.add('personalize.losses', [Math.max(1, 2 * o.steps)], 'personalize');
  for (const label of ['grad', 'adam.m', 'adam.v']) plan.add(`personalize.${label}`, [1, d], 'personalize');
  if (B > 0) {
    for (const label of ['U', 'P', 'Q', 'gU']) plan.add(`personalize.${label}`, [B, d], 'personalize');
    plan.add('personalize.gRow', [d], 'personalize');
    for (const label of ['zeroIds', 'posIds', 'negIds']) plan.add(`personalize.${label}`, [B], 'personalize');
    plan.bpr(B);
  }
  return plan.list;
}

// ----------------------------------------------------------------------------------------------------
// Checking a plan against a backend

/**
 * The largest tensor the CPU backend is allowed (bytes of f32 elements): its tensors are JavaScript typed
 * arrays in the process's memory, so a plan asking for more (a model file claiming 2^32 users, a 10^9-wide
 * zero-byte tensor) is refused before allocation instead of failing with an untyped RangeError or taking the
 * machine's memory. 4 GiB is above any GPU's maxStorageBufferBindingSize, so what a GPU can run, the CPU plans.
 */
export const CPU_MAX_TENSOR_BYTES = 2 ** 32;

/** The largest storage buffer the backend can bind (bytes): the smaller of the two limits; `CPU_MAX_TENSOR_BYTES` on the CPU. */
export function bindingLimit(be: Backend): number {
  if (be.kind !== 'webgpu') return CPU_MAX_TENSOR_BYTES;
  const { maxStorageBufferBindingSize, maxBufferSize } = (be as WebGpuBackend).ctx.limits;
  return Math.min(maxStorageBufferBindingSize, maxBufferSize);
}

/** How many rows of `bytesPerRow` bytes fit one binding (at least 1, at most `wanted`). */
export function rowsThatFit(be: Backend, bytesPerRow: number, wanted: number): number {
  const limit = bindingLimit(be);
  return Math.max(1, Math.min(wanted, Math.floor(limit / Math.max(1, bytesPerRow))));
}

/**
 * Split `count` rows into consecutive chunks of at most `maxRows` rows whose per-row element counts
 * `elementsOf(r)` sum to at most `maxElements` (a row over it alone gets a chunk of its own). Returns the
 * chunk starts followed by `count`.
 */
export function chunkRows(count: number, maxRows: number, elementsOf: ((row: number) => number) | null, maxElements: number): number[] {
  const starts = [0];
  let rows = 0;
  let elements = 0;
  for (let r = 0; r < count; r++) {
    const e = elementsOf ? elementsOf(r) : 0;
    if (rows > 0 && (rows === maxRows || elements + e > maxElements)) {
      starts.push(r);
      rows = 0;
      elements = 0;
    }
    rows++;
    elements += e;
  }
  if (count > 0) starts.push(count);
  return starts;
}

const HINTS: Record<PlanKnob, string> = {
  embeddingDim: 'a smaller embeddingDim',
  numIntents: 'fewer intent prototypes (numIntents)',
  textDim: 'narrower text embeddings',
  catalogue: 'a smaller catalogue',
  graph: 'fewer training interactions',
  batchSize: 'a smaller batchSize',
  chunk: 'a smaller chunk (usersPerChunk / batchSize)',
  personalize: 'fewer items or a smaller maxPairs',
};

/**
 * Throw a 'limit' IrllrecError when any planned buffer exceeds the device's maxStorageBufferBindingSize or
 * maxBufferSize (on the CPU backend: `CPU_MAX_TENSOR_BYTES`), listing every offending tensor (label, shape,
 * bytes), the limit and what to change.
 */
export function checkPlan(be: Backend, plan: readonly PlannedBinding[], where: string): void {
  const { maxStorageBufferBindingSize: bind, maxBufferSize: buf } = be.kind === 'webgpu' ? (be as WebGpuBackend).ctx.limits : { maxStorageBufferBindingSize: CPU_MAX_TENSOR_BYTES, maxBufferSize: CPU_MAX_TENSOR_BYTES };
  const limit = Math.min(bind, buf);
  const over = plan.filter((b) => b.bytes > limit && !b.adapts);
  if (over.length === 0) return;
  // One line per distinct (shape, bytes): 'E1, E2, E3 [1000, 32] = 128000 bytes'.
  const groups = new Map<string, { labels: string[]; shape: number[]; bytes: number }>();
  for (const b of [...over].sort((x, y) => y.bytes - x.bytes)) {
    const key = `${b.shape.join('x')}:${b.bytes}`;
    const g = groups.get(key);
    if (g) {
      if (!g.labels.includes(b.label)) g.labels.push(b.label);
    } else groups.set(key, { labels: [b.label], shape: b.shape, bytes: b.bytes });
  }
  const lines = [...groups.values()].map((g) => `${g.labels.length > 6 ? `${g.labels.slice(0, 6).join(', ')} and ${g.labels.length - 6} more` : g.labels.join(', ')} [${g.shape.join(', ')}] = ${g.bytes} bytes`);
  const which = be.kind !== 'webgpu' ? `CPU tensor limit (${limit} bytes)` : bind <= buf ? `maxStorageBufferBindingSize (${bind} bytes)` : `maxBufferSize (${buf} bytes)`;
  const knobs = [...new Set(over.map((b) => b.knob))].map((k) => HINTS[k]);
  throw new IrllrecError(
    'limit',
    `${where}: ${over.length} planned tensor${over.length === 1 ? '' : 's'} would exceed this device's ${which}: ${lines.join('; ')}. ` +
      `Try ${knobs.join(', ')}, or a device with larger limits (largest planned tensor: ${Math.max(...over.map((b) => b.bytes))} bytes).`,
  );
}

/** The largest planned buffer (bytes). */
export function largestBinding(plan: readonly PlannedBinding[]): number {
  return plan.reduce((m, b) => Math.max(m, b.bytes), 0);
}

/**
 * What building a model commits to: its persistent tensors, E_fin, and, for a trainable model (text
 * loaded), the per-step temporaries that do not depend on the batch (those of a batch of one; `fit` and
 * each step check their real batch size).
 */
export function planCreation(p: ModelPlanInput): PlannedBinding[] {
  return planBindings(p, { batchSize: p.withText ? 1 : undefined });
}
