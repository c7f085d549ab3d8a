/**
 * Crafted inputs for the hostile-input suites (hostile.test.ts: the library; hostile-cli.test.ts: the CLI in
 * child processes): valid model files, checkpoints and datasets, then edited field by field so that they
 * still parse but ask for too much, mean something else or overflow later.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { syntheticDataset } from '../../src/data/synthetic.js';
import type { Dataset } from '../../src/data/types.js';
import { serializeModel } from '../../src/io/modelfile.js';
import { type SafeTensor, float32Tensor, readSafetensors, tensorToFloat32, writeSafetensors } from '../../src/io/safetensors.js';
import type { ModelKind } from '../../src/models/config.js';
import { CpuBackend } from '../../src/ops/tensor.js';
import { createModel } from '../../src/train/trainer.js';

/** A small dataset with every part (text for all three kinds). */
export function smallData(seed = 5): Dataset {
  return syntheticDataset({ seed, numUsers: 40, numItems: 50, numIntents: 4, textDim: 8, interactionsPerUser: 6 });
}

/** A freshly initialised model file of `kind` for `data` (written on the CPU backend). */
export async function modelBytes(kind: ModelKind, data = smallData(), extra: { userIds?: string[]; itemIds?: string[] } = {}): Promise<Uint8Array> {
  const be = new CpuBackend({ precision: 'f32' });
  const config = kind === 'irllrec' ? { embeddingDim: 8, layers: 2, numIntents: 4 } : { embeddingDim: 8, layers: 2 };
  const model = createModel(be, data, { model: kind, config, seed: 3 });
  try {
    return await serializeModel(model, { train: data.train, userIds: extra.userIds ?? data.userIds, itemIds: extra.itemIds ?? data.itemIds, datasetName: data.name });
  } finally {
    model.dispose();
  }
}

/**
 * `bytes` (a safetensors file) with its metadata and tensors edited: `meta` gets the metadata (strings) to
 * change, `tensors` the tensors (by name) and may add, replace or delete (undefined) entries.
 */
export function editSafetensors(
  bytes: Uint8Array,
  edit: { meta?: (m: Record<string, string>) => void; tensors?: (t: Map<string, SafeTensor | undefined>) => void },
): Uint8Array {
  const { tensors, metadata } = readSafetensors(bytes);
  const map = new Map<string, SafeTensor | undefined>(tensors);
  edit.meta?.(metadata);
  edit.tensors?.(map);
  const out: Record<string, SafeTensor> = {};
  for (const [k, v] of map) if (v) out[k] = v;
  return writeSafetensors(out, metadata);
}

/** The model file's config (metadata 'config') with `patch` applied. */
export function withConfig(bytes: Uint8Array, patch: Record<string, unknown>): Uint8Array {
  return editSafetensors(bytes, { meta: (m) => void (m.config = JSON.stringify({ ...JSON.parse(m.config), ...patch })) });
}

/** Every float tensor named in `names` multiplied by `factor` (finite in f32: the caller picks it). */
export function scaled(bytes: Uint8Array, names: string[], factor: number): Uint8Array {
  return editSafetensors(bytes, {
    tensors: (t) => {
      for (const n of names) {
        const x = t.get(n)!;
        const v = tensorToFloat32(x, n).map((a) => a * factor);
        t.set(n, float32Tensor(v, x.shape));
      }
    },
  });
}

/** Write a dataset directory (train/val/test as TSV text, optional meta.json) and return its path. */
export function writeDatasetDir(dir: string, files: { train: string; val?: string; test?: string; meta?: unknown }): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'train.tsv'), files.train);
  if (files.val !== undefined) writeFileSync(join(dir, 'val.tsv'), files.val);
  if (files.test !== undefined) writeFileSync(join(dir, 'test.tsv'), files.test);
  if (files.meta !== undefined) writeFileSync(join(dir, 'meta.json'), JSON.stringify(files.meta));
  return dir;
}

/** `data`'s splits as TSV text of `user item` lines, ids mapped by `user` / `item`. */
export function tsvOf(inter: { users: Uint32Array; items: Uint32Array }, user = (u: number) => String(u), item = (i: number) => String(i)): string {
  let s = '';
  for (let k = 0; k < inter.users.length; k++) s += `${user(inter.users[k])}\t${item(inter.items[k])}\n`;
  return s;
}
