/**
 * Opt-in per-kernel timing. With timestamp queries (the adapter's 'timestamp-query' feature), each
 * dispatch gets its own compute pass whose begin/end timestamps are resolved at submit and read back
 * asynchronously; totals accumulate per kernel name. Without the feature, `Recorder` falls back to
 * submitting and waiting around each dispatch (wall time, including overheads).
 */
export interface KernelTiming {
  /** What the work was part of: 'training' unless recorded inside `Profiler.section(…)` (e.g. 'evaluation'). */
  section: string;
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
  private readonly totals = new Map<string, { section: string; kernel: string; calls: number; ns: number }>();
  /** Label of the work being recorded now (see `section`). */
  private current = 'training';
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
    this.names.push(`${this.current}\u0000${kernel}`);
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

  /** `key` is section NUL kernel (as recorded by `next`). */
  private add(key: string, ns: number): void {
    let e = this.totals.get(key);
    if (!e) {
      const [section, kernel] = key.split('\u0000');
      this.totals.set(key, (e = { section, kernel, calls: 0, ns: 0 }));
    }
    e.calls++;
    e.ns += Math.max(0, ns);
  }

  /**
   * Runs `fn` with the dispatches it records labelled `name` (e.g. evaluation inside a training run, so that
   * a profile can tell the training step's kernels from evaluation's). Sections nest; the label reverts when
   * `fn` settles.
   */
  async section<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.current;
    this.current = name;
    try {
      return await fn();
    } finally {
      this.current = prev;
    }
  }

  /** Totals per (section, kernel), slowest first (waits for outstanding readbacks). */
  async report(): Promise<KernelTiming[]> {
    await Promise.all(this.pending.splice(0));
    return [...this.totals.values()].map((e) => ({ section: e.section, kernel: e.kernel, calls: e.calls, ms: e.ns / 1e6 })).sort((a, b) => b.ms - a.ms);
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

/**
 * Runs `fn` inside profile section `name` when `be` is a WebGPU backend whose recorder is profiling;
 * otherwise just runs it. (Structural parameter type: callers pass any Backend.)
 */
export function profileSection<T>(be: { kind: string }, name: string, fn: () => Promise<T>): Promise<T> {
  const profiler = be.kind === 'webgpu' ? (be as unknown as { recorder: { profiler: Profiler | null } }).recorder.profiler : null;
  return profiler ? profiler.section(name, fn) : fn();
}
