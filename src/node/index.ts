/**
 * The `irllrec/node` entry: everything in the core entry, plus Dawn-backed devices and file helpers.
 * This is the only part of the package that imports Node modules.
 */
import { GpuContext } from '../gpu/device.js';
import { nodeGpu } from './gpu.js';

export * from '../index.js';
export { nodeGpu, createBackend } from './gpu.js';
export { loadDatasetDir, loadInteractionsFile, writeFileAtomic } from './files.js';
export { MAX_TEXT_FILE_BYTES, checkOutputPath, readBounded, readBoundedText, terminalSafe, terminalSafeJson } from './paths.js';
export { fileStudyStore, studyMarkdown, writeStudyReports } from './study.js';
export { Recommender, saveCheckpoint, loadCheckpoint, checkpointToFile } from './serve.js';

/** A GPU context on this machine's GPU through Dawn. */
export async function createGpuContext(opts: Parameters<typeof GpuContext.create>[0] & { dawnOptions?: string[] } = {}): Promise<GpuContext> {
  return GpuContext.create({ ...opts, gpu: opts.gpu ?? (await nodeGpu(opts.dawnOptions)) });
}
