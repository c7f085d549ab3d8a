/**
 * Model files: the safetensors layout with the reference's tensor names (`user_embeds`, `item_embeds`,
 * `user_intent`, `item_intent`, `mlp.0.weight` … in PyTorch's [out, in] Linear layout, `int_mlp.*`, and
 * the teacher `int_mlp_m.*`), plus, under names that do not clash with the reference, the training
 * interactions (`irllrec.train_users`, `irllrec.train_items`, I32) so that a file alone can rank. The
 * config and id maps go in `__metadata__`. Files written by the authors' PyTorch code (no metadata) load
 * too: the model kind is inferred from the tensor names and the training graph comes from a dataset.
 */
import type { Interactions } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import { MAX_TEXT_DIM, type ModelConfig, type ModelKind, modelConfig, validateConfig } from '../models/config.js';
import type { RecModel } from '../models/model.js';
import { type SafeTensor, float32Tensor, readSafetensors, tensorToFloat32, writeSafetensors } from './safetensors.js';

export const FORMAT = 'irllrec-model';
export const FORMAT_VERSION = '1';

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
}

/** Serialise a model (and optionally its training interactions and id maps). */
export async function serializeModel(model: RecModel, extra: { train?: Interactions; userIds?: string[]; itemIds?: string[]; datasetName?: string } = {}): Promise<Uint8Array> {
  const params = await model.exportParameters();
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, t] of params) tensors[name] = float32Tensor(t.data, t.shape);
  if (extra.train) {
    const n = extra.train.users.length;
    tensors['irllrec.train_users'] = { dtype: 'I32', shape: [n], data: new Uint8Array(Int32Array.from(extra.train.users).buffer) };
    tensors['irllrec.train_items'] = { dtype: 'I32', shape: [n], data: new Uint8Array(Int32Array.from(extra.train.items).buffer) };
  }
  const metadata: Record<string, string> = {
    format: FORMAT,
    format_version: FORMAT_VERSION,
    config: JSON.stringify(model.config),
    num_users: String(model.numUsers),
    num_items: String(model.numItems),
    adam_step: String(model.step),
  };
  if (extra.datasetName) metadata.dataset = extra.datasetName;
  if (extra.userIds) metadata.user_ids = JSON.stringify(extra.userIds);
  if (extra.itemIds) metadata.item_ids = JSON.stringify(extra.itemIds);
  return writeSafetensors(tensors, metadata);
}

function parseJson<T>(text: string, what: string, source: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new IrllrecError('format', `${source}: metadata '${what}' is not valid JSON (${(e as Error).message})`);
  }
}

function inferKind(names: Set<string>): ModelKind {
  if (names.has('int_mlp.0.weight') || names.has('user_intent')) return 'irllrec';
  if (names.has('mlp.0.weight')) return 'rlmrec';
  return 'lightgcn';
}

/** Parse and validate a model file (see the module comment). */
export function parseModelFile(bytes: Uint8Array, source = 'model file', opts: { maxHeaderBytes?: number } = {}): ModelFile {
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
    config = parseJson<ModelConfig>(metadata.config, 'config', source);
    try {
      validateConfig(config);
    } catch (e) {
      throw new IrllrecError(e instanceof IrllrecError && e.code === 'limit' ? 'limit' : 'format', `${source}: metadata 'config': ${(e as Error).message}`);
    }
    if (Number(metadata.num_users) !== numUsers || Number(metadata.num_items) !== numItems) {
      throw new IrllrecError('format', `${source}: metadata says ${metadata.num_users} users / ${metadata.num_items} items but the embeddings have ${numUsers} / ${numItems} rows`);
    }
  } else {
    const kind = inferKind(new Set(tensors.keys()));
    const ui = tensors.get('user_intent');
    config = modelConfig(kind, metadata.dataset ?? 'other', { embeddingDim: d, ...(ui ? { numIntents: ui.shape[1] } : {}) }, 'reference');
  }
  for (const tower of ['mlp.0.weight', 'int_mlp.0.weight']) {
    const w = tensors.get(tower)?.shape;
    if (w && (w.length !== 2 || w[1] > MAX_TEXT_DIM)) throw new IrllrecError(w.length !== 2 ? 'format' : 'limit', `${source}: tensor '${tower}' has shape [${w.join(', ')}]; expected [hidden, textDim] with textDim ≤ ${MAX_TEXT_DIM}`);
  }
  if (config.embeddingDim !== d) throw new IrllrecError('format', `${source}: config embeddingDim ${config.embeddingDim} but embeddings are ${d}-d`);
  let train: Interactions | null = null;
  const tu = raw.get('irllrec.train_users');
  const ti = raw.get('irllrec.train_items');
  if (tu && ti) {
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
  };
}
