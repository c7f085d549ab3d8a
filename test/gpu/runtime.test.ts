import { describe, expect, it } from 'vitest';
import { createBackend as createCoreBackend } from '../../src/backend.js';
import { DeviceLostError, IrllrecError } from '../../src/errors.js';
import { Kernel, grid1d } from '../../src/gpu/kernel.js';
import { createBackend, createGpuContext, nodeGpu } from '../../src/node/index.js';
import { matmul } from '../../src/ops/dense.js';
import { spmm, csrTensor } from '../../src/ops/spmm.js';
import { CpuBackend, UPLOAD_CHUNK_BYTES, WebGpuBackend } from '../../src/ops/tensor.js';

describe('GPU runtime', () => {
  it('requests the adapter’s real limits, not the WebGPU defaults', async () => {
    const adapter = (await (await nodeGpu()).requestAdapter())!;
    const ctx = await createGpuContext();
    expect(ctx.limits.maxStorageBufferBindingSize).toBe(Number(adapter.limits.maxStorageBufferBindingSize));
    expect(ctx.limits.maxBufferSize).toBe(Number(adapter.limits.maxBufferSize));
    expect(ctx.adapter.name.length).toBeGreaterThan(0);
    ctx.destroy();
  });

  it('a tensor over maxStorageBufferBindingSize fails up front with its name and the limit', async () => {
    const be = (await createBackend({ backend: 'webgpu', limitOverrides: { maxStorageBufferBindingSize: 1 << 20 } })) as WebGpuBackend;
    expect(be.ctx.limits.maxStorageBufferBindingSize).toBe(1 << 20);
    let err: unknown;
    try {
      be.zeros([1 << 16, 8], 'f32', 'item_embeddings');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IrllrecError);
    expect((err as IrllrecError).code).toBe('limit');
    expect((err as Error).message).toMatch(/item_embeddings: 2097152 bytes exceeds this device's maxStorageBufferBindingSize \(1048576 bytes\)/);
    be.destroy();
  });

  it('a WGSL error becomes an exception naming the kernel, not console noise', async () => {
    const be = (await createBackend({ backend: 'webgpu' })) as WebGpuBackend;
    const broken = new Kernel({ name: 'broken_kernel', code: '@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }', storage: [] });
    be.recorder.dispatch(broken, [], null, grid1d(1));
    await expect(be.flush()).rejects.toThrow(/kernel 'broken_kernel' failed to compile/);
    be.destroy();
  });

  it('a lost device surfaces as DeviceLostError on the next call', async () => {
    const be = (await createBackend({ backend: 'webgpu' })) as WebGpuBackend;
    const t = be.tensor([1, 2], [2]);
    be.device.destroy();
    await be.device.lost;
    await expect(be.read(t)).rejects.toBeInstanceOf(DeviceLostError);
    be.destroy();
  });

  it('disposing every tensor returns every buffer to the pool, and destroy() releases the pool', async () => {
    const be = (await createBackend({ backend: 'webgpu' })) as WebGpuBackend;
    for (let round = 0; round < 3; round++) {
      const a = be.tensor(new Float32Array(64 * 48).fill(0.5), [64, 48]);
      const b = be.tensor(new Float32Array(48 * 17).fill(0.25), [48, 17]);
      const c = be.zeros([64, 17]);
      matmul(be, a, b, c);
      const A = csrTensor(be, { rows: 3, cols: 64, rowPtr: Uint32Array.of(0, 1, 1, 3), colIdx: Uint32Array.of(5, 0, 63) });
      const y = be.zeros([3, 17]);
      spmm(be, A, c, y);
      const out = await be.read(y);
      expect(out[0]).toBeCloseTo(48 * 0.125, 4);
      for (const t of [a, b, c, y, A.rowPtr, A.colIdx]) t.dispose();
      expect(be.poolStats.liveBuffers).toBe(0);
      expect(be.liveTensorCount).toBe(0);
    }
    // Buffers are reused across rounds instead of created anew.
    expect(be.poolStats.reused).toBeGreaterThan(0);
    const created = be.poolStats.created;
    expect(created).toBeLessThanOrEqual(12);
    be.destroy();
    expect(be.poolStats.pooledBuffers).toBe(0);
    expect(be.poolStats.liveBuffers).toBe(0);
  });

  it('falls back to the CPU backend with one notice when there is no adapter', async () => {
    const notices: string[] = [];
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
    const be = await createCoreBackend({ gpu: noAdapter, onNotice: (m) => notices.push(m) });
    expect(be).toBeInstanceOf(CpuBackend);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/no adapter.*CPU backend/);
    await expect(createCoreBackend({ gpu: noAdapter, backend: 'webgpu' })).rejects.toThrow(/no adapter/);
  });

  it('writeRange: an upload over UPLOAD_CHUNK_BYTES goes in submitted pieces, exact at any offset; out-of-range writes are refused', async () => {
    const be = (await createBackend({ backend: 'webgpu' })) as WebGpuBackend;
    const cpu = new CpuBackend({ precision: 'f32' });
    try {
      const perChunk = UPLOAD_CHUNK_BYTES / 4;
      const n = 2 * perChunk + 1000;
      const data = Float32Array.from({ length: n - 10 }, (_, i) => ((i * 2654435761) % 1000003) / 7 - 5e4);
      for (const b of [be, cpu]) {
        const t = b.zeros([n], 'f32', 'big');
        const submitsBefore = be.recorder.submits;
        b.writeRange(t, 7, data);
        // Three pieces, each submitted before the next is staged (and the last one at once).
        if (b === be) expect(be.recorder.submits - submitsBefore).toBe(3);
        const back = await b.read(t);
        expect(Array.from(back.subarray(0, 7))).toEqual([0, 0, 0, 0, 0, 0, 0]);
        let wrong = 0;
        for (let k = 0; k < data.length; k++) if (back[7 + k] !== data[k]) wrong++;
        expect(wrong).toBe(0);
        expect(Array.from(back.subarray(7 + data.length))).toEqual([0, 0, 0]);
        expect(() => b.writeRange(t, 11, data)).toThrow(/writeRange\(big\).*do not fit/);
        expect(() => b.writeRange(t, -1, [1])).toThrow(IrllrecError);
        t.dispose();
      }
    } finally {
      be.destroy();
    }
  });

  it('tensorFrom writes its parts in order into a new mapped buffer (no staging); wrong totals are refused', async () => {
    const be = (await createBackend({ backend: 'webgpu' })) as WebGpuBackend;
    const cpu = new CpuBackend({ precision: 'f32' });
    try {
      for (const b of [be, cpu]) {
        const t = b.tensorFrom([2, 3], 'f32', 'parts', [Float32Array.of(1, 2), [3.5], Float64Array.of(-4, 1e-40, 6)]);
        expect(Array.from(await b.read(t))).toEqual([1, 2, 3.5, -4, Math.fround(1e-40), 6]);
        const u = b.tensorFrom([3], 'u32', 'u', [Uint32Array.of(0xffffffff), Uint32Array.of(7, 8)]);
        expect(Array.from(await b.read(u))).toEqual([0xffffffff, 7, 8]);
        if (b === be) expect(be.poolStats.liveBuffers).toBeGreaterThanOrEqual(2);
        expect(() => b.tensorFrom([4], 'f32', 'short', [[1, 2, 3]])).toThrow(/short/);
        expect(() => b.tensorFrom([2], 'f32', 'long', [[1, 2], [3]])).toThrow(/long/);
        for (const x of [t, u]) x.dispose();
      }
      // Nothing of the refused tables stays live.
      expect(be.poolStats.liveBuffers).toBe(0);
    } finally {
      be.destroy();
    }
  });

  it('readAll returns several tensors of mixed dtypes in one submit, equal to reading each', async () => {
    const be = (await createBackend({ backend: 'webgpu' })) as WebGpuBackend;
    const cpu = new CpuBackend({ precision: 'f32' });
    try {
      for (const b of [be, cpu]) {
        const f = b.tensor([1.5, -2.25, 3e30, -0], [2, 2], 'f32', 'f');
        const u = b.tensor([0, 7, 0xffffffff], [3], 'u32', 'u');
        const i = b.tensor([-5, 2147483647], [2], 'i32', 'i');
        const empty = b.zeros([0], 'f32', 'empty');
        const submitsBefore = b.kind === 'webgpu' ? (b as WebGpuBackend).recorder.submits : 0;
        const [rf, ru, ri, re] = await b.readAll([f, u, i, empty]);
        if (b.kind === 'webgpu') expect((b as WebGpuBackend).recorder.submits - submitsBefore).toBe(1);
        expect(rf).toBeInstanceOf(Float32Array);
        expect(ru).toBeInstanceOf(Uint32Array);
        expect(ri).toBeInstanceOf(Int32Array);
        expect(Array.from(rf)).toEqual(Array.from(await b.read(f)));
        expect(Array.from(ru)).toEqual([0, 7, 0xffffffff]);
        expect(Array.from(ri)).toEqual([-5, 2147483647]);
        expect(re.length).toBe(0);
        f.dispose();
        await expect(b.readAll([u, f])).rejects.toThrow(/disposed/);
        for (const t of [u, i, empty]) t.dispose();
      }
    } finally {
      be.destroy();
    }
  });

  it('readAll splits the staging copy into groups that fit maxBufferSize, results unchanged', async () => {
    const be = (await createBackend({ backend: 'webgpu', limitOverrides: { maxBufferSize: 1024, maxStorageBufferBindingSize: 1024 } })) as WebGpuBackend;
    try {
      const data = [0, 1, 2, 3].map((k) => Float32Array.from({ length: 100 }, (_, i) => k * 1000 + i));
      const ts = data.map((d, k) => be.tensor(d, [100], 'f32', `t${k}`)); // 400 bytes each: two per 1 KiB group
      const before = be.recorder.submits;
      const out = await be.readAll(ts);
      expect(be.recorder.submits - before).toBe(2);
      out.forEach((o, k) => expect(Array.from(o)).toEqual(Array.from(data[k])));
      for (const t of ts) t.dispose();
    } finally {
      be.destroy();
    }
  });
});
