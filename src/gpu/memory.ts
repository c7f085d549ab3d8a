/**
 * Where the memory goes: a report of the bytes by role at the process's peak (`irllrec train
 * --profile-memory`, bench/train.ts --profile-memory).
 *
 * Device buffers are attributed by the pool label of their current use (src/gpu/pool.ts): text tables,
 * parameters, Adam moments, the EMA teacher, gradients, each text tower's activations, evaluation blocks,
 * the other temporaries of a step, fit's best-so-far snapshot, the graph; buffers the pool keeps for reuse
 * are 'pooled (free)'. Host memory is what JavaScript holds in ArrayBuffers (text tables read from files,
 * the dataset) and the JS heap; 'runtime' is the rest of the resident set: Node, Dawn, the driver, code.
 *
 * The resident set is sampled whenever a readback completes (the work before it is done, so the pages it
 * touched are resident), on a timer while the event loop waits (`watch`), and at the points a caller names;
 * the report is the sample with the largest RSS, next to the process's high-water mark (which may fall
 * between samples, e.g. inside synchronous work such as parsing a file or recording a step).
 */
import type { BufferPool } from './pool.js';

export const MEMORY_ROLES = [
  'text tables',
  'parameters',
  'Adam moments',
  'teacher',
  'gradients',
  'profile tower activations',
  'intent tower activations',
  'teacher tower activations',
  'step temporaries',
  'evaluation blocks',
  'snapshot (best epoch)',
  'graph',
  'pooled (free)',
  'host arrays (JS)',
  'JS heap',
  'runtime',
] as const;
export type MemoryRole = (typeof MEMORY_ROLES)[number];

const PARAMETER = /^(E0|user_intent|item_intent|(int_)?mlp\.[02]\.(weight|bias))$/;

/** The role of a device buffer by its pool label. */
export function memoryRole(label: string): MemoryRole {
  if (label.startsWith('text.')) return 'text tables';
  if (label.startsWith('grad.')) return 'gradients';
  if (label.startsWith('adam.')) return 'Adam moments';
  if (label.startsWith('int_mlp_m.')) return 'teacher';
  if (label.startsWith('snapshot.')) return 'snapshot (best epoch)';
  if (label.startsWith('graph.')) return 'graph';
  if (PARAMETER.test(label)) return 'parameters';
  if (label.startsWith('profile.')) return 'profile tower activations';
  if (label.startsWith('intent.')) return 'intent tower activations';
  if (label.startsWith('teacher.')) return 'teacher tower activations';
  if (label.startsWith('eval.') || label.startsWith('scoreTopKAuto.') || label === 'E_a' || label === 'E_b') return 'evaluation blocks';
  return 'step temporaries';
}

export interface MemorySample {
  /** Where it was taken ('readback' or a caller's name for the moment). */
  where: string;
  /** Resident set size (bytes). */
  rss: number;
  /** Bytes by role (every role present, 0 when none); they add up to `rss` on a software adapter. */
  roles: Record<MemoryRole, number>;
  /** Device bytes by pool label (live buffers only), largest first. */
  labels: [string, number][];
}

export interface MemoryReport {
  /** The sample with the largest RSS. */
  peak: MemorySample;
  /** The process's RSS high-water mark (bytes), when the host reports it. */
  highWaterMark: number | null;
  samples: number;
  /** Whether device buffers live in host memory (a software adapter: they are part of the RSS). */
  deviceInRss: boolean;
}

export interface HostMemory {
  /** Current resident set (bytes). */
  rss(): number;
  /** Peak resident set so far (bytes), if known. */
  highWaterMark?(): number;
  /** Bytes of ArrayBuffers held by JavaScript and of the JS heap. */
  arrayBuffers(): number;
  heap(): number;
}

/** Samples RSS and the pool's live buffers by role; `report()` gives the peak sample. */
export class MemoryProfiler {
  private best: MemorySample | null = null;
  private count = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly pool: BufferPool,
    private readonly host: HostMemory,
    /** Device buffers are host memory (lavapipe, SwiftShader): they count inside the RSS. */
    private readonly deviceInRss: boolean,
  ) {}

  sample(where = 'readback'): void {
    this.count++;
    const rss = this.host.rss();
    if (this.best && rss <= this.best.rss) return;
    const roles = Object.fromEntries(MEMORY_ROLES.map((r) => [r, 0])) as Record<MemoryRole, number>;
    const labels = [...this.pool.liveBytesByLabel()].sort((a, b) => b[1] - a[1]);
    let device = 0;
    for (const [label, bytes] of labels) {
      roles[memoryRole(label)] += bytes;
      device += bytes;
    }
    roles['pooled (free)'] = this.pool.stats.pooledBytes;
    device += roles['pooled (free)'];
    roles['host arrays (JS)'] = this.host.arrayBuffers();
    roles['JS heap'] = this.host.heap();
    roles.runtime = rss - roles['host arrays (JS)'] - roles['JS heap'] - (this.deviceInRss ? device : 0);
    this.best = { where, rss, roles, labels };
  }

  /** Also sample every `ms` milliseconds while the event loop is free (GPU work awaited), until `report()`. */
  watch(ms: number): this {
    this.timer ??= setInterval(() => this.sample('timer'), ms);
    (this.timer as { unref?: () => void }).unref?.();
    return this;
  }

  report(): MemoryReport {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.best) this.sample('report');
    return { peak: this.best!, highWaterMark: this.host.highWaterMark?.() ?? null, samples: this.count, deviceInRss: this.deviceInRss };
  }
}

const MIB = 1024 * 1024;

/** The report as a text table (MiB). */
export function memoryTable(r: MemoryReport): string {
  const mib = (b: number) => (b / MIB).toFixed(1).padStart(9);
  let s = `\nMemory at the peak sample (${r.peak.where}; ${r.samples} samples), MiB:\n`;
  for (const role of MEMORY_ROLES) if (r.peak.roles[role] !== 0) s += `  ${role.padEnd(28)}${mib(r.peak.roles[role])}\n`;
  s += `  ${'resident set (RSS)'.padEnd(28)}${mib(r.peak.rss)}\n`;
  if (r.highWaterMark !== null) s += `  ${'RSS high-water mark'.padEnd(28)}${mib(r.highWaterMark)}\n`;
  if (!r.deviceInRss) s += '  (a hardware adapter: device roles are GPU memory, outside the RSS)\n';
  s += `Largest device buffers: ${r.peak.labels.slice(0, 8).map(([l, b]) => `${l} ${(b / MIB).toFixed(1)}`).join(', ')}\n`;
  return s;
}
