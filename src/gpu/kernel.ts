/**
 * Kernels and the recorder that encodes them.
 *
 * A `Kernel` is one WGSL entry point with an explicit bind-group layout: storage bindings 0..n-1 in the
 * order of `spec.storage`, then (if the kernel has parameters) a uniform `params: Params` at binding n.
 * Pipelines are compiled once per device and per set of `override` constants, and cached.
 *
 * A `Recorder` collects the dispatches of one unit of work (a training step, an evaluation chunk) into a
 * single command encoder and submits them once. Kernel parameters go into a uniform arena that is uploaded
 * with one `writeBuffer` just before the submit. Kernels never submit by themselves.
 */
import { GpuError, IrllrecError } from '../errors.js';
import type { GpuContext } from './device.js';
import { type ParamFields, type ParamsLayout, paramsLayout, writeParams } from './layouts.js';
import { Profiler } from './profiler.js';

export type StorageAccess = 'read' | 'rw';

export interface KernelSpec<F extends ParamFields> {
  /** Name used in pipeline labels and error messages. */
  name: string;
  /** WGSL source. May use the `Params` struct, whose declaration is prepended. */
  code: string;
  entryPoint?: string;
  /** Storage bindings 0..n-1 in group 0. */
  storage: StorageAccess[];
  /** Uniform parameters at binding `storage.length`. */
  params?: F;
}

/** A bound buffer: the whole buffer or a byte range of it. */
export type BufferArg = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** Workgroups per dispatch dimension when a kernel flattens a 1-D grid over x and y. */
export function grid1d(workgroups: number, maxPerDim = 65535): [number, number, number] {
  if (workgroups <= 0) return [0, 1, 1];
  if (workgroups <= maxPerDim) return [workgroups, 1, 1];
  const y = Math.ceil(workgroups / maxPerDim);
  return [Math.ceil(workgroups / y), y, 1];
}

/**
 * WGSL helper appended to every kernel: the flat workgroup index of a 1-D grid dispatched with `grid1d`.
 * Kernels must check the result against their own row count (the grid may overshoot).
 */
const WGSL_PRELUDE = /* wgsl */ `
fn flat_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }
`;

interface DeviceCache {
  pipelines: Map<string, GPUComputePipeline>;
  layouts: Map<string, GPUBindGroupLayout>;
  /** Compilation checks not yet awaited: each resolves to an error message naming the kernel, or null. */
  compileChecks: Promise<string | null>[];
}
const caches = new WeakMap<GPUDevice, DeviceCache>();
function cacheFor(device: GPUDevice): DeviceCache {
  let c = caches.get(device);
  if (!c) {
    c = { pipelines: new Map(), layouts: new Map(), compileChecks: [] };
    caches.set(device, c);
  }
  return c;
}

let nextKernelId = 0;

function isBufferBinding(b: BufferArg): b is { buffer: GPUBuffer; offset?: number; size?: number } {
  return typeof (b as GPUBuffer).mapAsync !== 'function';
}

export class Kernel<F extends ParamFields = ParamFields> {
  readonly name: string;
  readonly params: ParamsLayout<F> | null;
  readonly storage: readonly StorageAccess[];
  private readonly code: string;
  private readonly entryPoint: string;
  private readonly id = nextKernelId++;

  constructor(spec: KernelSpec<F>) {
    this.name = spec.name;
    this.storage = spec.storage;
    this.params = spec.params ? paramsLayout(spec.params) : null;
    this.entryPoint = spec.entryPoint ?? 'main';
    this.code = `${this.params ? this.params.wgsl : ''}\n${WGSL_PRELUDE}\n${spec.code}`;
  }

  /** The bind-group layout (cached per device). */
  bindGroupLayout(device: GPUDevice): GPUBindGroupLayout {
    const cache = cacheFor(device);
    const key = `${this.storage.join(',')}|${this.params ? 'u' : ''}`;
    let layout = cache.layouts.get(key);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = this.storage.map((a, i) => ({
        binding: i,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: a === 'read' ? 'read-only-storage' : 'storage' },
      }));
      if (this.params) entries.push({ binding: this.storage.length, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
      layout = device.createBindGroupLayout({ label: `layout(${key})`, entries });
      cache.layouts.set(key, layout);
    }
    return layout;
  }

  /** The compute pipeline for these override constants (compiled once per device). */
  pipeline(device: GPUDevice, constants?: Record<string, number>): GPUComputePipeline {
    const cache = cacheFor(device);
    const ckey = constants ? JSON.stringify(Object.entries(constants).sort()) : '';
    const key = `${this.id}|${ckey}`;
    let p = cache.pipelines.get(key);
    if (!p) {
      // Compile inside an error scope so that a WGSL or layout error is reported once, with the kernel's
      // name, by the next flush/readback (see `takeCompileErrors`), instead of as console noise.
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ label: this.name, code: this.code });
      p = device.createComputePipeline({
        label: this.name,
        layout: device.createPipelineLayout({ label: this.name, bindGroupLayouts: [this.bindGroupLayout(device)] }),
        compute: { module, entryPoint: this.entryPoint, constants },
      });
      const name = this.name;
      cache.compileChecks.push(device.popErrorScope().then((e) => (e ? `kernel '${name}' failed to compile: ${e.message}` : null)));
      cache.pipelines.set(key, p);
    }
    return p;
  }

  /** The shader source as compiled (for debugging and tests). */
  get source(): string {
    return this.code;
  }
}

/** Await the compilation checks of kernels created so far on `device`; returns the first failure's message. */
export async function takeCompileErrors(device: GPUDevice): Promise<string | null> {
  const c = caches.get(device);
  if (!c || c.compileChecks.length === 0) return null;
  const results = await Promise.all(c.compileChecks.splice(0));
  return results.find((r) => r !== null) ?? null;
}

const ARENA_CHUNK = 64 * 1024;

/**
 * The most dispatches one command buffer holds (each has its own bind group and 256 bytes of uniform arena):
 * a training step records a few hundred (at MAX_LAYERS, a few thousand), so only runaway recording reaches
 * it, and is then submitted in parts — in order, with identical results — instead of exhausting the driver.
 */
export const MAX_DISPATCHES_PER_SUBMIT = 16384;

/**
 * Records dispatches into one command encoder; `submit()` sends them in one queue submission.
 * Copies (uploads, readbacks, clears) end the current compute pass and go into the same encoder, so the
 * order of operations is the order of calls.
 */
export class Recorder {
  readonly ctx: GpuContext;
  private enc: GPUCommandEncoder | null = null;
  private computePass: GPUComputePassEncoder | null = null;
  private arena: GPUBuffer[] = [];
  private arenaBytes = new ArrayBuffer(ARENA_CHUNK);
  private arenaView = new DataView(this.arenaBytes);
  private arenaUsed = 0;
  private temporaries: GPUBuffer[] = [];
  private afterSubmitCallbacks: (() => void)[] = [];
  /** Dispatches recorded since the last submit, and in total (for profiling and tests). */
  dispatchesPending = 0;
  dispatchesTotal = 0;
  submits = 0;
  /** Per-kernel timing (see `enableProfiling`); null when off. */
  profiler: Profiler | null = null;
  /** Called when a readback has completed, i.e. the work submitted before it is done (memory sampling: src/gpu/memory.ts). */
  onSettled: (() => void) | null = null;

  constructor(ctx: GpuContext) {
    this.ctx = ctx;
    ctx.onDestroy(() => this.destroy());
  }

  /**
   * Time every dispatch with timestamp queries (needs the 'timestamp-query' feature; Dawn in Node also
   * needs the 'disable_timestamp_query_conversion' toggle off for unquantised values). Each dispatch then
   * runs in its own compute pass, which adds a little overhead: use it for profiles, not for production.
   */
  enableProfiling(): Profiler {
    if (!this.ctx.features.has('timestamp-query')) {
      throw new IrllrecError('limit', 'profiling needs the timestamp-query feature, which this device lacks');
    }
    this.profiler ??= new Profiler(this.ctx.device);
    return this.profiler;
  }

  get hasPendingWork(): boolean {
    return this.enc !== null;
  }

  encoder(): GPUCommandEncoder {
    if (this.computePass) {
      this.computePass.end();
      this.computePass = null;
    }
    if (!this.enc) this.enc = this.ctx.device.createCommandEncoder({ label: 'irllrec' });
    return this.enc;
  }

  pass(): GPUComputePassEncoder {
    if (!this.computePass) {
      const enc = this.encoder();
      this.computePass = enc.beginComputePass({ label: 'irllrec' });
    }
    return this.computePass;
  }

  /** Reserve `size` bytes of uniform data; returns the byte offset inside the arena. */
  private reserveUniform(size: number): number {
    const aligned = Math.ceil(this.arenaUsed / 256) * 256;
    if (aligned + size > this.arenaBytes.byteLength) {
      const grown = new ArrayBuffer(Math.max(this.arenaBytes.byteLength * 2, aligned + size));
      new Uint8Array(grown).set(new Uint8Array(this.arenaBytes));
      this.arenaBytes = grown;
      this.arenaView = new DataView(grown);
    }
    this.arenaUsed = aligned + size;
    return aligned;
  }

  private arenaBinding(offset: number, size: number): GPUBufferBinding {
    const chunk = Math.floor(offset / ARENA_CHUNK);
    while (this.arena.length <= chunk) {
      this.arena.push(
        this.ctx.device.createBuffer({
          label: `uniform-arena-${this.arena.length}`,
          size: ARENA_CHUNK,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        }),
      );
    }
    return { buffer: this.arena[chunk], offset: offset - chunk * ARENA_CHUNK, size };
  }

  /**
   * Encode one dispatch of `kernel` with `buffers` bound in order, `params` in its uniform, over
   * `workgroups` (x, y, z). A zero-sized dispatch is skipped.
   */
  dispatch<F extends ParamFields>(
    kernel: Kernel<F>,
    buffers: readonly BufferArg[],
    params: { [K in keyof F]: number } | null,
    workgroups: readonly [number, number?, number?],
    constants?: Record<string, number>,
  ): void {
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxDim || y > maxDim || z > maxDim) {
      throw new IrllrecError('limit', `${kernel.name}: dispatch of ${x}×${y}×${z} workgroups exceeds maxComputeWorkgroupsPerDimension = ${maxDim}`);
    }
    if (buffers.length !== kernel.storage.length) {
      throw new IrllrecError('shape', `${kernel.name}: expected ${kernel.storage.length} storage buffers, got ${buffers.length}`);
    }
    const device = this.ctx.device;
    // Chunks may not straddle: place each params block wholly inside one chunk.
    const entries: GPUBindGroupEntry[] = buffers.map((b, i) => ({
      binding: i,
      resource: isBufferBinding(b) ? { buffer: b.buffer, offset: b.offset ?? 0, size: b.size } : { buffer: b },
    }));
    if (kernel.params) {
      const size = kernel.params.byteSize;
      let off = this.reserveUniform(size);
      if (Math.floor(off / ARENA_CHUNK) !== Math.floor((off + size - 1) / ARENA_CHUNK)) {
        this.arenaUsed = Math.ceil(off / ARENA_CHUNK) * ARENA_CHUNK;
        off = this.reserveUniform(size);
      }
      if (!params) throw new IrllrecError('shape', `${kernel.name}: missing kernel parameters`);
      writeParams(kernel.params, params, this.arenaView, off);
      entries.push({ binding: kernel.storage.length, resource: this.arenaBinding(off, size) });
    }
    const pipeline = kernel.pipeline(device, constants);
    const bindGroup = device.createBindGroup({ label: kernel.name, layout: kernel.bindGroupLayout(device), entries });
    let pass: GPUComputePassEncoder;
    if (this.profiler) {
      const enc = this.encoder();
      pass = enc.beginComputePass({ label: kernel.name, timestampWrites: this.profiler.next(kernel.name) });
      this.computePass = pass;
    } else pass = this.pass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.profiler) this.encoder(); // end the dispatch's own pass
    this.dispatchesPending++;
    this.dispatchesTotal++;
    // Bounded command buffers: work that records without end (a loop driven by input) is submitted in parts,
    // in order, instead of growing one command buffer, its bind groups and the uniform arena without limit.
    if (this.dispatchesPending >= MAX_DISPATCHES_PER_SUBMIT) this.submit();
  }

  /** A buffer that lives until the current recording has been submitted (e.g. an upload's staging). */
  temporary(buffer: GPUBuffer): GPUBuffer {
    this.temporaries.push(buffer);
    return buffer;
  }

  /** Run `cb` after the next submit (deferred buffer release). */
  afterSubmit(cb: () => void): void {
    this.afterSubmitCallbacks.push(cb);
  }

  /** Submit everything recorded so far (no-op when nothing was recorded). */
  submit(): void {
    this.ctx.check('submit');
    if (!this.enc) return;
    if (this.computePass) {
      this.computePass.end();
      this.computePass = null;
    }
    const afterProfile = this.profiler?.beforeSubmit(this.enc) ?? null;
    const cmd = this.enc.finish();
    this.enc = null;
    const queue = this.ctx.device.queue;
    for (let c = 0; c * ARENA_CHUNK < this.arenaUsed; c++) {
      this.arenaBinding(c * ARENA_CHUNK, 16); // ensure the chunk exists
      const len = Math.min(ARENA_CHUNK, this.arenaUsed - c * ARENA_CHUNK);
      queue.writeBuffer(this.arena[c], 0, this.arenaBytes, c * ARENA_CHUNK, Math.ceil(len / 4) * 4);
    }
    queue.submit([cmd]);
    afterProfile?.();
    this.submits++;
    this.arenaUsed = 0;
    this.dispatchesPending = 0;
    const temps = this.temporaries.splice(0);
    for (const t of temps) t.destroy(); // destroy() after submit waits for the GPU to finish with it
    for (const cb of this.afterSubmitCallbacks.splice(0)) cb();
  }

  /** Submit and wait until the GPU has finished everything submitted so far. */
  async flush(): Promise<void> {
    this.submit();
    await this.ctx.device.queue.onSubmittedWorkDone();
    await this.checkCompiled('flush');
    this.ctx.check('flush');
  }

  /** Throw a `GpuError` naming the kernel if a pipeline created so far failed to compile. */
  async checkCompiled(where: string): Promise<void> {
    const msg = await takeCompileErrors(this.ctx.device);
    if (msg) {
      this.ctx.discardPendingError(); // the failed pipeline's consequences (invalid command buffer)
      throw new GpuError(`${where}: ${msg}`);
    }
  }

  destroy(): void {
    if (this.computePass) this.computePass.end();
    this.computePass = null;
    this.enc = null;
    for (const b of this.arena) b.destroy();
    this.profiler?.destroy();
    this.profiler = null;
    for (const t of this.temporaries) t.destroy();
    this.arena = [];
    this.temporaries = [];
  }
}
