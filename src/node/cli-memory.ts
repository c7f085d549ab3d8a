/**
 * `irllrec train --profile-memory` (where the memory goes, src/gpu/memory.ts) and `--max-memory SIZE` (the
 * device-memory budget `fit` plans the run within: src/train/memory.ts).
 */
import { IrllrecError } from '../errors.js';
import { type MemoryProfiler as Profiler, MemoryProfiler } from '../gpu/memory.js';
import type { Backend, WebGpuBackend } from '../ops/tensor.js';
import { terminalSafe } from './paths.js';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** `--max-memory`: bytes, or a number with a binary unit (K/KiB, M/MiB, G/GiB): '1G', '768M', '1.5GiB'. */
export function parseMemorySize(arg: string, option = '--max-memory'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(arg);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  const bytes = m && unit ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(bytes > 0) || !Number.isSafeInteger(bytes)) {
    throw new IrllrecError('range', `${option} must be a positive size such as 1G, 768M or 805306368 (bytes), got '${terminalSafe(arg)}'`);
  }
  return bytes;
}

/** A memory profiler sampling at every readback (WebGPU only; on the CPU backend it says so and returns null). */
export function startMemoryProfile(be: Backend): Profiler | null {
  if (be.kind !== 'webgpu') {
    process.stderr.write('irllrec: --profile-memory reports the WebGPU buffer pool; this run uses the CPU backend, so no memory profile is taken\n');
    return null;
  }
  const g = be as WebGpuBackend;
  const profiler = new MemoryProfiler(
    g.pool,
    {
      rss: () => process.memoryUsage.rss(),
      highWaterMark: () => process.resourceUsage().maxRSS * 1024,
      arrayBuffers: () => process.memoryUsage().arrayBuffers,
      heap: () => process.memoryUsage().heapUsed,
    },
    g.ctx.adapter.isSoftware,
  );
  g.recorder.onSettled = () => profiler.sample();
  return profiler.watch(25);
}
