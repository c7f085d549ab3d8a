/**
 * Run configurations: one flat JSON object that names a model, a preset, model settings and trainer settings,
 * e.g. `{"model": "irllrec", "preset": "default", "intWeight": 2e-3, "epochs": 60, "patience": 10}`. It is what
 * `irllrec train --config FILE|JSON` reads and what `irllrec tune` writes as its best configuration.
 * Every field is checked here (name, type, range), before any data is loaded or any model is built.
 */
import { IrllrecError } from '../errors.js';
import { MODEL_NAMES, type ModelConfig, type ModelKind, PRESET_NAMES, type PresetName, canonicalKind, modelConfig, validateConfig } from '../models/config.js';

/** Trainer settings a run configuration may carry (the `fit` options of the same names). */
export interface TrainerSettings {
  epochs?: number;
  patience?: number;
  evalEvery?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
}

export interface RunConfig {
  model?: ModelKind;
  preset?: PresetName;
  /** Overrides of the preset's model settings. */
  config: Partial<ModelConfig>;
  trainer: TrainerSettings;
}

type Check = ((v: unknown) => string | null) & { integer?: true };
const int = (min: number): Check => Object.assign((v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= min ? null : `an integer ≥ ${min}`), { integer: true as const });
const positive: Check = (v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? null : 'a positive number');
const nonneg: Check = (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? null : 'a number ≥ 0');
const oneOf = (xs: readonly string[]): Check => (v) => (typeof v === 'string' && xs.includes(v) ? null : `one of ${xs.map((x) => `"${x}"`).join(', ')}`);

const TRAINER_FIELDS: Record<keyof TrainerSettings, Check> = {
  epochs: int(1),
  patience: int(0),
  evalEvery: int(1),
  batchSize: int(1),
  lr: positive,
  seed: int(0),
};

const MODEL_FIELDS: Record<Exclude<keyof ModelConfig, 'kind' | 'preset'>, Check> = {
  embeddingDim: int(1),
  layers: int(1),
  reg: nonneg,
  keepRate: (v) => (typeof v === 'number' && v > 0 && v <= 1 ? null : 'a number in (0, 1]'),
  clWeight: nonneg,
  clTemperature: positive,
  noiseEps: nonneg,
  kdWeight: nonneg,
  kdTemperature: positive,
  intWeight: nonneg,
  intTemperature: positive,
  sslWeight: nonneg,
  itmWeight: nonneg,
  numIntents: int(1),
  emaMomentum: (v) => (typeof v === 'number' && v >= 0 && v <= 1 ? null : 'a number in [0, 1]'),
  teacherInit: oneOf(['reference', 'copy']),
  textPrecision: oneOf(['f32', 'f16']),
};

/** Names a run configuration accepts, for error messages and the tuner's search spaces. */
export const RUN_CONFIG_FIELDS: readonly string[] = ['model', 'preset', ...Object.keys(MODEL_FIELDS), ...Object.keys(TRAINER_FIELDS)];
export const MODEL_CONFIG_FIELDS: readonly string[] = Object.keys(MODEL_FIELDS);
export const TRAINER_CONFIG_FIELDS: readonly string[] = Object.keys(TRAINER_FIELDS);

/** Check one value of a run-configuration field; returns what the field must be when it is not. */
export function checkRunField(name: string, value: unknown): string | null {
  if (name === 'model') return oneOf(MODEL_NAMES)(value);
  if (name === 'preset') return oneOf(PRESET_NAMES)(value);
  const check = (MODEL_FIELDS as Record<string, Check>)[name] ?? (TRAINER_FIELDS as Record<string, Check>)[name];
  if (!check) return `a known field (${RUN_CONFIG_FIELDS.join(', ')})`;
  return check(value);
}

/** Whether a run-configuration field takes integers only (embeddingDim, layers, epochs, …). */
export function isIntegerRunField(name: string): boolean {
  return ((MODEL_FIELDS as Record<string, Check>)[name] ?? (TRAINER_FIELDS as Record<string, Check>)[name])?.integer === true;
}

/**
 * Parse a run configuration from JSON text (`source` names it in errors: a file path or '--config'). Unknown
 * fields, wrong types and out-of-range values are errors that name the field, the value and what it must be.
 */
export function parseRunConfig(text: string, source = '--config'): RunConfig {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new IrllrecError('format', `${source}: not valid JSON: ${(e as Error).message}`);
  }
  return runConfigFromObject(o, source);
}

/** Validate an already parsed run configuration (see `parseRunConfig`). */
export function runConfigFromObject(o: unknown, source = 'run config'): RunConfig {
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new IrllrecError('format', `${source}: must be a JSON object, e.g. {"preset": "default", "epochs": 60}`);
  const out: RunConfig = { config: {}, trainer: {} };
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (k === 'kind') throw new IrllrecError('range', `${source}: field 'kind' is fixed by the model; use "model": ${JSON.stringify(MODEL_NAMES.join('|'))}`);
    const problem = checkRunField(k, v);
    if (problem) {
      const known = RUN_CONFIG_FIELDS.includes(k);
      throw new IrllrecError('range', known ? `${source}: field '${k}' must be ${problem}, got ${JSON.stringify(v)}` : `${source}: unknown field '${k}' (allowed: ${RUN_CONFIG_FIELDS.join(', ')})`);
    }
    if (k === 'model') out.model = canonicalKind(v)!;
    else if (k === 'preset') out.preset = v as PresetName;
    else if (k in TRAINER_FIELDS) (out.trainer as Record<string, unknown>)[k] = v;
    else (out.config as Record<string, unknown>)[k] = v;
  }
  // The merged model settings must be valid too (e.g. a temperature of 0 is caught per field, combinations here).
  try {
    validateConfig(modelConfig(out.model ?? 'irllrec', 'other', out.config, out.preset));
  } catch (e) {
    throw new IrllrecError('range', `${source}: ${(e as Error).message}`);
  }
  return out;
}

/** The flat JSON object of a run configuration (what `parseRunConfig` reads back). */
export function runConfigToObject(r: RunConfig): Record<string, unknown> {
  return { ...(r.model ? { model: r.model } : {}), ...(r.preset ? { preset: r.preset } : {}), ...r.config, ...r.trainer };
}
