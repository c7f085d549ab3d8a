/**
 * Tensors and backends.
 *
 * A `Tensor` is a dense row-major array with a shape and a dtype, stored either in a typed array (CPU
 * backend) or in a GPU storage buffer (WebGPU backend). Ops (`src/ops/*.ts`) take a backend and tensors
 * and either run their CPU twin on the typed arrays or record their WGSL kernel; both have the same
 * signature, so model code runs unchanged on either backend.
 *
 * The CPU backend can store float tensors in float64 (`precision: 'f64'`): that is how gradients are
 * checked by finite differences.
 */
import { IrllrecError, shapeError } from '../errors.js';
import { GpuContext } from '../gpu/device.js';
import { Recorder } from '../gpu/kernel.js';
import { BufferPool, type PoolStats } from '../gpu/pool.js';
import { readBuffer, readBuffers } from '../gpu/readback.js';

export type DType = 'f32' | 'u32' | 'i32';
export type FloatArray = Float32Array | Float64Array;
export type CpuArray = Float32Array | Float64Array | Uint32Array | Int32Array;
export type BackendKind = 'webgpu' | 'cpu';

let nextTensorId = 0;

export class Tensor {
  readonly id = nextTensorId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  readonly label: string;
  readonly backend: Backend;
  /** CPU storage (CPU backend only). */
  private _data: CpuArray | null;
  /** GPU storage (WebGPU backend only); may be larger than `byteLength` (pooled). */
  private _buffer: GPUBuffer | null;
  private disposed = false;

  constructor(backend: Backend, shape: readonly number[], dtype: DType, label: string, data: CpuArray | null, buffer: GPUBuffer | null) {
    this.backend = backend;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = shape.reduce((a, b) => a * b, 1);
    this.label = label;
    this._data = data;
    this._buffer = buffer;
  }

  /** Rows of a 2-D tensor (the first dimension). */
  get rows(): number {
    return this.shape[0] ?? 1;
  }
  /** Columns of a 2-D tensor (the product of the remaining dimensions). */
  get cols(): number {
    return this.shape.length <= 1 ? 1 : this.size / this.shape[0];
  }
  get byteLength(): number {
    return this.size * 4;
  }
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** The typed array of a CPU tensor. */
  get data(): CpuArray {
    if (this.disposed) throw new IrllrecError('disposed', `tensor '${this.label}' was disposed`);
    if (!this._data) throw new IrllrecError('range', `tensor '${this.label}' lives on the GPU; use backend.read()`);
    return this._data;
  }
  /** The float array of a CPU float tensor. */
  get f(): FloatArray {
    return this.data as FloatArray;
  }
  /** The index array of a CPU u32 / i32 tensor. */
  get u(): Uint32Array {
    return this.data as Uint32Array;
  }
  /** The GPU buffer of a WebGPU tensor. */
  get buffer(): GPUBuffer {
    if (this.disposed) throw new IrllrecError('disposed', `tensor '${this.label}' was disposed`);
    if (!this._buffer) throw new IrllrecError('range', `tensor '${this.label}' lives on the CPU`);
    return this._buffer;
  }

  /** Release the storage (GPU buffers return to the pool). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.backend.release(this);
    this.disposed = true;
    this._data = null;
    this._buffer = null;
  }
}

export interface Backend {
  readonly kind: BackendKind;
  /** Human-readable: the adapter's name, or 'cpu (f64)'. */
  readonly name: string;
  /** Float storage precision (always 'f32' on WebGPU). */
  readonly precision: 'f32' | 'f64';
  /** A tensor holding a copy of `data`. */
  tensor(data: ArrayLike<number>, shape: readonly number[], dtype?: DType, label?: string): Tensor;
  /** A zero-filled tensor. */
  zeros(shape: readonly number[], dtype?: DType, label?: string): Tensor;
  /** Copy `data` into an existing tensor (same element count). */
  write(t: Tensor, data: ArrayLike<number>): void;
  /** Copy `data` into elements `offset .. offset + data.length` of a tensor (e.g. a block of rows). */
  writeRange(t: Tensor, offset: number, data: ArrayLike<number>): void;
  /**
   * A tensor holding `parts` one after the other (their lengths must add up to its size), written as they
   * come: a large table made block by block without a host copy of the whole (GPU: written straight into
   * the new buffer's mapping, no staging memory).
   */
  tensorFrom(shape: readonly number[], dtype: DType, label: string, parts: Iterable<ArrayLike<number>>): Tensor;
  /** Read a tensor back (GPU: submits pending work first). */
  read(t: Tensor): Promise<CpuArray>;
  /** Read `count` elements from element `offset`. */
  readRange(t: Tensor, offset: number, count: number): Promise<CpuArray>;
  /** Read several tensors back together (GPU: one submit and one staging map for all of them). */
  readAll(ts: readonly Tensor[]): Promise<CpuArray[]>;
  /** dst ← src (same element count). */
  copy(src: Tensor, dst: Tensor): void;
  /** dst[dstOffset .. +count] ← src[srcOffset .. +count] (element offsets; e.g. a block of rows). */
  copyRange(src: Tensor, srcOffset: number, dst: Tensor, dstOffset: number, count: number): void;
  /** Set every element to zero. */
  zero(t: Tensor): void;
  /** Submit recorded work (GPU); no-op on the CPU. */
  submit(): void;

  /** Submit and wait for the GPU to finish. */
  flush(): Promise<void>;
  /** Called by `Tensor.dispose`. */
  release(t: Tensor): void;
  /** Release every resource; the backend is unusable afterwards. */
  destroy(): void;
}

/** Bytes of one staging piece of a GPU upload (see `WebGpuBackend.writeRange`). */
export const UPLOAD_CHUNK_BYTES = 16 * 1024 * 1024;

type TypedArray = Float32Array | Float64Array | Uint32Array | Int32Array | Uint8Array | Uint16Array | Int16Array | Int8Array;
function isArray(data: ArrayLike<number>): data is TypedArray {
  return ArrayBuffer.isView(data);
}

function checkWriteRange(t: Tensor, offset: number, count: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + count > t.size) {
    throw new IrllrecError('range', `writeRange(${t.label}): ${count} values at element ${offset} do not fit its ${t.size} elements`);
  }
}

function checkShape(shape: readonly number[], where: string): void {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw shapeError(where, `invalid shape [${shape.join(', ')}]`);
  }
}

function checkRange(src: Tensor, srcOffset: number, dst: Tensor, dstOffset: number, count: number): void {
  const bad = (o: number) => !Number.isInteger(o) || o < 0;
  if (bad(srcOffset) || bad(dstOffset) || bad(count) || srcOffset + count > src.size || dstOffset + count > dst.size) {
    throw new IrllrecError('range', `copyRange(${src.label}[${srcOffset}..+${count}] → ${dst.label}[${dstOffset}..]): outside ${src.size} / ${dst.size} elements`);
  }
  if (src === dst) throw new IrllrecError('range', `copyRange(${src.label}): source and destination must differ`);
}

function checkLength(where: string, got: number, want: number): void {
  if (got !== want) throw shapeError(where, `got ${got} values for ${want} elements`);
}

export class CpuBackend implements Backend {
  readonly kind = 'cpu' as const;
  readonly precision: 'f32' | 'f64';
  readonly name: string;
  private destroyed = false;

  constructor(opts: { precision?: 'f32' | 'f64' } = {}) {
    this.precision = opts.precision ?? 'f32';
    this.name = `cpu (${this.precision})`;
  }

  private alloc(n: number, dtype: DType): CpuArray {
    if (this.destroyed) throw new IrllrecError('disposed', 'the CPU backend was destroyed');
    switch (dtype) {
      case 'f32':
        return this.precision === 'f64' ? new Float64Array(n) : new Float32Array(n);
      case 'u32':
        return new Uint32Array(n);
      case 'i32':
        return new Int32Array(n);
    }
  }

  tensor(data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
    checkShape(shape, label);
    const t = this.zeros(shape, dtype, label);
    checkLength(label, data.length, t.size);
    (t.data as Float64Array).set(data as ArrayLike<number>);
    return t;
  }

  zeros(shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
    checkShape(shape, label);
    const n = shape.reduce((a, b) => a * b, 1);
    return new Tensor(this, shape, dtype, label, this.alloc(n, dtype), null);
  }

  write(t: Tensor, data: ArrayLike<number>): void {
    checkLength(`write(${t.label})`, data.length, t.size);
    this.writeRange(t, 0, data);
  }

  writeRange(t: Tensor, offset: number, data: ArrayLike<number>): void {
    checkWriteRange(t, offset, data.length);
    (t.data as Float64Array).set(data as ArrayLike<number>, offset);
  }

  tensorFrom(shape: readonly number[], dtype: DType, label: string, parts: Iterable<ArrayLike<number>>): Tensor {
    const t = this.zeros(shape, dtype, label);
    let at = 0;
    for (const part of parts) {
      this.writeRange(t, at, part);
      at += part.length;
    }
    checkLength(label, at, t.size);
    return t;
  }

  async read(t: Tensor): Promise<CpuArray> {
    return t.data.slice();
  }

  async readAll(ts: readonly Tensor[]): Promise<CpuArray[]> {
    return Promise.all(ts.map((t) => this.read(t)));
  }

  async readRange(t: Tensor, offset: number, count: number): Promise<CpuArray> {
    if (offset < 0 || count < 0 || offset + count > t.size) throw new IrllrecError('range', `readRange(${t.label}): ${offset}+${count} is outside ${t.size} elements`);
    return t.data.slice(offset, offset + count);
  }

  copy(src: Tensor, dst: Tensor): void {
    checkLength(`copy(${src.label} → ${dst.label})`, src.size, dst.size);
    (dst.data as Float64Array).set(src.data as Float64Array);
  }

  copyRange(src: Tensor, srcOffset: number, dst: Tensor, dstOffset: number, count: number): void {
    checkRange(src, srcOffset, dst, dstOffset, count);
    (dst.data as Float64Array).set((src.data as Float64Array).subarray(srcOffset, srcOffset + count), dstOffset);
  }

  zero(t: Tensor): void {
    t.data.fill(0);
  }

  submit(): void {}
  async flush(): Promise<void> {}
  release(): void {}
  destroy(): void {
    this.destroyed = true;
  }
}

export class WebGpuBackend implements Backend {
  readonly kind = 'webgpu' as const;
  readonly precision = 'f32' as const;
  readonly ctx: GpuContext;
  readonly recorder: Recorder;
  readonly pool: BufferPool;
  private readonly ownsContext: boolean;
  private liveTensors = 0;

  constructor(ctx: GpuContext, opts: { ownsContext?: boolean } = {}) {
    this.ctx = ctx;
    this.recorder = new Recorder(ctx);
    this.pool = new BufferPool(ctx);
    this.ownsContext = opts.ownsContext ?? false;
  }

  /** Acquire a device (see `GpuContext.create`) and wrap it. */
  static async create(opts: Parameters<typeof GpuContext.create>[0] = {}): Promise<WebGpuBackend> {
    const ctx = await GpuContext.create(opts);
    return new WebGpuBackend(ctx, { ownsContext: !opts.device });
  }

  get name(): string {
    return this.ctx.adapter.name;
  }
  get device(): GPUDevice {
    return this.ctx.device;
  }
  /** Tensors created and not yet disposed. */
  get liveTensorCount(): number {
    return this.liveTensors;
  }
  get poolStats(): PoolStats {
    return this.pool.stats;
  }

  private newTensor(shape: readonly number[], dtype: DType, label: string): Tensor {
    checkShape(shape, label);
    const n = shape.reduce((a, b) => a * b, 1);
    // Zero-sized tensors still get a minimal buffer so they can be bound.
    const buf = this.pool.acquire(Math.max(4, n * 4), label);
    this.liveTensors++;
    return new Tensor(this, shape, dtype, label, null, buf);
  }

  tensor(data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
    const t = this.newTensor(shape, dtype, label);
    checkLength(label, data.length, t.size);
    this.write(t, data);
    return t;
  }

  zeros(shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
    const t = this.newTensor(shape, dtype, label);
    this.zero(t);
    return t;
  }

  write(t: Tensor, data: ArrayLike<number>): void {
    checkLength(`write(${t.label})`, data.length, t.size);
    this.writeRange(t, 0, data);
  }

  writeRange(t: Tensor, offset: number, data: ArrayLike<number>): void {
    checkWriteRange(t, offset, data.length);
    // Staging buffers written at creation and copied inside the encoder: ordered with recorded dispatches
    // (a queue.writeBuffer would land before work recorded earlier but not yet submitted). A staging buffer
    // lives until its recording is submitted, and Dawn frees it only once it next ticks (a readback, a
    // flush); so a large upload goes in pieces of UPLOAD_CHUNK_BYTES, each submitted at once, which lets the
    // staging go as soon as Dawn can instead of at the next training step. (Large constant tables avoid the
    // staging altogether: `tensorFrom`.)
    const perChunk = UPLOAD_CHUNK_BYTES / 4;
    for (let k = 0; k < data.length; k += perChunk) {
      const count = Math.min(perChunk, data.length - k);
      if (k > 0) this.recorder.submit();
      const staging = this.recorder.temporary(
        this.ctx.device.createBuffer({ label: `upload(${t.label})`, size: count * 4, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true }),
      );
      const range = staging.getMappedRange();
      const view = t.dtype === 'f32' ? new Float32Array(range) : t.dtype === 'u32' ? new Uint32Array(range) : new Int32Array(range);
      view.set(isArray(data) ? data.subarray(k, k + count) : Array.prototype.slice.call(data, k, k + count));
      staging.unmap();
      this.recorder.encoder().copyBufferToBuffer(staging, 0, t.buffer, 4 * (offset + k), count * 4);
    }
    if (data.length > perChunk) this.recorder.submit();
  }

  tensorFrom(shape: readonly number[], dtype: DType, label: string, parts: Iterable<ArrayLike<number>>): Tensor {
    checkShape(shape, label);
    const n = shape.reduce((a, b) => a * b, 1);
    const buf = this.pool.acquireMapped(n * 4, label);
    const t = new Tensor(this, shape, dtype, label, null, buf);
    this.liveTensors++;
    try {
      const range = buf.getMappedRange();
      const view = dtype === 'f32' ? new Float32Array(range) : dtype === 'u32' ? new Uint32Array(range) : new Int32Array(range);
      let at = 0;
      for (const part of parts) {
        if (at + part.length > n) throw new IrllrecError('shape', `${label}: the parts hold more than its ${n} elements`);
        view.set(isArray(part) ? part : Array.from(part), at);
        at += part.length;
      }
      checkLength(label, at, n);
    } catch (e) {
      buf.unmap();
      t.dispose();
      throw e;
    }
    buf.unmap();
    return t;
  }

  async read(t: Tensor): Promise<CpuArray> {
    return this.readRange(t, 0, t.size);
  }

  async readAll(ts: readonly Tensor[]): Promise<CpuArray[]> {
    for (const t of ts) if (t.isDisposed) throw new IrllrecError('disposed', `readAll: tensor '${t.label}' was disposed`);
    // One staging buffer per group of tensors that fits the device's maxBufferSize (usually a single group).
    const limit = this.ctx.limits.maxBufferSize;
    const out: CpuArray[] = [];
    for (let i = 0; i < ts.length; ) {
      let j = i;
      let bytes = 0;
      while (j < ts.length && (j === i || bytes + ts[j].size * 4 <= limit)) bytes += ts[j++].size * 4;
      const group = ts.slice(i, j);
      const parts = await readBuffers(
        this.recorder,
        group.map((t) => ({ buffer: t.buffer, byteOffset: 0, byteLength: t.size * 4 })),
      );
      parts.forEach((b, k) => out.push(group[k].dtype === 'f32' ? new Float32Array(b) : group[k].dtype === 'u32' ? new Uint32Array(b) : new Int32Array(b)));
      i = j;
    }
    return out;
  }

  async readRange(t: Tensor, offset: number, count: number): Promise<CpuArray> {
    if (offset < 0 || count < 0 || offset + count > t.size) throw new IrllrecError('range', `readRange(${t.label}): ${offset}+${count} is outside ${t.size} elements`);
    const bytes = await readBuffer(this.recorder, t.buffer, offset * 4, count * 4);
    return t.dtype === 'f32' ? new Float32Array(bytes) : t.dtype === 'u32' ? new Uint32Array(bytes) : new Int32Array(bytes);
  }

  copy(src: Tensor, dst: Tensor): void {
    checkLength(`copy(${src.label} → ${dst.label})`, src.size, dst.size);
    if (src.size === 0) return;
    this.recorder.encoder().copyBufferToBuffer(src.buffer, 0, dst.buffer, 0, src.byteLength);
  }

  copyRange(src: Tensor, srcOffset: number, dst: Tensor, dstOffset: number, count: number): void {
    checkRange(src, srcOffset, dst, dstOffset, count);
    if (count === 0) return;
    this.recorder.encoder().copyBufferToBuffer(src.buffer, srcOffset * 4, dst.buffer, dstOffset * 4, count * 4);
  }

  zero(t: Tensor): void {
    if (t.size === 0) return;
    this.recorder.encoder().clearBuffer(t.buffer, 0, Math.ceil(t.byteLength / 4) * 4);
  }

  submit(): void {
    this.recorder.submit();
  }

  async flush(): Promise<void> {
    await this.recorder.flush();
  }

  release(t: Tensor): void {
    this.liveTensors--;
    this.pool.release(t.buffer);
  }

  destroy(): void {
    this.recorder.destroy();
    this.pool.destroy();
    if (this.ownsContext) this.ctx.destroy();
  }
}

// ----------------------------------------------------------------------------------------------------
// Argument checks shared by the ops. Each names the op and the argument.

export function expectShape(op: string, name: string, t: Tensor, shape: readonly (number | null)[]): void {
  const ok = t.shape.length === shape.length && shape.every((s, i) => s === null || s === t.shape[i]);
  if (!ok) {
    const want = shape.map((s) => (s === null ? '*' : String(s))).join(', ');
    throw shapeError(op, `${name} ('${t.label}') has shape [${t.shape.join(', ')}], expected [${want}]`);
  }
}

export function expectDtype(op: string, name: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) throw shapeError(op, `${name} ('${t.label}') has dtype ${t.dtype}, expected ${dtype}`);
}

export function expectSameBackend(op: string, be: Backend, ...ts: (Tensor | null | undefined)[]): void {
  for (const t of ts) {
    if (!t) continue;
    if (t.backend !== be) throw new IrllrecError('range', `${op}: tensor '${t.label}' belongs to another backend (${t.backend.name})`);
    if (t.isDisposed) throw new IrllrecError('disposed', `${op}: tensor '${t.label}' was disposed`);
  }
}

export function expectFinite(op: string, name: string, value: number): void {
  if (!Number.isFinite(value)) throw new IrllrecError('nonfinite', `${op}: ${name} must be finite, got ${value}`);
}

/** The WebGPU backend of `be`, or throws (for GPU-only paths). */
export function asGpu(be: Backend): WebGpuBackend {
  if (be.kind !== 'webgpu') throw new IrllrecError('range', 'expected the WebGPU backend');
  return be as WebGpuBackend;
}
