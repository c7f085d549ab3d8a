/**
 * Staging readback: copy a byte range of a storage buffer into a MAP_READ buffer inside the recorder's
 * encoder, submit, map, and copy into a fresh ArrayBuffer. Bulk data goes this way (never through
 * typegpu's `buffer.read()`, which builds JS arrays).
 */
import { IrllrecError } from '../errors.js';
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
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      rec.ctx.check(`readBuffer(${buffer.label})`);
      throw e;
    }
    await rec.checkCompiled(`readBuffer(${buffer.label})`);
    rec.ctx.check(`readBuffer(${buffer.label})`);
    return staging.getMappedRange().slice(0);
  } finally {
    staging.destroy();
  }
}
