/**
 * Class 11 of issue 12: agreement with the safetensors format's rules (the reference reader's behaviour),
 * table-driven. Each row is a header (and data section) written from a rule of the format; `ok` rows must
 * parse (and say what they hold), the others must be refused with a 'format' IrllrecError whose message
 * quotes the file's values exactly (big integers verbatim, no internal wrapper objects).
 */
import { describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { parseModelFile } from '../../src/io/modelfile.js';
import { type SafeDtype, readSafetensors, tensorToFloat32, writeSafetensors } from '../../src/io/safetensors.js';

/** A file of `header` (length field `len` unless given) and `dataBytes` zero bytes of data. */
function file(header: string, dataBytes = 0, len?: bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, len ?? BigInt(h.length), true);
  out.set(h, 8);
  return out;
}
const t = (dtype: string, shape: string, offsets: string) => `{"dtype":"${dtype}","shape":${shape},"data_offsets":${offsets}}`;

type Row = { rule: string; bytes: Uint8Array; ok?: (r: ReturnType<typeof readSafetensors>) => void; error?: RegExp };

const ALL_DTYPES: [SafeDtype, number, number][] = [
  // dtype, elements, bytes
  ['BOOL', 2, 2], ['F4', 2, 1], ['F6_E2M3', 4, 3], ['F6_E3M2', 4, 3], ['U8', 2, 2], ['I8', 2, 2], ['F8_E5M2', 2, 2], ['F8_E4M3', 2, 2],
  ['F8_E8M0', 2, 2], ['I16', 2, 4], ['U16', 2, 4], ['F16', 2, 4], ['BF16', 2, 4], ['I32', 2, 8], ['U32', 2, 8], ['F32', 2, 8],
  ['F64', 2, 16], ['I64', 2, 16], ['U64', 2, 16],
];

const ROWS: Row[] = [
  { rule: 'an empty object is a file with no tensors', bytes: file('{}'), ok: (r) => expect(r.tensors.size).toBe(0) },
  { rule: 'whitespace before the object is valid JSON', bytes: file(` \n\t\r{"a":${t('F32', '[1]', '[0,4]')}}`, 4), ok: (r) => expect(r.tensors.get('a')!.shape).toEqual([1]) },
  { rule: 'whitespace between tokens and padding after the object', bytes: file(`{ "a" : { "dtype" : "U8" , "shape" : [ 2 ] , "data_offsets" : [ 0 , 2 ] } }    `, 2), ok: (r) => expect(r.tensors.get('a')!.dtype).toBe('U8') },
  { rule: '__metadata__: null means no metadata', bytes: file(`{"__metadata__":null,"a":${t('F32', '[]', '[0,4]')}}`, 4), ok: (r) => expect(Object.keys(r.metadata)).toEqual([]) },
  {
    rule: "metadata keys such as __proto__ and constructor are kept as data",
    bytes: file('{"__metadata__":{"__proto__":"p","constructor":"c","toString":"s"}}'),
    ok: (r) => {
      expect(Object.getPrototypeOf(r.metadata)).toBeNull();
      expect(Object.entries(r.metadata)).toEqual([['__proto__', 'p'], ['constructor', 'c'], ['toString', 's']]);
    },
  },
  { rule: 'a scalar (shape []) holds one element', bytes: file(`{"s":${t('F64', '[]', '[0,8]')}}`, 8), ok: (r) => expect(r.tensors.get('s')!.data.length).toBe(8) },
  { rule: 'a zero-element tensor has offsets [k, k]', bytes: file(`{"z":${t('F32', '[0,5]', '[0,0]')}}`), ok: (r) => expect(r.tensors.get('z')!.shape).toEqual([0, 5]) },
  { rule: 'names may be any valid Unicode, including escaped pairs', bytes: file(`{"\\ud83d\\ude00 é":${t('U8', '[1]', '[0,1]')}}`, 1), ok: (r) => expect([...r.tensors.keys()]).toEqual(['😀 é']) },
  ...ALL_DTYPES.map(([dtype, n, bytes]): Row => ({
    rule: `dtype ${dtype} (${n} elements in ${bytes} bytes) is parsed`,
    bytes: file(`{"x":${t(dtype, `[${n}]`, `[0,${bytes}]`)}}`, bytes),
    ok: (r) => expect(r.tensors.get('x')!.dtype).toBe(dtype),
  })),

  { rule: 'duplicate keys are refused', bytes: file(`{"a":${t('U8', '[1]', '[0,1]')},"a":${t('U8', '[1]', '[1,2]')}}`, 2), error: /duplicate key "a"/ },
  { rule: 'duplicate keys inside an entry are refused', bytes: file('{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1), error: /duplicate key "dtype"/ },
  { rule: 'unknown fields in an entry are refused', bytes: file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"foo":1}}', 1), error: /tensor 'a': unexpected key 'foo'/ },
  { rule: 'an unpaired high surrogate in a name is refused', bytes: file(`{"a\\ud800":${t('U8', '[1]', '[0,1]')}}`, 1), error: /unpaired surrogate/ },
  { rule: 'an unpaired low surrogate in a metadata value is refused', bytes: file('{"__metadata__":{"k":"\\udc00x"}}'), error: /unpaired surrogate/ },
  { rule: '-0 in a shape is refused and printed as written', bytes: file(`{"a":${t('U8', '[-0]', '[0,0]')}}`), error: /tensor 'a': shape must be an array of non-negative integers, got \[-0\]/ },
  { rule: '-0 in data_offsets is refused', bytes: file(`{"a":${t('U8', '[1]', '[-0,1]')}}`, 1), error: /data_offsets must be \[begin, end\] non-negative integers, got \[-0, 1\]/ },
  { rule: 'a shape beyond 2^64 is quoted exactly', bytes: file(`{"a":${t('U8', '[18446744073709551617]', '[0,0]')}}`), error: /got \[18446744073709551617\]$/ },
  { rule: 'a size beyond 2^53 is computed and printed exactly', bytes: file(`{"a":${t('F32', '[4294967296,4294967297]', '[0,0]')}}`), error: /needs 73786976312018075648 bytes but data_offsets \[0, 0\] span 0/ },
  { rule: 'a header length near 2^64 is printed exactly', bytes: file('{}', 0, 2n ** 64n - 1n), error: /header length 18446744073709551615 exceeds the 100000000-byte limit/ },
  { rule: 'a header length past the end of the file is refused', bytes: file('{}', 0, 40n), error: /header length 40 runs past the end of the file \(10 bytes\)/ },
  { rule: 'sub-byte dtypes must fill whole bytes', bytes: file(`{"a":${t('F4', '[3]', '[0,2]')}}`, 2), error: /shape \[3\] of F4 does not fill a whole number of bytes/ },
  { rule: 'unknown dtypes are refused, naming the format\'s', bytes: file(`{"a":${t('Q4', '[1]', '[0,1]')}}`, 1), error: /unknown dtype "Q4" \(the format's: BOOL, F4/ },
  { rule: 'metadata must be an object of strings (or null)', bytes: file('{"__metadata__":7}'), error: /'__metadata__' must be an object of strings or null, got 7/ },
  { rule: 'metadata values must be strings', bytes: file('{"__metadata__":{"n":1e400}}'), error: /metadata 'n' must be a string, got 1e400/ },
  { rule: 'text before the object is refused', bytes: file('x{}'), error: /does not start with '\{'/ },
  { rule: 'overlapping tensors are refused', bytes: file(`{"a":${t('U8', '[2]', '[0,2]')},"b":${t('U8', '[2]', '[1,3]')}}`, 3), error: /overlap/ },
  { rule: 'holes between tensors are refused', bytes: file(`{"a":${t('U8', '[1]', '[1,2]')}}`, 2), error: /bytes 0…1 before it belong to no tensor/ },
  { rule: 'trailing bytes after the last tensor are refused', bytes: file(`{"a":${t('U8', '[1]', '[0,1]')}}`, 2), error: /data section has 2 bytes but the tensors cover only 1/ },
  { rule: 'begin > end is refused', bytes: file(`{"a":${t('U8', '[0]', '[1,0]')}}`, 1), error: /has begin > end/ },
];

describe('safetensors: the format\'s rules, row by row', () => {
  for (const row of ROWS) {
    it(row.rule, () => {
      if (row.ok) {
        row.ok(readSafetensors(row.bytes, 'm.safetensors'));
        return;
      }
      let err: unknown;
      try {
        readSafetensors(row.bytes, 'm.safetensors');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(IrllrecError);
      expect((err as IrllrecError).code).toBe('format');
      expect((err as Error).message).toMatch(row.error!);
      expect((err as Error).message).not.toMatch(/raw|\[object|NonInteger|e\+\d/);
    });
  }
});

describe('safetensors: conversion and writer', () => {
  it('only the conversion refuses the dtypes it does not use, with "unsupported dtype"', () => {
    const r = readSafetensors(file(`{"q":${t('I8', '[2]', '[0,2]')}}`, 2));
    expect(() => tensorToFloat32(r.tensors.get('q')!, 'q')).toThrow(/q: unsupported dtype I8/);
    const model = writeSafetensors({ user_embeds: { dtype: 'U8', shape: [1, 1], data: new Uint8Array(1) }, item_embeds: { dtype: 'U8', shape: [1, 1], data: new Uint8Array(1) } });
    expect(() => parseModelFile(model, 'u8.safetensors')).toThrow(/u8\.safetensors: tensor 'user_embeds' has unsupported dtype U8/);
  });

  it('the writer never produces unpaired surrogates or -0, and keeps __proto__ metadata through a round trip', () => {
    const one = { dtype: 'U8' as const, shape: [1], data: new Uint8Array(1) };
    expect(() => writeSafetensors({ 'a\ud800': one })).toThrow(/unpaired surrogate/);
    expect(() => writeSafetensors({ a: one }, { k: '\udc00' })).toThrow(/unpaired surrogate/);
    const bytes = writeSafetensors({ z: { dtype: 'F32', shape: [-0, 3], data: new Uint8Array(0) } }, JSON.parse('{"__proto__":"kept"}') as Record<string, string>);
    expect(new TextDecoder().decode(bytes)).not.toMatch(/-0/);
    const back = readSafetensors(bytes);
    expect(back.tensors.get('z')!.shape).toEqual([0, 3]);
    expect(Object.is(back.tensors.get('z')!.shape[0], -0)).toBe(false);
    expect(Object.entries(back.metadata)).toEqual([['__proto__', 'kept']]);
  });

  it('a lower maxHeaderBytes refuses a long header before parsing it', () => {
    const big = file(`{"__metadata__":{"k":"${'x'.repeat(10_000)}"}}`);
    expect(() => readSafetensors(big, 'big', { maxHeaderBytes: 1000 })).toThrow(/big: header length 10025 exceeds the 1000-byte limit/);
    expect(readSafetensors(big, 'big').metadata.k.length).toBe(10_000);
  });
});
