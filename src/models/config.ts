/**
 * Model configurations: the ladder LightGCN → RLMRec-Con → IRLLRec with the reference's hyperparameters
 * (spec §4.8 and §9), per dataset, and the same ladder on the SGL and SimGCL backbones (backbones spec §7).
 */
import { IrllrecError } from '../errors.js';

/**
 * The model kinds. `rlmrec` and `irllrec` are the LightGCN rungs (the reference calls them `lightgcn_plus`
 * and `lightgcn_int`; those names are accepted wherever a kind is, see `canonicalKind`). `_plus` is
 * RLMRec-Con and `_int` IRLLRec on the named backbone.
 */
export type ModelKind = 'lightgcn' | 'rlmrec' | 'irllrec' | 'sgl' | 'sgl_plus' | 'sgl_int' | 'simgcl' | 'simgcl_plus' | 'simgcl_int';
/** Storage of the constant LLM text tables on the backend (see `ModelConfig.textPrecision`). */
export type TextPrecision = 'f32' | 'f16';
export const MODEL_KINDS: readonly ModelKind[] = ['lightgcn', 'rlmrec', 'irllrec', 'sgl', 'sgl_plus', 'sgl_int', 'simgcl', 'simgcl_plus', 'simgcl_int'];
/** The reference's names of the LightGCN rungs, accepted as aliases. */
export const KIND_ALIASES: Readonly<Record<string, ModelKind>> = { lightgcn_plus: 'rlmrec', lightgcn_int: 'irllrec' };
/** Every name a kind may be given by (the kinds and their aliases). */
export const MODEL_NAMES: readonly string[] = [...MODEL_KINDS, ...Object.keys(KIND_ALIASES)];

/** Each kind's name for people (tables, charts, the demo). */
export const MODEL_LABELS: Readonly<Record<ModelKind, string>> = {
  lightgcn: 'LightGCN',
  rlmrec: 'RLMRec-Con',
  irllrec: 'IRLLRec',
  sgl: 'SGL',
  sgl_plus: 'SGL + RLMRec-Con',
  sgl_int: 'SGL + IRLLRec',
  simgcl: 'SimGCL',
  simgcl_plus: 'SimGCL + RLMRec-Con',
  simgcl_int: 'SimGCL + IRLLRec',
};

/** The kind `name` denotes (a kind or an alias), or null. */
export function canonicalKind(name: unknown): ModelKind | null {
  if (typeof name !== 'string') return null;
  if ((MODEL_KINDS as readonly string[]).includes(name)) return name as ModelKind;
  return Object.hasOwn(KIND_ALIASES, name) ? KIND_ALIASES[name] : null;
}

/** Graph encoder of a kind: how the embeddings are propagated and contrasted (backbones spec §3). */
export type Backbone = 'lightgcn' | 'sgl' | 'simgcl';

/**
 * Which hyperparameters a run starts from:
 * - 'reference': the authors' per-dataset values, bit-exact (amazon, yelp, movie; every other dataset gets the
 *   amazon values, as the reference's own fallback does). Checked against the authors' code from outside.
 * - 'default': this library's values for data the paper never saw, chosen by measurement (README, "Presets").
 * When a run names none, the paper's three datasets get 'reference' and every other dataset gets 'default'.
 */
export type PresetName = 'reference' | 'default';
export const PRESET_NAMES: readonly PresetName[] = ['reference', 'default'];
/** The datasets the reference ships per-dataset settings for. */
export const REFERENCE_DATASETS: readonly string[] = ['amazon', 'yelp', 'movie'];

/** The preset a run on `dataset` uses: `preset` when given (validated), else 'reference' for the paper's datasets, else 'default'. */
export function presetFor(dataset: string, preset?: string): PresetName {
  if (preset !== undefined) {
    if (!(PRESET_NAMES as readonly string[]).includes(preset)) throw new IrllrecError('range', `unknown preset '${preset}' (expected one of ${PRESET_NAMES.join(', ')})`);
    return preset as PresetName;
  }
  return REFERENCE_DATASETS.includes(dataset) ? 'reference' : 'default';
}

export interface ModelConfig {
  kind: ModelKind;
  /** Embedding width d (32). */
  embeddingDim: number;
  /** Propagation layers L. */
  layers: number;
  /** L2 weight λ over every registered parameter tensor, whole (spec §4.2). */
  reg: number;
  /**
   * Edge keep probability (1 = no dropout; LightGCN/RLMRec use 0.8, IRLLRec 1.0). On the SGL backbone it is
   * ρ of the two augmented views only (their BPR view is never dropped); the SimGCL backbone ignores it.
   */
  keepRate: number;
  /** Cross-view contrastive loss L_cl of SGL and SimGCL: weight (`cl_weight`) and temperature. */
  clWeight: number;
  clTemperature: number;
  /** SimGCL's noise magnitude ε (`eps`): the norm of the signed uniform noise added after every layer. */
  noiseEps: number;
  /** Profile alignment (kd): weight and temperature (RLMRec-Con, IRLLRec). */
  kdWeight: number;
  kdTemperature: number;
  /** Pairwise intent alignment (kd_int): weight and temperature (IRLLRec). */
  intWeight: number;
  intTemperature: number;
  /** Translation alignment ssl weight w2 and ITM weight w3 (IRLLRec; spec §4.8). */
  sslWeight: number;
  itmWeight: number;
  /** Learnable intent prototypes K (IRLLRec). */
  numIntents: number;
  /** EMA momentum μ of the teacher intent MLP (IRLLRec). */
  emaMomentum: number;
  /** 'reference': teacher biases copied, weights drawn independently (spec §2); 'copy': teacher = student. */
  teacherInit: 'reference' | 'copy';
  /**
   * Storage of the constant text tables (profile and intent embeddings, N × textDim) on the backend:
   * 'f32' (default) or 'f16' — rounded on the host to IEEE binary16 (round-to-nearest-even) and stored
   * packed two per 32-bit word, halving their memory; the MLP products that read them (H = X·W1ᵀ and
   * ∂W1 = gHᵀ·X) decode the halves exactly and compute in f32. Works on every adapter (no 'shader-f16'
   * needed) and on the CPU backend (same rounding). The text is an input, never a parameter, so the
   * trained parameters, model files and checkpoints stay f32. Absent (older files) means 'f32'.
   */
  textPrecision?: TextPrecision;
  /** The preset these values started from (absent in files written before presets existed). */
  preset?: PresetName;
}

const BASE: Omit<ModelConfig, 'kind'> = {
  embeddingDim: 32,
  layers: 3,
  reg: 1e-7,
  keepRate: 1,
  clWeight: 0,
  clTemperature: 0.2,
  noiseEps: 0,
  kdWeight: 0,
  kdTemperature: 0.2,
  intWeight: 0,
  intTemperature: 0.2,
  sslWeight: 0,
  itmWeight: 0,
  numIntents: 128,
  emaMomentum: 0.999,
  teacherInit: 'reference',
  textPrecision: 'f32',
};

type Preset = Partial<Omit<ModelConfig, 'kind'>>;
/** Per-dataset settings of the reference configs (spec §9 table and §4.8); `fallback` for every other dataset. */
const REFERENCE: Record<ModelKind, Record<string, Preset>> = {
  lightgcn: {
    fallback: { layers: 3, reg: 1e-6, keepRate: 0.8 },
  },
  rlmrec: {
    fallback: { layers: 3, reg: 1e-7, keepRate: 0.8, kdWeight: 1e-2, kdTemperature: 0.2 },
    movie: { layers: 3, reg: 1e-6, keepRate: 0.8, kdWeight: 1e-3, kdTemperature: 0.2 },
  },
  irllrec: {
    fallback: { layers: 3, reg: 1e-7, kdWeight: 1e-2, intWeight: 2e-2, sslWeight: 1e-7, itmWeight: 1e-7 },
    amazon: { layers: 3, reg: 1e-7, kdWeight: 1e-2, intWeight: 2e-2, sslWeight: 1e-7, itmWeight: 1e-7 },
    yelp: { layers: 3, reg: 1e-7, kdWeight: 1e-2, intWeight: 1e-2, sslWeight: 1e-7, itmWeight: 1e-7 },
    movie: { layers: 3, reg: 1e-6, kdWeight: 1e-3, intWeight: 3e-2, sslWeight: 1e-7, itmWeight: 1e-7 },
  },
  // Backbones spec §7 (IRLLRec ee8330b yml files; amazon is also the fallback). SGL: ρ = 0.8 everywhere.
  sgl: {
    fallback: { layers: 3, reg: 1e-5, keepRate: 0.8, clWeight: 1e-1, clTemperature: 0.2 },
    yelp: { layers: 3, reg: 1e-6, keepRate: 0.8, clWeight: 1e-3, clTemperature: 0.1 },
    movie: { layers: 3, reg: 1e-6, keepRate: 0.8, clWeight: 1e-2, clTemperature: 0.1 },
  },
  sgl_plus: {
    fallback: { layers: 3, reg: 1e-5, keepRate: 0.8, clWeight: 1e-1, clTemperature: 0.2, kdWeight: 1e-2, kdTemperature: 0.5 },
    yelp: { layers: 3, reg: 1e-5, keepRate: 0.8, clWeight: 1e-1, clTemperature: 0.2, kdWeight: 1e-2, kdTemperature: 1.0 },
    movie: { layers: 3, reg: 1e-6, keepRate: 0.8, clWeight: 1e-2, clTemperature: 0.1, kdWeight: 1e-2, kdTemperature: 0.5 },
  },
  sgl_int: {
    fallback: { layers: 3, reg: 1e-5, keepRate: 0.8, clWeight: 1e-1, clTemperature: 0.2, kdWeight: 1e-2, kdTemperature: 0.5, intWeight: 1e-3, intTemperature: 0.1 },
    yelp: { layers: 3, reg: 1e-5, keepRate: 0.8, clWeight: 1e-1, clTemperature: 0.2, kdWeight: 1e-2, kdTemperature: 1.0, intWeight: 1e-2, intTemperature: 1.0 },
    movie: { layers: 3, reg: 1e-6, keepRate: 0.8, clWeight: 1e-2, clTemperature: 0.1, kdWeight: 1e-2, kdTemperature: 0.5, intWeight: 2e-2, intTemperature: 0.2 },
  },
  simgcl: {
    fallback: { layers: 3, reg: 1e-5, noiseEps: 0.9, clWeight: 1e-1, clTemperature: 0.2 },
    movie: { layers: 3, reg: 1e-6, noiseEps: 0.1, clWeight: 2e-2, clTemperature: 0.1 },
  },
  simgcl_plus: {
    fallback: { layers: 3, reg: 1e-5, noiseEps: 0.9, clWeight: 1e-1, clTemperature: 0.2, kdWeight: 1e-2, kdTemperature: 0.2 },
    yelp: { layers: 3, reg: 1e-5, noiseEps: 0.9, clWeight: 1e-1, clTemperature: 0.2, kdWeight: 1e-2, kdTemperature: 0.1 },
    movie: { layers: 3, reg: 1e-6, noiseEps: 0.1, clWeight: 2e-2, clTemperature: 0.1, kdWeight: 1e-2, kdTemperature: 0.2 },
  },
  simgcl_int: {
    fallback: { layers: 3, reg: 1e-5, noiseEps: 0.9, clWeight: 1e-1, clTemperature: 0.2, kdWeight: 1e-2, kdTemperature: 0.2, intWeight: 2e-2, intTemperature: 0.1 },
    yelp: { layers: 3, reg: 1e-5, noiseEps: 0.9, clWeight: 1e-1, clTemperature: 0.2, kdWeight: 1e-2, kdTemperature: 0.1, intWeight: 1e-2, intTemperature: 0.1 },
    movie: { layers: 3, reg: 1e-6, noiseEps: 0.1, clWeight: 2e-2, clTemperature: 0.1, kdWeight: 1e-2, kdTemperature: 0.2, intWeight: 3e-2, intTemperature: 0.2 },
  },
};

/**
 * The default preset: what a run on data the paper never saw starts from (README, "Presets", has the
 * measurements behind every value that differs from the reference). LightGCN and RLMRec-Con keep the
 * reference's values. IRLLRec differs in two named ways:
 * - `intWeight` 4e-3 instead of 2e-2: at 2e-2 the intent alignment's gradient on the shared embedding table
 *   outweighs BPR's and training stalls for ~40 epochs on real text (the stall lasts longer the larger the
 *   weight: measured on movielens, 1e-3 and 4e-3 take off after ~7 and ~11 epochs, and 4e-3 ends higher); the
 *   intent-only parameters (prototypes, intent tower) learn at the same speed under Adam at any weight, since
 *   Adam's step does not depend on the gradient's scale.
 * - `sslWeight` = `itmWeight` = 0 instead of 1e-7: at 1e-7 their gradients are below f32 resolution next to
 *   the other terms, and at 0 they cost nothing (no all-pairs ssl pass, no teacher forward).
 */
const DEFAULT: Record<ModelKind, Preset> = {
  lightgcn: REFERENCE.lightgcn.fallback,
  rlmrec: REFERENCE.rlmrec.fallback,
  irllrec: { layers: 3, reg: 1e-7, kdWeight: 1e-2, intWeight: 4e-3, sslWeight: 0, itmWeight: 0 },
  // The backbones keep the reference's fallback (amazon) values: no measurement has yet argued otherwise.
  sgl: REFERENCE.sgl.fallback,
  sgl_plus: REFERENCE.sgl_plus.fallback,
  sgl_int: REFERENCE.sgl_int.fallback,
  simgcl: REFERENCE.simgcl.fallback,
  simgcl_plus: REFERENCE.simgcl_plus.fallback,
  simgcl_int: REFERENCE.simgcl_int.fallback,
};

/**
 * The configuration of `kind` for `dataset` under `preset` (see `PresetName`; when omitted, 'reference' for
 * amazon, yelp and movie and 'default' for every other dataset), with `overrides` applied.
 */
export function modelConfig(name: ModelKind | string, dataset = 'other', overrides: Partial<ModelConfig> = {}, preset?: PresetName): ModelConfig {
  const kind = canonicalKind(name);
  if (!kind) throw new IrllrecError('range', `unknown model '${name}' (expected one of ${MODEL_NAMES.join(', ')})`);
  const presetName = presetFor(dataset, preset);
  const values = presetName === 'reference' ? (REFERENCE[kind][dataset] ?? REFERENCE[kind].fallback) : DEFAULT[kind];
  const cfg: ModelConfig = { ...BASE, ...values, ...overrides, kind, preset: presetName };
  validateConfig(cfg);
  return cfg;
}

/**
 * A configuration read back from a model file or checkpoint, as this version understands it: the fields added
 * with the SGL / SimGCL backbones (clWeight, clTemperature, noiseEps) default to their off values in files
 * written before them, and the reference's kind names (`lightgcn_int`, …) map to the kinds. Anything that is
 * not an object is returned as it is, for `validateConfig` to reject.
 */
export function storedConfig(c: unknown): ModelConfig {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return c as ModelConfig;
  const o = c as Record<string, unknown>;
  return { clWeight: BASE.clWeight, clTemperature: BASE.clTemperature, noiseEps: BASE.noiseEps, ...o, kind: canonicalKind(o.kind) ?? o.kind } as ModelConfig;
}

/**
 * Sane maxima of the configuration fields that size work and memory, checked before anything is planned,
 * allocated or looped over (a model file or checkpoint carries its config, so these are input checks):
 * - layers: LightGCN-style propagation is used with 1–4 layers (more over-smooths); every layer keeps an
 *   N×d buffer alive for the backward and adds dispatches to each step's command buffer, so a file asking
 *   for 10^6 layers would exhaust memory or the driver (64 is 16× the largest layer count in use).
 * - embeddingDim: the reference uses 32; 4096 is 128× that and already 16 KiB per node row.
 * - numIntents: the reference uses 128 prototypes; 65536 keeps the [d, K] prototype tables and the per-layer
 *   [N, K] intent scores within reach of a GPU for catalogues of ordinary size.
 */
export const MAX_LAYERS = 64;
export const MAX_EMBEDDING_DIM = 4096;
export const MAX_INTENTS = 65536;
/**
 * Largest text-embedding width a model file may declare through its tower shapes (a zero-byte tensor can
 * claim any width): LLM embeddings are 384–12288 wide; 65536 leaves room and bounds the towers' planning.
 */
export const MAX_TEXT_DIM = 65536;

export function validateConfig(c: ModelConfig): void {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new IrllrecError('range', `model config: expected an object, got ${JSON.stringify(c)}`);
  if (!MODEL_KINDS.includes(c.kind)) throw new IrllrecError('range', `model config: kind must be one of ${MODEL_KINDS.join(', ')}, got ${JSON.stringify(c.kind)}`);
  const pos = (name: keyof ModelConfig, v: number, integer = false, max = Infinity) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) throw new IrllrecError('range', `model config: ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`);
    if (v > max) throw new IrllrecError('limit', `model config: ${name} = ${v} is over the limit of ${max}`);
  };
  const nonneg = (name: keyof ModelConfig, v: number) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new IrllrecError('range', `model config: ${name} must be ≥ 0, got ${JSON.stringify(v)}`);
  };
  pos('embeddingDim', c.embeddingDim, true, MAX_EMBEDDING_DIM);
  pos('layers', c.layers, true, MAX_LAYERS);
  pos('numIntents', c.numIntents, true, MAX_INTENTS);
  pos('kdTemperature', c.kdTemperature);
  pos('intTemperature', c.intTemperature);
  pos('clTemperature', c.clTemperature);
  for (const k of ['reg', 'kdWeight', 'intWeight', 'sslWeight', 'itmWeight', 'clWeight', 'noiseEps'] as const) nonneg(k, c[k]);
  const parts = modelParts(c.kind);
  if (parts.intents && !parts.teacher && (c.sslWeight > 0 || c.itmWeight > 0)) {
    throw new IrllrecError('range', `model config: ${c.kind} has no translation alignment or ITM (the authors' ${c.kind} has neither, backbones spec §4.3, §5.3): sslWeight and itmWeight must be 0, got ${c.sslWeight} and ${c.itmWeight}`);
  }
  if (!(c.keepRate > 0 && c.keepRate <= 1)) throw new IrllrecError('range', `model config: keepRate must be in (0, 1], got ${c.keepRate}`);
  if (!(c.emaMomentum >= 0 && c.emaMomentum <= 1)) throw new IrllrecError('range', `model config: emaMomentum must be in [0, 1], got ${c.emaMomentum}`);
  if (c.teacherInit !== 'reference' && c.teacherInit !== 'copy') throw new IrllrecError('range', `model config: teacherInit must be 'reference' or 'copy', got ${JSON.stringify(c.teacherInit)}`);
  if (c.preset !== undefined && !(PRESET_NAMES as readonly string[]).includes(c.preset)) {
    throw new IrllrecError('range', `model config: preset must be one of ${PRESET_NAMES.join(', ')}, got ${JSON.stringify(c.preset)}`);
  }
  if (c.textPrecision !== undefined && c.textPrecision !== 'f32' && c.textPrecision !== 'f16') {
    throw new IrllrecError('range', `model config: textPrecision must be 'f32' or 'f16', got ${JSON.stringify(c.textPrecision)}`);
  }
}

/**
 * Which parts a model kind has: the profile tower (kd), the intent branch and tower (kd_int), the EMA
 * teacher with ssl and ITM (only IRLLRec on LightGCN: the authors' sgl_int and simgcl_int have none), and
 * the backbone.
 */
export function modelParts(kind: ModelKind): { profile: boolean; intents: boolean; teacher: boolean; backbone: Backbone } {
  const backbone: Backbone = kind.startsWith('simgcl') ? 'simgcl' : kind.startsWith('sgl') ? 'sgl' : 'lightgcn';
  const intents = kind === 'irllrec' || kind.endsWith('_int');
  return { profile: kind !== 'lightgcn' && kind !== 'sgl' && kind !== 'simgcl', intents, teacher: kind === 'irllrec', backbone };
}

/** Loss component names, in slot order (`model.loss(batch)` returns them by name); `cl` is SGL's and SimGCL's L_cl. */
export const LOSS_NAMES = ['bpr', 'reg', 'kd', 'kd_int', 'ssl', 'itm', 'cl'] as const;
export type LossName = (typeof LOSS_NAMES)[number];
export type LossComponents = Record<LossName, number> & { total: number };
