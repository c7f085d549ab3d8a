/**
 * Node additions to serving and checkpoints: model files and checkpoints by file path. `Recommender.load`
 * here accepts a path (or a `file:` URL) besides bytes and http(s) URLs, checks the file's size against
 * `maxBytes` before reading it, and defaults to a Dawn backend. Checkpoint writes are atomic
 * (`writeFileAtomic`: a reader sees the old file or the new one, never a torn write).
 */
import { fileURLToPath } from 'node:url';
import type { Dataset } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import type { RecModel } from '../models/model.js';
import type { Tensor } from '../ops/tensor.js';
import { DEFAULT_MAX_MODEL_BYTES, type LoadOptions, type ModelSource, Recommender as CoreRecommender } from '../serve/recommender.js';
import { type TrainingCheckpoint, captureCheckpoint, parseCheckpoint, serializeCheckpoint } from '../train/checkpoint.js';
import type { FitCheckpointOptions, TrainerState } from '../train/trainer.js';
import { writeFileAtomic } from './files.js';
import { createBackend } from './gpu.js';
import { readBounded } from './paths.js';

/** A file path of a string or file: URL source; null for other sources (bytes, http(s) URLs). */
function pathOf(source: ModelSource): string | null {
  if (source instanceof URL) return source.protocol === 'file:' ? fileURLToPath(source) : null;
  if (typeof source !== 'string') return null;
  if (/^file:/i.test(source)) return fileURLToPath(source);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return null; // http://, https://, …
  return source;
}

/**
 * The `Recommender` of the `node` entry: the same class and API, with file paths accepted by `load` and a
 * Dawn (WebGPU) backend by default (the CPU when no adapter is found).
 */
export class Recommender extends CoreRecommender {
  /**
   * Load a model file from a path, a file: or http(s) URL, or bytes (see the core `Recommender.load`).
   * Without `opts.backend` a backend is created on this machine's GPU and destroyed with the recommender.
   */
  static override async load(source: ModelSource, opts: LoadOptions = {}): Promise<CoreRecommender> {
    const path = pathOf(source);
    let bytes: ModelSource = source;
    if (path !== null) bytes = await readBounded(path, opts.maxBytes ?? DEFAULT_MAX_MODEL_BYTES, 'model file');
    const named = { ...opts, sourceName: opts.sourceName ?? path ?? undefined };
    if (opts.backend) return super.load(bytes, named);
    const backend = await createBackend({ backend: 'auto', onNotice: opts.onNotice ?? (() => undefined) });
    try {
      return await super.load(bytes, { ...named, backend, destroyBackend: opts.destroyBackend ?? true });
    } catch (e) {
      backend.destroy();
      throw e;
    }
  }
}

/** Write a checkpoint of `model` at trainer state `state` to `path`, atomically. */
export async function saveCheckpoint(
  path: string,
  model: RecModel,
  state: TrainerState,
  snapshot: ReadonlyMap<string, Tensor> | null,
  data?: Pick<Dataset, 'numUsers' | 'numItems' | 'train'> & { name?: string },
): Promise<void> {
  await writeFileAtomic(path, serializeCheckpoint(await captureCheckpoint(model, state, snapshot, data)));
}

/** Read and validate a checkpoint file (see `parseCheckpoint`); files over `maxBytes` are refused unread. */
export async function loadCheckpoint(path: string, opts: { maxBytes?: number } = {}): Promise<TrainingCheckpoint> {
  return parseCheckpoint(await readBounded(path, opts.maxBytes ?? 4 * DEFAULT_MAX_MODEL_BYTES, 'checkpoint'), path);
}

/** `fit` checkpoint hooks that write `path` atomically every `every` epochs (default 1). */
export function checkpointToFile(path: string, opts: { every?: number; data?: Pick<Dataset, 'numUsers' | 'numItems' | 'train'> & { name?: string } } = {}): FitCheckpointOptions {
  return { every: opts.every, onCheckpoint: (state, model, snapshot) => saveCheckpoint(path, model, state, snapshot, opts.data) };
}
