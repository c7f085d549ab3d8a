import { describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { float32Tensor, readSafetensors, type SafeTensor, tensorToFloat32, writeSafetensors } from '../../src/io/safetensors.js';

/** A safetensors file from a raw header string (not re-serialised, so malformed JSON stays malformed). */
function rawFile(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function readError(bytes: Uint8Array): IrllrecError {
  try {
    readSafetensors(bytes, 'm.safetensors');
  } catch (e) {
    expect(e).toBeInstanceOf(IrllrecError);
    expect((e as IrllrecError).code).toBe('format');
    expect((e as IrllrecError).message).toMatch(/^m\.safetensors: /);
    return e as IrllrecError;
  }
  throw new Error('expected readSafetensors to throw');
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('writeSafetensors / readSafetensors', () => {
  it('round-trips tensors of every dtype with metadata, in order', () => {
    const tensors: Record<string, SafeTensor> = {
      'model.user_emb': float32Tensor(Float32Array.from({ length: 15 }, (_, k) => k / 7), [5, 3]),
      f64: { dtype: 'F64', shape: [2], data: bytesOf(Float64Array.of(Math.PI, -1e-300)) },
      i32: { dtype: 'I32', shape: [3], data: bytesOf(Int32Array.of(-1, 0, 7)) },
      u32: { dtype: 'U32', shape: [1, 1], data: bytesOf(Uint32Array.of(4e9)) },
      i64: { dtype: 'I64', shape: [1], data: bytesOf(BigInt64Array.of(-5n)) },
      f16: { dtype: 'F16', shape: [3], data: bytesOf(Uint16Array.of(0x3c00, 0xc000, 0x0001)) },
      bf16: { dtype: 'BF16', shape: [1], data: bytesOf(Uint16Array.of(0x3f80)) },
      empty: { dtype: 'F32', shape: [0, 4], data: new Uint8Array(0) },
      scalar: float32Tensor(Float32Array.of(2.5), []),
    };
    const file = writeSafetensors(tensors, { format: 'pt', model: 'irllrec' });
    const headerLen = new DataView(file.buffer).getUint32(0, true);
    expect(headerLen % 8).toBe(0);
    const header = new TextDecoder().decode(file.subarray(8, 8 + headerLen));
    expect(header.trimEnd().endsWith('}')).toBe(true);
    expect(JSON.parse(header).__metadata__).toEqual({ format: 'pt', model: 'irllrec' });
    const { tensors: back, metadata } = readSafetensors(file);
    expect(metadata).toEqual({ format: 'pt', model: 'irllrec' });
    expect([...back.keys()]).toEqual(Object.keys(tensors));
    for (const [name, t] of Object.entries(tensors)) {
      expect(back.get(name)!.dtype).toBe(t.dtype);
      expect(back.get(name)!.shape).toEqual(t.shape);
      expect(Array.from(back.get(name)!.data)).toEqual(Array.from(t.data));
    }
    expect(Array.from(tensorToFloat32(back.get('model.user_emb')!))).toEqual(Array.from(Float32Array.from({ length: 15 }, (_, k) => k / 7)));
  });

  it('writes the layout of the format: u64 LE length, JSON header, contiguous data offsets', () => {
    const file = writeSafetensors({ a: float32Tensor(Float32Array.of(1, 2), [2]), b: float32Tensor(Float32Array.of(3), [1]) });
    const headerLen = new DataView(file.buffer).getUint32(0, true);
    expect(new DataView(file.buffer).getUint32(4, true)).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLen)));
    expect(header).toEqual({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } });
    expect(file.length).toBe(8 + headerLen + 12);
    expect(Array.from(new Float32Array(file.slice(8 + headerLen).buffer))).toEqual([1, 2, 3]);
  });

  it('rejects bad tensors on write', () => {
    expect(() => writeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Uint8Array(8) } })).toThrow(/has 8 bytes, shape \[3\] of F32 needs 12/);
    expect(() => writeSafetensors({ __metadata__: float32Tensor(Float32Array.of(1), [1]) })).toThrow(/reserved/);
    expect(() => float32Tensor(Float32Array.of(1, 2, 3), [2, 2])).toThrow(/3 values, shape \[2, 2\] needs 4/);
  });
});

describe('tensorToFloat32', () => {
  it('widens F16 (normal, negative, subnormal, max, inf, NaN) and BF16 exactly', () => {
    const f16 = tensorToFloat32({ dtype: 'F16', shape: [7], data: bytesOf(Uint16Array.of(0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0xfc00, 0x7e00)) });
    expect(Array.from(f16.subarray(0, 6))).toEqual([1, -2, 2 ** -24, 65504, Infinity, -Infinity]);
    expect(f16[6]).toBeNaN();
    const bf16 = tensorToFloat32({ dtype: 'BF16', shape: [3], data: bytesOf(Uint16Array.of(0x3f80, 0xc040, 0x4049)) });
    expect(Array.from(bf16)).toEqual([1, -3, 3.140625]);
  });

  it('rounds F64 to float32 and reads data at an unaligned byte offset', () => {
    expect(Array.from(tensorToFloat32({ dtype: 'F64', shape: [2], data: bytesOf(Float64Array.of(0.1, 1e40)) }))).toEqual([Math.fround(0.1), Infinity]);
    const buf = new Uint8Array(13);
    buf.set(bytesOf(Float32Array.of(1.5, -2.25, 8)), 1);
    expect(Array.from(tensorToFloat32({ dtype: 'F32', shape: [3], data: buf.subarray(1) }))).toEqual([1.5, -2.25, 8]);
    const buf64 = new Uint8Array(19);
    buf64.set(bytesOf(Float64Array.of(2, 3)), 3);
    expect(Array.from(tensorToFloat32({ dtype: 'F64', shape: [2], data: buf64.subarray(3) }))).toEqual([2, 3]);
  });

  it('rejects integer dtypes and a size mismatch, naming the tensor', () => {
    expect(() => tensorToFloat32({ dtype: 'I32', shape: [1], data: new Uint8Array(4) }, 'ids')).toThrow(/ids: unsupported dtype I32 \(float tensors are read from F32, F64, F16 or BF16\)/);
    expect(() => tensorToFloat32({ dtype: 'F32', shape: [2], data: new Uint8Array(4) }, 'w')).toThrow(/w: 4 bytes, shape \[2\] of F32 needs 8/);
  });
});

describe('readSafetensors on malformed files', () => {
  const t = (dtype: string, shape: number[], offsets: number[]) => ({ dtype, shape, data_offsets: offsets });
  const file = (header: object, dataLen: number) => rawFile(JSON.stringify(header), new Uint8Array(dataLen));

  it('accepts a well-formed hand-made file with header padding', () => {
    const { tensors } = readSafetensors(rawFile(`${JSON.stringify({ a: t('F32', [2], [0, 8]) })}    `, new Uint8Array(8)));
    expect(tensors.get('a')!.shape).toEqual([2]);
  });

  it('rejects data offsets past the end of the data section', () => {
    expect(readError(file({ a: t('F32', [4], [0, 16]) }, 8)).message).toMatch(/tensor 'a': data_offsets \[0, 16\] run past the data section \(8 bytes\)/);
  });

  it('rejects overlapping ranges, holes and trailing bytes', () => {
    expect(readError(file({ a: t('F32', [2], [0, 8]), b: t('F32', [2], [4, 12]) }, 12)).message).toMatch(/tensor 'b'.*overlap/);
    expect(readError(file({ a: t('F32', [1], [0, 4]), b: t('F32', [1], [8, 12]) }, 12)).message).toMatch(/tensor 'b': bytes 4…8 before it belong to no tensor/);
    expect(readError(file({ a: t('F32', [1], [0, 4]) }, 8)).message).toMatch(/8 bytes but the tensors cover only 4/);
  });

  it('rejects a size that does not match shape × itemsize, without allocating a huge declared shape', () => {
    expect(readError(file({ a: t('F64', [3], [0, 12]) }, 12)).message).toMatch(/tensor 'a': shape \[3\] of F64 needs 24 bytes but data_offsets \[0, 12\] span 12/);
    expect(readError(file({ a: t('F32', [1e9, 1e9], [0, 4]) }, 4)).message).toMatch(/tensor 'a': shape \[1000000000, 1000000000\]/);
  });

  it('rejects unknown dtypes and malformed entries', () => {
    expect(readError(file({ a: t('Q4', [1], [0, 1]) }, 1)).message).toMatch(/tensor 'a': unknown dtype "Q4"/);
    expect(readError(file({ a: { shape: [1], data_offsets: [0, 4] } }, 4)).message).toMatch(/unknown dtype \(missing\)/);
    expect(readError(file({ a: t('F32', [-1], [0, 4]) }, 4)).message).toMatch(/shape must be an array of non-negative integers/);
    expect(readError(file({ a: t('F32', [1.5], [0, 4]) }, 4)).message).toMatch(/shape must be/);
    expect(readError(file({ a: t('F32', [1], [4, 0]) }, 4)).message).toMatch(/begin > end/);
    expect(readError(file({ a: t('F32', [1], [0]) }, 4)).message).toMatch(/data_offsets must be \[begin, end\]/);
    expect(readError(file({ a: { ...t('F32', [1], [0, 4]), extra: 1 } }, 4)).message).toMatch(/unexpected key 'extra'/);
    expect(readError(file({ a: 3 }, 0)).message).toMatch(/tensor 'a': expected an object/);
  });

  it('rejects duplicate tensor names (duplicate JSON keys)', () => {
    const header = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    expect(readError(rawFile(header, new Uint8Array(8))).message).toMatch(/duplicate key "a"/);
  });

  it('rejects a huge or out-of-file header length', () => {
    const huge = rawFile('{}');
    new DataView(huge.buffer).setUint32(4, 1, true); // 2^32 + 2
    expect(readError(huge).message).toMatch(/header length 4294967298 exceeds the 100000000-byte limit/);
    const big = rawFile('{}');
    new DataView(big.buffer).setUint32(0, 200_000_000, true);
    expect(readError(big).message).toMatch(/exceeds the 100000000-byte limit/);
    const past = rawFile('{}');
    new DataView(past.buffer).setUint32(0, 50, true);
    expect(readError(past).message).toMatch(/header length 50 runs past the end of the file \(10 bytes\)/);
    expect(readError(new Uint8Array(5)).message).toMatch(/shorter than the 8-byte header length/);
  });

  it('rejects a non-UTF-8 header, non-JSON headers and non-string metadata', () => {
    expect(readError(rawFile(Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d))).message).toMatch(/not valid UTF-8/);
    expect(readError(rawFile('[1, 2]')).message).toMatch(/does not start with '\{'/);
    expect(readError(rawFile('{"a": }')).message).toMatch(/bad header JSON/);
    expect(readError(rawFile('{} {}')).message).toMatch(/bad header JSON: unexpected text after/);
    expect(readError(rawFile('{"__metadata__": {"epochs": 3}}')).message).toMatch(/metadata 'epochs' must be a string, got 3/);
    expect(readError(rawFile('{"__metadata__": ["x"]}')).message).toMatch(/'__metadata__' must be an object of strings/);
  });

  it('returns tensor data as views of the file bytes', () => {
    const f = writeSafetensors({ a: float32Tensor(Float32Array.of(7), [1]) });
    const { tensors } = readSafetensors(f);
    expect(tensors.get('a')!.data.buffer).toBe(f.buffer);
  });
});
