/**
 * Opt-in per-kernel timing. With timestamp queries (the adapter's 'timestamp-query' feature), each
 * dispatch gets its own compute pass whose begin/end timestamps are resolved at submit and read back
 * asynchronously; totals accumulate per kernel name. Without the feature, `Recorder` falls back to
 * submitting and waiting around each dispatch (wall time, including overheads).
 */
export interface KernelTiming {
  kernel: string;
  calls: number;
  /** Total GPU time in milliseconds. */
  ms: number;
}

const CAPACITY = 2048; // dispatches per submit that can be timed (WebGPU caps a query set at 4096)

export class Profiler {
  private readonly device: GPUDevice;
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuf: GPUBuffer;
  private names: string[] = [];
  private readonly totals = new Map<string, { calls: number; ns: number }>();
  private pending: Promise<void>[] = [];
  /** Dispatches beyond the capacity of one submit (not timed). */
  untimed = 0;

  constructor(device: GPUDevice) {
    this.device = device;
    this.querySet = device.createQuerySet({ label: 'profiler', type: 'timestamp', count: CAPACITY * 2 });
    this.resolveBuf = device.createBuffer({ label: 'profiler.resolve', size: CAPACITY * 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  }

  /** Timestamp writes for the next dispatch's pass, or undefined when this submit is full. */
  next(kernel: string): GPUComputePassTimestampWrites | undefined {
    const i = this.names.length;
    if (i >= CAPACITY) {
      this.untimed++;
      return undefined;
    }
    this.names.push(kernel);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Called by the recorder just before it finishes the encoder. */
  beforeSubmit(encoder: GPUCommandEncoder): (() => void) | null {
    const n = this.names.length;
    if (n === 0) return null;
    const names = this.names;
    this.names = [];
    const read = this.device.createBuffer({ label: 'profiler.read', size: n * 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuf, 0);
    encoder.copyBufferToBuffer(this.resolveBuf, 0, read, 0, n * 16);
    return () => {
      this.pending.push(
        read.mapAsync(GPUMapMode.READ).then(() => {
          const t = new BigInt64Array(read.getMappedRange());
          for (let i = 0; i < n; i++) this.add(names[i], Number(t[2 * i + 1] - t[2 * i]));
          read.destroy();
        }),
      );
    };
  }

  add(kernel: string, ns: number): void {
    const e = this.totals.get(kernel) ?? { calls: 0, ns: 0 };
    e.calls++;
    e.ns += Math.max(0, ns);
    this.totals.set(kernel, e);
  }

  /** Totals per kernel, slowest first (waits for outstanding readbacks). */
  async report(): Promise<KernelTiming[]> {
    await Promise.all(this.pending.splice(0));
    return [...this.totals].map(([kernel, e]) => ({ kernel, calls: e.calls, ms: e.ns / 1e6 })).sort((a, b) => b.ms - a.ms);
  }

  reset(): void {
    this.totals.clear();
    this.untimed = 0;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuf.destroy();
  }
}
