/**
 * The `irllrec/node` entry: everything in the core entry, plus Dawn-backed devices and file helpers.
 * This is the only part of the package that imports Node modules.
 */
import { type CreateBackendOptions, createBackend as createCoreBackend } from '../backend.js';
import { GpuContext } from '../gpu/device.js';
import type { Backend } from '../ops/tensor.js';
import { nodeGpu } from './gpu.js';

export * from '../index.js';
export { nodeGpu };
export { loadDatasetDir, loadInteractionsFile, writeFileAtomic } from './files.js';
export { fileStudyStore, studyMarkdown, writeStudyReports } from './study.js';
export { Recommender, saveCheckpoint, loadCheckpoint, checkpointToFile } from './serve.js';

/** A backend on this machine's GPU through Dawn (falls back to the CPU with `backend: 'auto'`). */
export async function createBackend(opts: CreateBackendOptions & { dawnOptions?: string[] } = {}): Promise<Backend> {
  if (opts.backend === 'cpu' || opts.device || opts.adapter) return createCoreBackend(opts);
  return createCoreBackend({ ...opts, gpu: opts.gpu ?? nodeGpu(opts.dawnOptions) });
}

/** A GPU context on this machine's GPU through Dawn. */
export async function createGpuContext(opts: Parameters<typeof GpuContext.create>[0] & { dawnOptions?: string[] } = {}): Promise<GpuContext> {
  return GpuContext.create({ ...opts, gpu: opts.gpu ?? nodeGpu(opts.dawnOptions) });
}
