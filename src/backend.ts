/**
 * Choosing a backend: WebGPU when an adapter is there, else the CPU twins (with a one-line notice).
 */
import { IrllrecError } from './errors.js';
import type { GpuContextOptions } from './gpu/device.js';
import { type Backend, CpuBackend, WebGpuBackend } from './ops/tensor.js';

export interface CreateBackendOptions extends GpuContextOptions {
  /** 'webgpu' fails without an adapter; 'auto' (default) falls back to 'cpu'; 'cpu' never touches the GPU. */
  backend?: 'webgpu' | 'cpu' | 'auto';
  /** Float precision of the CPU backend (default 'f32'). */
  precision?: 'f32' | 'f64';
  /** Receives the one-line fallback notice (default: console.warn). */
  onNotice?: (message: string) => void;
}

export async function createBackend(opts: CreateBackendOptions = {}): Promise<Backend> {
  const kind = opts.backend ?? 'auto';
  if (kind === 'cpu') return new CpuBackend({ precision: opts.precision });
  try {
    return await WebGpuBackend.create(opts);
  } catch (e) {
    return cpuFallback(opts, e);
  }
}

/** With `backend: 'auto'`, a missing adapter ('no-adapter') becomes the CPU backend and a notice; else `e` is rethrown. */
export function cpuFallback(opts: CreateBackendOptions, e: unknown): Backend {
  if (opts.backend === 'webgpu' || !(e instanceof IrllrecError) || e.code !== 'no-adapter') throw e;
  (opts.onNotice ?? ((m: string) => console.warn(m)))(`irllrec: ${e.message}; using the CPU backend (slower).`);
  return new CpuBackend({ precision: opts.precision });
}
