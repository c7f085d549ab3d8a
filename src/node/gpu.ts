/**
 * Node's WebGPU: Dawn through the npm `webgpu` package, an optional peer dependency that is imported only
 * when a GPU is first asked for (browser apps and CPU-only runs never load it). Installs the WebGPU globals
 * (GPUBufferUsage, …) once and creates the `GPU` entry point. Only the `node` entry imports this module.
 */
import { type CreateBackendOptions, cpuFallback, createBackend as createCoreBackend } from '../backend.js';
import { IrllrecError } from '../errors.js';
import type { Backend } from '../ops/tensor.js';

let gpu: Promise<GPU> | null = null;

/** Dawn's `GPU` object (created once per process). `adapter=llvmpipe` style options pass through. */
export function nodeGpu(options: string[] = []): Promise<GPU> {
  gpu ??= import('webgpu').then(
    ({ create, globals }) => {
      Object.assign(globalThis, globals);
      return create(options) as GPU;
    },
    (e: NodeJS.ErrnoException) => {
      gpu = null;
      if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes("'webgpu'")) throw new IrllrecError('no-adapter', `the 'webgpu' package (Dawn) failed to load: ${e?.message ?? e}`, { cause: e });
      throw new IrllrecError(
        'no-adapter',
        "WebGPU in Node needs the 'webgpu' package (Dawn), an optional peer dependency of irllrec: run `npm install webgpu` (browser apps do not need it)",
        { cause: e },
      );
    },
  );
  return gpu;
}

/** A backend on this machine's GPU through Dawn; with `backend: 'auto'` (default) the CPU when there is none. */
export async function createBackend(opts: CreateBackendOptions & { dawnOptions?: string[] } = {}): Promise<Backend> {
  if (opts.backend === 'cpu' || opts.gpu || opts.device || opts.adapter) return createCoreBackend(opts);
  let dawn: GPU;
  try {
    dawn = await nodeGpu(opts.dawnOptions);
  } catch (e) {
    return cpuFallback(opts, e); // without Dawn, 'auto' runs on the CPU; the notice carries the install hint
  }
  return createCoreBackend({ ...opts, gpu: dawn });
}
