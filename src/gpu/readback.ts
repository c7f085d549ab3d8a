/**
 * Staging readback: copy a byte range of a storage buffer into a MAP_READ buffer inside the recorder's
 * encoder, submit, map, and copy into a fresh ArrayBuffer. Bulk data goes this way (never through
 * typegpu's `buffer.read()`, which builds JS arrays).
 */
import { GpuError, IrllrecError } from '../errors.js';
import type { Recorder } from './kernel.js';

export async function readBuffer(rec: Recorder, buffer: GPUBuffer, byteOffset: number, byteLength: number): Promise<ArrayBuffer> {
  if (byteLength === 0) return new ArrayBuffer(0);
  if (byteOffset % 4 !== 0 || byteLength % 4 !== 0) throw new IrllrecError('range', `readBuffer(${buffer.label}): offset and length must be multiples of 4`);
  if (byteOffset + byteLength > buffer.size) {
    throw new IrllrecError('range', `readBuffer(${buffer.label}): bytes ${byteOffset}..${byteOffset + byteLength} are past the buffer's end (${buffer.size})`);
  }
  const device = rec.ctx.device;
  const staging = device.createBuffer({ label: `readback(${buffer.label})`, size: byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    rec.encoder().copyBufferToBuffer(buffer, byteOffset, staging, 0, byteLength);
    rec.submit();
    try {
      await rec.ctx.waitFor(`readBuffer(${buffer.label}, ${byteLength})`, () => staging.mapAsync(GPUMapMode.READ));
    } catch (e) {
      // A lost device can reject the map before `device.lost` resolves: give the loss a moment to surface.
      await rec.ctx.settleLoss();
      rec.ctx.check(`readBuffer(${buffer.label})`);
      throw new GpuError(`readBuffer(${buffer.label}): mapping the staging buffer failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
    await rec.checkCompiled(`readBuffer(${buffer.label})`);
    rec.ctx.check(`readBuffer(${buffer.label})`);
    rec.onSettled?.();
    return staging.getMappedRange().slice(0);
  } finally {
    staging.destroy();
  }
}

/**
 * Several byte ranges read back with one staging buffer, one submit and one map (a result that comes in
 * parts, such as top-K ids and scores, costs one round trip instead of one per part).
 */
export async function readBuffers(rec: Recorder, parts: readonly { buffer: GPUBuffer; byteOffset: number; byteLength: number }[]): Promise<ArrayBuffer[]> {
  let total = 0;
  const at: number[] = [];
  for (const p of parts) {
    if (p.byteOffset % 4 !== 0 || p.byteLength % 4 !== 0) throw new IrllrecError('range', `readBuffers(${p.buffer.label}): offset and length must be multiples of 4`);
    if (p.byteOffset + p.byteLength > p.buffer.size) {
      throw new IrllrecError('range', `readBuffers(${p.buffer.label}): bytes ${p.byteOffset}..${p.byteOffset + p.byteLength} are past the buffer's end (${p.buffer.size})`);
    }
    at.push(total);
    total += p.byteLength;
  }
  if (total === 0) return parts.map(() => new ArrayBuffer(0));
  const device = rec.ctx.device;
  const staging = device.createBuffer({ label: `readback(${parts.map((p) => p.buffer.label).join(', ')})`, size: total, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const where = `readBuffers(${parts.map((p) => p.buffer.label).join(', ')})`;
  try {
    const enc = rec.encoder();
    parts.forEach((p, i) => {
      if (p.byteLength > 0) enc.copyBufferToBuffer(p.buffer, p.byteOffset, staging, at[i], p.byteLength);
    });
    rec.submit();
    try {
      await rec.ctx.waitFor(`${where}, ${total}`, () => staging.mapAsync(GPUMapMode.READ));
    } catch (e) {
      await rec.ctx.settleLoss();
      rec.ctx.check(where);
      throw new GpuError(`${where}: mapping the staging buffer failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
    await rec.checkCompiled(where);
    rec.ctx.check(where);
    rec.onSettled?.();
    const all = staging.getMappedRange();
    return parts.map((p, i) => all.slice(at[i], at[i] + p.byteLength));
  } finally {
    staging.destroy();
  }
}
