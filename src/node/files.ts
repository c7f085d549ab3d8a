/**
 * Node file helpers: reading dataset directories and interaction files (the parsing itself is the
 * browser-safe code in src/data), and crash-safe writes for model files and checkpoints.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { IrllrecError } from '../errors.js';
import { datasetFromFiles, splitInteractions } from '../data/interactions.js';
import type { Dataset } from '../data/types.js';
import { MAX_TEXT_FILE_BYTES, readBounded, readBoundedText } from './paths.js';

/** The files `datasetFromFiles` understands; those present in the directory are read. */
const DATASET_FILES = [
  'train.tsv',
  'val.tsv',
  'test.tsv',
  'meta.json',
  'user_profile.npy',
  'item_profile.npy',
  'user_intent.npy',
  'item_intent.npy',
] as const;

/**
 * Size limits of dataset files, checked before reading: text is decoded into one JS string (at most ~2^29
 * characters); an embedding table of 2 GiB is 10^6 rows of 512 f32 values, far beyond the catalogues a
 * single-GPU model holds.
 */
export const MAX_DATASET_TEXT_BYTES = MAX_TEXT_FILE_BYTES;
export const MAX_EMBEDDING_FILE_BYTES = 2 * 1024 * 1024 * 1024 - 1;

async function readIfExists(path: string, shown: string): Promise<Uint8Array | undefined> {
  try {
    return await readBounded(path, shown.endsWith('.npy') ? MAX_EMBEDDING_FILE_BYTES : MAX_DATASET_TEXT_BYTES, `dataset file ${basename(path)}`);
  } catch (e) {
    if ((e as { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Load a dataset directory (train.tsv required; val.tsv, test.tsv, meta.json and the four embedding .npy
 * files when present). The name defaults to the directory's name.
 */
export async function loadDatasetDir(dir: string, opts: { name?: string } = {}): Promise<Dataset> {
  const files: Record<string, Uint8Array> = {};
  const st = await stat(dir).catch((e: NodeJS.ErrnoException) => {
    throw new IrllrecError('io', `${dir}: cannot read the dataset directory (${e.code === 'ENOENT' ? 'no such file or directory' : e.message})`);
  });
  if (!st.isDirectory()) throw new IrllrecError('io', `${dir}: expected a dataset directory (train.tsv, …)`);
  const contents = await Promise.all(DATASET_FILES.map((f) => readIfExists(join(dir, f), f)));
  DATASET_FILES.forEach((f, k) => {
    if (contents[k] !== undefined) files[f] = contents[k]!;
  });
  if (files['train.tsv'] === undefined) throw new IrllrecError('data', `${dir}: no train.tsv in this directory`);
  try {
    return datasetFromFiles(files, { name: opts.name ?? basename(resolve(dir)) });
  } catch (e) {
    if (e instanceof IrllrecError) throw new IrllrecError(e.code, `${dir}: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * Load one interaction file (`user item [rating] [timestamp]`, TSV/CSV/space separated) and split it per
 * user with `splitInteractions` (seeded). The name defaults to the file name without its extension.
 */
export async function loadInteractionsFile(
  path: string,
  opts: { seed: number; val: number; test: number; name?: string; minRating?: number; dropUnseen?: boolean },
): Promise<Dataset> {
  const text = await readBoundedText(path, MAX_DATASET_TEXT_BYTES, 'interaction file');
  return splitInteractions(text, { ...opts, name: opts.name ?? basename(path, extname(path)), source: path });
}

/**
 * Atomic write: the data go to `${path}.tmp-<pid>-<random>`, which is fsynced and then renamed over `path`,
 * so readers see either the old file or the complete new one, never a torn write. On error the temporary
 * file is removed. The directory is fsynced afterwards where the platform allows it. `data` may be an async
 * iterable of parts (a large export written as it is computed); an error it throws aborts the write.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string | AsyncIterable<Uint8Array | string>): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(tmp, 'wx');
    if (typeof data === 'string' || data instanceof Uint8Array) await handle.writeFile(data);
    else for await (const part of data) await handle.write(typeof part === 'string' ? Buffer.from(part) : part);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw new IrllrecError('io', `${path}: cannot write (${(e as Error).message})`, { cause: e });
  }
  // Persist the rename itself (directory entry); not supported on every platform (e.g. Windows).
  try {
    const dirHandle = await open(dirname(resolve(path)), 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch {
    // best effort
  }
}
