import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { parseNpy, writeNpy } from '../../src/io/npy.js';
import { itWithData, sharedData } from '../helpers.js';


/**
 * A .npy file as NumPy writes it: magic, version, header length (u16 for v1, u32 for v2/v3), the dict
 * padded with spaces and '\n' to a multiple of 64, then `data`.
 */
function makeNpy(major: number, dict: string, data: Uint8Array): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  const enc = new TextEncoder().encode(dict);
  const total = Math.ceil((pre + enc.length + 1) / 64) * 64;
  const headerLen = total - pre;
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, headerLen, true);
  else dv.setUint32(8, headerLen, true);
  out.fill(0x20, pre, total - 1);
  out.set(enc, pre);
  out[total - 1] = 0x0a;
  out.set(data, total);
  return out;
}

const f32bytes = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);
const f64bytes = (xs: number[]) => new Uint8Array(Float64Array.from(xs).buffer);

function npyError(bytes: Uint8Array): IrllrecError {
  try {
    parseNpy(bytes, 'x.npy');
  } catch (e) {
    expect(e).toBeInstanceOf(IrllrecError);
    expect((e as IrllrecError).code).toBe('format');
    expect((e as IrllrecError).message).toMatch(/^x\.npy: /);
    return e as IrllrecError;
  }
  throw new Error('expected parseNpy to throw');
}

describe('parseNpy / writeNpy', () => {
  it('round-trips a float32 matrix through v1.0 with a 64-byte aligned header', () => {
    const m = { rows: 7, cols: 3, data: Float32Array.from({ length: 21 }, (_, k) => (k - 10) / 3) };
    const bytes = writeNpy(m);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    expect((bytes.length - 21 * 4) % 64).toBe(0);
    const back = parseNpy(bytes);
    expect([back.rows, back.cols]).toEqual([7, 3]);
    expect(Array.from(back.data)).toEqual(Array.from(m.data));
  });

  it('round-trips an empty matrix and reads a view at a non-zero byte offset', () => {
    expect(parseNpy(writeNpy({ rows: 0, cols: 5, data: new Float32Array(0) }))).toMatchObject({ rows: 0, cols: 5 });
    const inner = writeNpy({ rows: 2, cols: 2, data: Float32Array.of(1, 2, 3, 4) });
    const outer = new Uint8Array(inner.length + 3);
    outer.set(inner, 3);
    expect(Array.from(parseNpy(outer.subarray(3)).data)).toEqual([1, 2, 3, 4]);
  });

  it('with share, aligned <f4 data is a view of the bytes (no copy); <f8 and misaligned data are still copied', () => {
    const m = { rows: 3, cols: 2, data: Float32Array.of(1, -2, 3.5, 4, 5e-8, 6) };
    const bytes = writeNpy(m);
    const shared = parseNpy(bytes, 'x.npy', { share: true });
    expect(shared.data.buffer).toBe(bytes.buffer);
    expect(Array.from(shared.data)).toEqual(Array.from(m.data));
    // A view: the matrix follows the bytes (what `share` means), unlike the default copy.
    const copied = parseNpy(bytes);
    expect(copied.data.buffer).not.toBe(bytes.buffer);
    bytes[bytes.length - 1] ^= 0x80;
    expect(shared.data[5]).toBe(-6);
    expect(copied.data[5]).toBe(6);
    // Data at an odd byte offset cannot be a Float32Array view: copied, same values.
    const outer = new Uint8Array(bytes.length + 1);
    outer.set(writeNpy(m), 1);
    const odd = parseNpy(outer.subarray(1), 'x.npy', { share: true });
    expect(odd.data.buffer).not.toBe(outer.buffer);
    expect(Array.from(odd.data)).toEqual(Array.from(m.data));
  });

  it('reads v2.0 and v3.0 headers', () => {
    const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
    for (const major of [2, 3]) {
      const m = parseNpy(makeNpy(major, dict, f32bytes([1, 2, 3, 4])));
      expect([m.rows, m.cols, ...m.data]).toEqual([2, 2, 1, 2, 3, 4]);
    }
  });

  it('converts <f8 to float32 and reads 1-D arrays as one column', () => {
    const m = parseNpy(makeNpy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", f64bytes([0.1, -2, 1e300])));
    expect([m.rows, m.cols]).toEqual([3, 1]);
    expect(Array.from(m.data)).toEqual([Math.fround(0.1), -2, Infinity]);
  });

  it('accepts the dict keys in any order, double quotes and no trailing comma', () => {
    const m = parseNpy(makeNpy(1, '{"shape": (1, 2), "fortran_order": False, "descr": "<f4"}', f32bytes([5, 6])));
    expect(Array.from(m.data)).toEqual([5, 6]);
  });

  it('rejects a bad magic string, an unknown version and a short file', () => {
    const good = writeNpy({ rows: 1, cols: 1, data: Float32Array.of(1) });
    const badMagic = good.slice();
    badMagic[1] = 0x4d;
    expect(npyError(badMagic).message).toMatch(/magic/);
    const badVersion = good.slice();
    badVersion[6] = 4;
    expect(npyError(badVersion).message).toMatch(/version 4\.0/);
    expect(npyError(good.subarray(0, 6)).message).toMatch(/shorter than the 10-byte preamble/);
  });

  it('rejects truncated data and a header that runs past the end of the file', () => {
    const good = writeNpy({ rows: 4, cols: 4, data: new Float32Array(16) });
    expect(npyError(good.subarray(0, good.length - 1)).message).toMatch(/needs 64 data bytes but the file has 63/);
    expect(npyError(good.subarray(0, 40)).message).toMatch(/truncated: the header claims 118 bytes/);
  });

  it('rejects extra data, fortran order, other dtypes and other ranks', () => {
    const dict = (descr: string, fortran: string, shape: string) => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
    expect(npyError(makeNpy(1, dict('<f4', 'False', '(2, 2)'), f32bytes([1, 2, 3, 4, 5]))).message).toMatch(/needs 16 data bytes but the file has 20/);
    expect(npyError(makeNpy(1, dict('<f4', 'True', '(2, 2)'), f32bytes([1, 2, 3, 4]))).message).toMatch(/fortran_order True/);
    expect(npyError(makeNpy(1, dict('>f4', 'False', '(1,)'), f32bytes([1]))).message).toMatch(/dtype '>f4' is not supported/);
    expect(npyError(makeNpy(1, dict('<i4', 'False', '(1,)'), f32bytes([1]))).message).toMatch(/dtype '<i4'/);
    expect(npyError(makeNpy(1, dict('<f4', 'False', '(1, 1, 1)'), f32bytes([1]))).message).toMatch(/3-D/);
    expect(npyError(makeNpy(1, dict('<f4', 'False', '()'), f32bytes([1]))).message).toMatch(/0-D/);
  });

  it('rejects a huge declared shape by its size, before allocating', () => {
    const e = npyError(makeNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 1000000000), }", f32bytes([1, 2])));
    expect(e.message).toMatch(/needs 400000000000000000000 data bytes but the file has 8 after the header/);
  });

  it('rejects malformed header dicts', () => {
    const bad = [
      "{'descr': '<f4', 'fortran_order': False}", // no shape
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'extra': 1}",
      "{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", // missing comma
      "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
      "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
      "['descr', '<f4']",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} trailing",
    ];
    for (const dict of bad) expect(() => parseNpy(makeNpy(1, dict, f32bytes([1])))).toThrow(IrllrecError);
  });

  itWithData('loads movielens item_profile.npy as 4418×512 with unit rows', () => {
    const m = parseNpy(new Uint8Array(readFileSync(sharedData('movielens', 'item_profile.npy'))), 'item_profile.npy');
    expect([m.rows, m.cols]).toEqual([4418, 512]);
    let worst = 0;
    for (let r = 0; r < m.rows; r++) {
      let ss = 0;
      for (let c = 0; c < m.cols; c++) ss += m.data[r * 512 + c] ** 2;
      worst = Math.max(worst, Math.abs(Math.sqrt(ss) - 1));
    }
    expect(worst).toBeLessThan(1e-5); // float32 unit vectors: |‖x‖ − 1| ≤ ~1e-6 (embeddings.json: 0.999999…1.000001)
  });
});
