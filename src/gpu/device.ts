/**
 * GPU device acquisition and health.
 *
 * A `GpuContext` owns (or borrows) one `GPUDevice`, knows the limits that were actually negotiated, turns
 * uncaptured validation / out-of-memory errors into exceptions raised at the next call, and turns
 * `device.lost` into a `DeviceLostError` on the next call. It imports nothing of ours but the errors, and
 * no Node module: the Node device comes from the `node` entry, which passes its `GPU` object in here.
 */
import { DeviceLostError, GpuError, IrllrecError } from '../errors.js';

/** The limits irllrec depends on, as granted to the device (not the WebGPU defaults). */
export interface DeviceLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
  minStorageBufferOffsetAlignment: number;
  minUniformBufferOffsetAlignment: number;
  maxUniformBufferBindingSize: number;
}

const LIMIT_NAMES: (keyof DeviceLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'minStorageBufferOffsetAlignment',
  'minUniformBufferOffsetAlignment',
  'maxUniformBufferBindingSize',
];

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A short human name: description, else vendor/architecture. */
  name: string;
  /** True for CPU emulators such as lavapipe / SwiftShader. */
  isSoftware: boolean;
}

export interface GpuContextOptions {
  /** Use this device instead of acquiring one (it is not destroyed by `destroy()`). */
  device?: GPUDevice;
  /** Adapter to request a device from (ignored with `device`). */
  adapter?: GPUAdapter;
  /** The `GPU` entry point: `navigator.gpu` in browsers, Dawn's `create([])` in Node. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /**
   * Cap on maxStorageBufferBindingSize / maxBufferSize to request (bytes). For tests of limit handling;
   * by default the adapter's full limits are requested.
   */
  limitOverrides?: Partial<Pick<DeviceLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>>;
  /** Also request 'shader-f16' / 'timestamp-query' when the adapter has them (default true). */
  optionalFeatures?: boolean;
  label?: string;
  /**
   * Pace long waits for the GPU (see `GpuContext.waitFor`). Default: on under Node, whose WebGPU (Dawn's
   * binding) polls on the main thread while a wait is pending; off in browsers, whose waits cost no CPU.
   */
  pacedWaits?: boolean;
}

/**
 * Paces waits for GPU work. Dawn's Node binding polls with `setImmediate` for as long as a `mapAsync` or
 * `onSubmittedWorkDone` is pending, which keeps a CPU core busy for the whole wait: CPU a training job does not
 * need, and on a software adapter (lavapipe) a core taken from the adapter's own threads. So a wait first sleeps
 * for `fraction` of the shortest of the last three waits at the same site (same kind of work) when that was at
 * least `minMs`, and only then starts. The estimate settles between the work's time and 1/fraction of it, follows
 * work that got shorter at once, and ignores a single long outlier (a suspended process, a stalled queue). Only
 * timing changes, never results.
 */
export class WaitPacer {
  private readonly recent = new Map<string, number[]>();
  constructor(
    private readonly opts: { fraction?: number; minMs?: number; now?: () => number; sleep?: (ms: number) => Promise<void> } = {},
  ) {}

  async wait<T>(site: string, start: () => Promise<T>): Promise<T> {
    const now = this.opts.now ?? (() => performance.now());
    const t0 = now();
    const recent = this.recent.get(site) ?? [];
    const estimate = recent.length ? Math.min(...recent) : 0;
    if (estimate >= (this.opts.minMs ?? 2)) await (this.opts.sleep ?? ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms))))(estimate * (this.opts.fraction ?? 0.85));
    const out = await start();
    if (this.recent.size >= 256 && !this.recent.has(site)) this.recent.clear();
    this.recent.set(site, [...recent.slice(-2), now() - t0]);
    return out;
  }
}

const runsUnderNode = (): boolean => typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';

export function describeAdapter(info: GPUAdapterInfo | undefined): AdapterDescription {
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const device = info?.device ?? '';
  const description = info?.description ?? '';
  const name = description || [vendor, architecture, device].filter(Boolean).join(' ') || 'unknown adapter';
  const isSoftware = /llvmpipe|lavapipe|swiftshader|software|cpu/i.test(`${name} ${vendor} ${architecture}`);
  return { vendor, architecture, device, description, name, isSoftware };
}

/** One GPU device with its negotiated limits, error capture and loss tracking. */
export class GpuContext {
  readonly device: GPUDevice;
  readonly limits: DeviceLimits;
  readonly adapter: AdapterDescription;
  readonly features: ReadonlySet<string>;
  private readonly owned: boolean;
  private lostInfo: { reason: string; message: string } | null = null;
  /** Resolves once `device.lost` has resolved and been recorded. */
  private readonly lostSettled: Promise<void>;
  private pendingError: GpuError | null = null;
  private destroyed = false;
  private readonly destroyCallbacks: (() => void)[] = [];
  /** Paces waits under Node (see `WaitPacer`); null: every wait starts at once. */
  private readonly pacer: WaitPacer | null;

  private constructor(device: GPUDevice, adapter: AdapterDescription, owned: boolean, pacedWaits = runsUnderNode()) {
    this.device = device;
    this.pacer = pacedWaits ? new WaitPacer() : null;
    this.adapter = adapter;
    this.owned = owned;
    const lim: Partial<DeviceLimits> = {};
    for (const k of LIMIT_NAMES) lim[k] = Number((device.limits as unknown as Record<string, number>)[k]);
    this.limits = lim as DeviceLimits;
    this.features = new Set([...device.features] as string[]);
    this.lostSettled = device.lost.then((info) => {
      this.lostInfo = { reason: info.reason, message: info.message };
    });
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      // Keep the first one: later errors are usually consequences of it.
      if (!this.pendingError) this.pendingError = toGpuError(ev.error, 'uncaptured');
    };
  }

  /** Wrap a device the caller already has (a web app's, or a test's). */
  static fromDevice(device: GPUDevice, adapterInfo?: GPUAdapterInfo, opts: Pick<GpuContextOptions, 'pacedWaits'> = {}): GpuContext {
    return new GpuContext(device, describeAdapter(adapterInfo ?? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo), false, opts.pacedWaits);
  }

  /**
   * Acquire an adapter and a device with the adapter's real limits (the WebGPU defaults cap storage
   * bindings at 128 MiB, less than some catalogues need).
   */
  static async create(opts: GpuContextOptions = {}): Promise<GpuContext> {
    if (opts.device) return GpuContext.fromDevice(opts.device, undefined, opts);
    let adapter = opts.adapter ?? null;
    if (!adapter) {
      const gpu = opts.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
      if (!gpu) {
        throw new IrllrecError('no-adapter', 'WebGPU is not available here (no navigator.gpu); in Node use the irllrec/node entry');
      }
      adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
      if (!adapter) throw new IrllrecError('no-adapter', 'WebGPU is present but no adapter was found (no GPU driver, or WebGPU is disabled)');
    }
    const al = adapter.limits as unknown as Record<string, number>;
    const requiredLimits: Record<string, number> = {};
    for (const k of LIMIT_NAMES) {
      if (k.startsWith('min')) continue; // alignments: keep defaults
      requiredLimits[k] = Number(al[k]);
    }
    const ov = opts.limitOverrides ?? {};
    if (ov.maxStorageBufferBindingSize !== undefined) {
      requiredLimits.maxStorageBufferBindingSize = Math.min(requiredLimits.maxStorageBufferBindingSize, ov.maxStorageBufferBindingSize);
    }
    if (ov.maxBufferSize !== undefined) {
      requiredLimits.maxBufferSize = Math.min(requiredLimits.maxBufferSize, ov.maxBufferSize);
    }
    const requiredFeatures: GPUFeatureName[] = [];
    if (opts.optionalFeatures !== false) {
      for (const f of ['shader-f16', 'timestamp-query'] as GPUFeatureName[]) if (adapter.features.has(f)) requiredFeatures.push(f);
    }
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: opts.label ?? 'irllrec' });
    const ctx = new GpuContext(device, describeAdapter(adapter.info), true, opts.pacedWaits);
    // WebGPU never grants less than its defaults, so a cap below them is enforced by irllrec itself.
    if (ov.maxStorageBufferBindingSize !== undefined) ctx.limits.maxStorageBufferBindingSize = Math.min(ctx.limits.maxStorageBufferBindingSize, ov.maxStorageBufferBindingSize);
    if (ov.maxBufferSize !== undefined) ctx.limits.maxBufferSize = Math.min(ctx.limits.maxBufferSize, ov.maxBufferSize);
    return ctx;
  }

  /** Whether the device is usable. */
  get alive(): boolean {
    return !this.lostInfo && !this.destroyed;
  }

  /** Waits for work just submitted: `start()` begins the wait, `site` names it (see `WaitPacer`). */
  waitFor<T>(site: string, start: () => Promise<T>): Promise<T> {
    return this.pacer ? this.pacer.wait(site, start) : start();
  }

  /**
   * Waits up to `ms` for `device.lost` to resolve. A failed operation can come back before the loss is
   * reported (Chromium rejects a pending `mapAsync` with an AbortError first): waiting briefly lets `check`
   * tell a lost device from other failures.
   */
  async settleLoss(ms = 100): Promise<void> {
    if (this.lostInfo) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.lostSettled, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /** Throws a `DeviceLostError` if the device was lost, or the first uncaptured GPU error since the last check. */
  check(where = 'gpu'): void {
    if (this.destroyed) throw new IrllrecError('disposed', `${where}: the GPU context was destroyed`);
    if (this.lostInfo) {
      throw new DeviceLostError(`${where}: the GPU device was lost (${this.lostInfo.reason}${this.lostInfo.message ? `: ${this.lostInfo.message}` : ''})`);
    }
    const e = this.pendingError;
    if (e) {
      this.pendingError = null;
      throw new GpuError(`${where}: ${e.message}`, { cause: e });
    }
  }

  /**
   * Run `fn` inside validation and out-of-memory error scopes and throw what they caught, labelled with
   * `what`. For allocation and one-off work; per-dispatch scopes would be too slow on the hot path.
   */
  async scoped<T>(what: string, fn: () => T): Promise<T> {
    this.check(what);
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let result: T;
    try {
      result = fn();
    } finally {
      const validation = await this.device.popErrorScope();
      const oom = await this.device.popErrorScope();
      const err = validation ?? oom;
      if (err) throw toGpuError(err, what);
    }
    return result;
  }

  /** Drop a pending uncaptured error (used when a more precise error about its cause was already raised). */
  discardPendingError(): void {
    this.pendingError = null;
  }

  /** Called once when the context is destroyed (pools and caches register here). */
  onDestroy(cb: () => void): void {
    this.destroyCallbacks.push(cb);
  }

  /** Release everything registered with this context; destroys the device if this context created it. */
  destroy(): void {
    if (this.destroyed) return;
    for (const cb of this.destroyCallbacks.splice(0)) cb();
    this.destroyed = true;
    if (this.owned) this.device.destroy();
  }
}

function toGpuError(err: GPUError, where: string): GpuError {
  const isOom = (typeof GPUOutOfMemoryError !== 'undefined' && err instanceof GPUOutOfMemoryError) || err.constructor?.name === 'GPUOutOfMemoryError';
  const kind = isOom ? 'out of GPU memory' : 'WebGPU error';
  return new GpuError(`${where}: ${kind}: ${err.message}`);
}
