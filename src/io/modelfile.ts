/**
 * Model files: the safetensors layout with exactly the reference's tensors (`user_embeds`, `item_embeds`,
 * `user_intent`, `item_intent`, `mlp.0.weight` … in PyTorch's [out, in] Linear layout, `int_mlp.*`, and
 * the teacher `int_mlp_m.*`), so that the file loads into the authors' model with
 * `load_state_dict(load_file(path), strict=True)`. Everything else goes in `__metadata__` (strings, which a
 * state_dict loader ignores): the config, the id maps, a model card (library version, preset, data sizes,
 * validation metrics, date) and the training interactions (`train`: base64 of zigzag-delta LEB128 varints,
 * user then item per interaction, so that a file alone can rank). Files of format version 1 kept the
 * interactions as two I32 tensors `irllrec.train_users` / `irllrec.train_items`; they still load. Files
 * written by the authors' PyTorch code (no metadata) load too: the model kind is inferred from the tensor
 * names and the training graph comes from a dataset.
 */
import type { Interactions } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import { MAX_TEXT_DIM, MODEL_NAMES, type ModelConfig, type ModelKind, canonicalKind, modelConfig, modelParts, storedConfig, validateConfig } from '../models/config.js';
import type { RecModel } from '../models/model.js';
import { VERSION } from '../version.js';
import { type SafeTensor, float32Tensor, readSafetensors, tensorToFloat32, writeSafetensors } from './safetensors.js';

export const FORMAT = 'irllrec-model';
export const FORMAT_VERSION = '2';

/** What a file says about how it was made (irllrec's own files; absent fields were not recorded). */
export interface ModelCard {
  /** The irllrec version that wrote the file. */
  libraryVersion?: string;
  /** The preset the config started from. */
  preset?: string;
  /** When the file was written (ISO 8601). */
  created?: string;
  /** Validation metrics of the saved parameters, e.g. { 'recall@20': 0.12 }. */
  metrics?: Record<string, number>;
  /** Sizes of the training data. */
  numUsers: number;
  numItems: number;
  numTrain?: number;
}

export interface ModelFile {
  config: ModelConfig;
  numUsers: number;
  numItems: number;
  /** Parameters by reference name. */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  /** Training interactions, when the file carries them. */
  train: Interactions | null;
  userIds?: string[];
  itemIds?: string[];
  datasetName?: string;
  /** Text widths of the towers (from the tensor shapes). */
  textDims: { profile?: number; intent?: number };
  /** Whether the file was written by irllrec (false: e.g. exported from PyTorch). */
  native: boolean;
  /** The model card (see `ModelCard`); for foreign files only the sizes. */
  card: ModelCard;
}

export interface SerializeOptions {
  /** Training interactions (the file can then rank on its own: seen items are excluded). */
  train?: Interactions;
  userIds?: string[];
  itemIds?: string[];
  datasetName?: string;
  /** Validation metrics of these parameters, for the model card. */
  metrics?: Record<string, number>;
  /** The card's date (default: now). */
  date?: Date;
}

/** Serialise a model (and optionally its training interactions, id maps and validation metrics). */
export async function serializeModel(model: RecModel, extra: SerializeOptions = {}): Promise<Uint8Array> {
  const params = await model.exportParameters();
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, t] of params) tensors[name] = float32Tensor(t.data, t.shape);
  const metadata: Record<string, string> = {
    format: FORMAT,
    format_version: FORMAT_VERSION,
    library_version: VERSION,
    created: (extra.date ?? new Date()).toISOString(),
    config: JSON.stringify(model.config),
    num_users: String(model.numUsers),
    num_items: String(model.numItems),
    adam_step: String(model.step),
  };
  if (model.config.preset) metadata.preset = model.config.preset;
  if (extra.metrics && Object.keys(extra.metrics).length > 0) {
    for (const [k, v] of Object.entries(extra.metrics)) {
      if (!Number.isFinite(v)) throw new IrllrecError('range', `serializeModel: metric '${k}' is ${v}, expected a finite number`);
    }
    metadata.metrics = JSON.stringify(extra.metrics);
  }
  if (extra.train) {
    metadata.num_train = String(extra.train.users.length);
    metadata.train = encodeInteractions(extra.train);
  }
  if (extra.datasetName) metadata.dataset = extra.datasetName;
  if (extra.userIds) metadata.user_ids = JSON.stringify(extra.userIds);
  if (extra.itemIds) metadata.item_ids = JSON.stringify(extra.itemIds);
  return writeSafetensors(tensors, metadata);
}

/** Interactions as text: per interaction zigzag(user - previous user), zigzag(item - previous item) as LEB128, base64. */
export function encodeInteractions(train: Interactions): string {
  const out = new Uint8Array(train.users.length * 10);
  let at = 0;
  const put = (delta: number) => {
    let z = delta >= 0 ? delta * 2 : -delta * 2 - 1;
    while (z >= 0x80) {
      out[at++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    out[at++] = z;
  };
  let pu = 0;
  let pi = 0;
  for (let k = 0; k < train.users.length; k++) {
    put(train.users[k] - pu);
    put(train.items[k] - pi);
    pu = train.users[k];
    pi = train.items[k];
  }
  let text = '';
  for (let k = 0; k < at; k += 0x8000) text += String.fromCharCode(...out.subarray(k, Math.min(at, k + 0x8000)));
  return btoa(text);
}

/** The inverse of `encodeInteractions`, checking the count and every id against the model's sizes. */
export function decodeInteractions(text: string, count: number, numUsers: number, numItems: number, source: string): Interactions {
  const bad = (why: string) => new IrllrecError('format', `${source}: metadata 'train': ${why}`);
  let raw: string;
  try {
    raw = atob(text);
  } catch {
    throw bad('not base64');
  }
  if (!Number.isSafeInteger(count) || count < 0 || count * 2 > raw.length) throw bad(`num_train ${count} does not fit its ${raw.length} bytes`);
  const users = new Uint32Array(count);
  const items = new Uint32Array(count);
  let at = 0;
  const get = (): number => {
    let z = 0;
    let scale = 1;
    for (;;) {
      if (at >= raw.length) throw bad(`ends inside interaction ${count} expected`);
      const b = raw.charCodeAt(at++);
      z += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 0x80;
      if (scale > 2 ** 35) throw bad('a varint longer than 5 bytes');
    }
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  };
  let u = 0;
  let i = 0;
  for (let k = 0; k < count; k++) {
    u += get();
    i += get();
    if (u < 0 || u >= numUsers || i < 0 || i >= numItems) throw bad(`interaction ${k} (${u}, ${i}) is out of range (${numUsers} users, ${numItems} items)`);
    users[k] = u;
    items[k] = i;
  }
  if (at !== raw.length) throw bad(`${raw.length - at} bytes left after ${count} interactions`);
  return { users, items };
}

function parseJson<T>(text: string, what: string, source: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new IrllrecError('format', `${source}: metadata '${what}' is not valid JSON (${(e as Error).message})`);
  }
}

/** `name` as the kind of a file holding tensors `names`: its towers must be the ones the kind has. */
function checkedKind(name: string, names: Set<string>, source: string): ModelKind {
  const kind = canonicalKind(name);
  if (!kind) throw new IrllrecError('range', `${source}: unknown model kind '${name}' (expected one of ${MODEL_NAMES.join(', ')})`);
  const parts = modelParts(kind);
  const inferred = modelParts(inferKind(names));
  if (parts.profile !== inferred.profile || parts.intents !== inferred.intents) {
    throw new IrllrecError('format', `${source}: a ${kind} model ${parts.profile ? 'has' : 'has no'} profile tower and ${parts.intents ? 'has' : 'has no'} intent branch, but the file ${inferred.profile ? 'has' : 'has no'} 'mlp.0.weight' and ${inferred.intents ? 'has' : 'has no'} 'user_intent'`);
  }
  return kind;
}

function inferKind(names: Set<string>): ModelKind {
  if (names.has('int_mlp.0.weight') || names.has('user_intent')) return 'irllrec';
  if (names.has('mlp.0.weight')) return 'rlmrec';
  return 'lightgcn';
}

/**
 * Parse and validate a model file (see the module comment). `opts.kind` names the kind of a file without
 * irllrec metadata (the authors' state_dict), whose tensor names cannot tell the backbones apart: their
 * SGL, SimGCL and LightGCN files all hold `user_embeds` and `item_embeds` only (the default guess is the
 * LightGCN rung with the same towers). It must agree with the tensors; a file with metadata keeps its own kind.
 */
export function parseModelFile(bytes: Uint8Array, source = 'model file', opts: { maxHeaderBytes?: number; kind?: ModelKind | string } = {}): ModelFile {
  const { tensors: raw, metadata } = readSafetensors(bytes, source, opts);
  const native = metadata.format === FORMAT;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of raw) {
    if (name.startsWith('irllrec.')) continue;
    if (!['F32', 'F64', 'F16', 'BF16'].includes(t.dtype)) throw new IrllrecError('format', `${source}: tensor '${name}' has unsupported dtype ${t.dtype} (model parameters must be F32, F64, F16 or BF16)`);
    tensors.set(name, { shape: t.shape, data: tensorToFloat32(t, name) });
  }
  const ue = tensors.get('user_embeds');
  const ie = tensors.get('item_embeds');
  if (!ue || !ie) throw new IrllrecError('format', `${source}: no '${!ue ? 'user_embeds' : 'item_embeds'}' tensor: not an irllrec / IRLLRec model file`);
  if (ue.shape.length !== 2 || ie.shape.length !== 2 || ue.shape[1] !== ie.shape[1]) {
    throw new IrllrecError('format', `${source}: user_embeds [${ue.shape}] and item_embeds [${ie.shape}] must be 2-D with the same width`);
  }
  const numUsers = ue.shape[0];
  const numItems = ie.shape[0];
  const d = ue.shape[1];
  let config: ModelConfig;
  if (native && metadata.config) {
    config = storedConfig(parseJson<unknown>(metadata.config, 'config', source));
    try {
      validateConfig(config);
    } catch (e) {
      throw new IrllrecError(e instanceof IrllrecError && e.code === 'limit' ? 'limit' : 'format', `${source}: metadata 'config': ${(e as Error).message}`);
    }
    if (Number(metadata.num_users) !== numUsers || Number(metadata.num_items) !== numItems) {
      throw new IrllrecError('format', `${source}: metadata says ${metadata.num_users} users / ${metadata.num_items} items but the embeddings have ${numUsers} / ${numItems} rows`);
    }
  } else {
    const kind = opts.kind === undefined ? inferKind(new Set(tensors.keys())) : checkedKind(opts.kind, new Set(tensors.keys()), source);
    const ui = tensors.get('user_intent');
    config = modelConfig(kind, metadata.dataset ?? 'other', { embeddingDim: d, ...(ui ? { numIntents: ui.shape[1] } : {}) }, 'reference');
  }
  for (const tower of ['mlp.0.weight', 'int_mlp.0.weight']) {
    const w = tensors.get(tower)?.shape;
    if (w && (w.length !== 2 || w[1] > MAX_TEXT_DIM)) throw new IrllrecError(w.length !== 2 ? 'format' : 'limit', `${source}: tensor '${tower}' has shape [${w.join(', ')}]; expected [hidden, textDim] with textDim ≤ ${MAX_TEXT_DIM}`);
  }
  if (config.embeddingDim !== d) throw new IrllrecError('format', `${source}: config embeddingDim ${config.embeddingDim} but embeddings are ${d}-d`);
  let train: Interactions | null = null;
  if (metadata.train !== undefined) train = decodeInteractions(metadata.train, Number(metadata.num_train), numUsers, numItems, source);
  // Format version 1: two I32 tensors.
  const tu = raw.get('irllrec.train_users');
  const ti = raw.get('irllrec.train_items');
  if (!train && tu && ti) {
    if (tu.dtype !== 'I32' || ti.dtype !== 'I32' || tu.shape.length !== 1 || ti.shape.length !== 1 || tu.shape[0] !== ti.shape[0]) {
      throw new IrllrecError('format', `${source}: training interactions must be two I32 vectors of equal length`);
    }
    const users = new Uint32Array(tu.shape[0]);
    const items = new Uint32Array(ti.shape[0]);
    const dvU = new DataView(tu.data.buffer, tu.data.byteOffset, tu.data.byteLength);
    const dvI = new DataView(ti.data.buffer, ti.data.byteOffset, ti.data.byteLength);
    for (let k = 0; k < users.length; k++) {
      const u = dvU.getInt32(k * 4, true);
      const i = dvI.getInt32(k * 4, true);
      if (u < 0 || u >= numUsers || i < 0 || i >= numItems) throw new IrllrecError('format', `${source}: training interaction ${k} (${u}, ${i}) is out of range`);
      users[k] = u;
      items[k] = i;
    }
    train = { users, items };
  }
  const ids = (key: string, n: number): string[] | undefined => {
    if (!metadata[key]) return undefined;
    const a = parseJson<unknown>(metadata[key], key, source);
    if (!Array.isArray(a) || a.length !== n || a.some((x) => typeof x !== 'string')) throw new IrllrecError('format', `${source}: metadata '${key}' must be an array of ${n} strings`);
    return a as string[];
  };
  return {
    config,
    numUsers,
    numItems,
    tensors,
    train,
    userIds: ids('user_ids', numUsers),
    itemIds: ids('item_ids', numItems),
    datasetName: metadata.dataset,
    textDims: { profile: tensors.get('mlp.0.weight')?.shape[1], intent: tensors.get('int_mlp.0.weight')?.shape[1] },
    native,
    card: {
      libraryVersion: metadata.library_version,
      preset: metadata.preset ?? (native ? config.preset : undefined),
      created: metadata.created,
      metrics: metadata.metrics ? metricsOf(parseJson<unknown>(metadata.metrics, 'metrics', source), source) : undefined,
      numUsers,
      numItems,
      numTrain: train?.users.length,
    },
  };
}

function metricsOf(m: unknown, source: string): Record<string, number> {
  if (typeof m !== 'object' || m === null || Array.isArray(m) || Object.values(m).some((v) => typeof v !== 'number')) {
    throw new IrllrecError('format', `${source}: metadata 'metrics' must be an object of numbers`);
  }
  return m as Record<string, number>;
}
