/**
 * Storage-buffer pool with byte accounting.
 *
 * Buffers are bucketed by size (rounded up to a power of two from 256 B to 1 MiB, then to eighths of a power
 * of two, at most 1 MiB steps, to waste less), reused on `acquire` and destroyed on `destroy()`. Releasing a buffer makes it reusable
 * for *later recorded* work, which is safe because dispatches in one encoder run in order. Sizes are
 * checked against the device's negotiated limits before anything is allocated, so an oversized tensor
 * fails with its label and the numbers instead of a validation error in the middle of a step.
 */
import { IrllrecError } from '../errors.js';
import type { GpuContext } from './device.js';

export interface PoolStats {
  /** Buffers handed out and not yet released. */
  liveBuffers: number;
  liveBytes: number;
  /** Buffers kept for reuse. */
  pooledBuffers: number;
  pooledBytes: number;
  /** Buffers ever created / acquisitions served from the pool. */
  created: number;
  reused: number;
  /** Largest liveBytes + pooledBytes seen. */
  peakBytes: number;
}

// STORAGE | COPY_SRC | COPY_DST; the numeric values are fixed by the WebGPU spec, so this module does not
// depend on the GPUBufferUsage global being installed before it is evaluated.
const STORAGE_USAGE = 0x0080 | 0x0004 | 0x0008;

export function bucketSize(bytes: number): number {
  const b = Math.max(256, bytes);
  if (b <= 1024 * 1024) return 2 ** Math.ceil(Math.log2(b));
  // Above 1 MiB: eighths of the power of two below (at most 1 MiB steps), so a bucket wastes ≤ 12.5%
  // (a 2.5 MiB N×d table would otherwise take 4 MiB).
  const step = Math.min(1024 * 1024, 2 ** Math.floor(Math.log2(b)) / 8);
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private readonly ctx: GpuContext;
  private readonly free = new Map<number, GPUBuffer[]>();
  /** Buffers handed out, with the label of their current use (a reused buffer keeps its first label in WebGPU). */
  private readonly live = new Map<GPUBuffer, string>();
  private s: PoolStats = { liveBuffers: 0, liveBytes: 0, pooledBuffers: 0, pooledBytes: 0, created: 0, reused: 0, peakBytes: 0 };

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    ctx.onDestroy(() => this.destroy());
  }

  /** Check a requested storage size against the device limits; throws a `limit` error naming `label`. */
  checkSize(bytes: number, label: string): void {
    const { maxStorageBufferBindingSize, maxBufferSize } = this.ctx.limits;
    if (!Number.isFinite(bytes) || bytes < 0) throw new IrllrecError('range', `${label}: invalid buffer size ${bytes}`);
    if (bytes > maxStorageBufferBindingSize) {
      throw new IrllrecError(
        'limit',
        `${label}: ${bytes} bytes exceeds this device's maxStorageBufferBindingSize (${maxStorageBufferBindingSize} bytes)`,
      );
    }
    if (bytes > maxBufferSize) {
      throw new IrllrecError('limit', `${label}: ${bytes} bytes exceeds this device's maxBufferSize (${maxBufferSize} bytes)`);
    }
  }

  /** A storage buffer (STORAGE | COPY_SRC | COPY_DST) of at least `bytes` bytes. Contents are undefined. */
  acquire(bytes: number, label: string): GPUBuffer {
    this.checkSize(bytes, label);
    let size = bucketSize(bytes);
    // A bucket rounded past either limit falls back to the exact (256-aligned) size, which checkSize admitted.
    const { maxStorageBufferBindingSize, maxBufferSize } = this.ctx.limits;
    if (size > Math.min(maxStorageBufferBindingSize, maxBufferSize)) size = Math.ceil(bytes / 256) * 256;
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.s.reused++;
      this.s.pooledBuffers--;
      this.s.pooledBytes -= size;
    } else {
      this.ctx.check(label);
      buf = this.ctx.device.createBuffer({ label, size, usage: STORAGE_USAGE });
      this.s.created++;
    }
    this.live.set(buf, label);
    this.s.liveBuffers++;
    this.s.liveBytes += size;
    this.s.peakBytes = Math.max(this.s.peakBytes, this.s.liveBytes + this.s.pooledBytes);
    return buf;
  }

  /**
   * A new buffer of at least `bytes` bytes, mapped at creation (the caller writes its contents through
   * `getMappedRange()` and unmaps it before any use): an upload without a staging copy, for large constant
   * tables. Never served from the free buffers (those cannot be mapped synchronously).
   */
  acquireMapped(bytes: number, label: string): GPUBuffer {
    this.checkSize(bytes, label);
    const size = Math.ceil(Math.max(4, bytes) / 4) * 4;
    this.ctx.check(label);
    const buf = this.ctx.device.createBuffer({ label, size, usage: STORAGE_USAGE, mappedAtCreation: true });
    this.s.created++;
    this.live.set(buf, label);
    this.s.liveBuffers++;
    this.s.liveBytes += size;
    this.s.peakBytes = Math.max(this.s.peakBytes, this.s.liveBytes + this.s.pooledBytes);
    return buf;
  }

  /** Return a buffer for reuse by later work. */
  release(buf: GPUBuffer): void {
    if (!this.live.delete(buf)) return;
    const size = buf.size;
    this.s.liveBuffers--;
    this.s.liveBytes -= size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
    this.s.pooledBuffers++;
    this.s.pooledBytes += size;
  }

  /** Destroy the buffers kept for reuse (live ones stay). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.s.pooledBuffers = 0;
    this.s.pooledBytes = 0;
  }

  /** Bytes of the buffers handed out now, by pool label (memory reports: src/gpu/memory.ts). */
  liveBytesByLabel(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [b, label] of this.live) out.set(label, (out.get(label) ?? 0) + b.size);
    return out;
  }

  get stats(): Readonly<PoolStats> {
    return { ...this.s };
  }

  destroy(): void {
    this.trim();
    for (const b of this.live.keys()) b.destroy();
    this.live.clear();
    this.s.liveBuffers = 0;
    this.s.liveBytes = 0;
  }
}
