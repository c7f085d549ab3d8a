/**
 * The safetensors container (model files and checkpoints). Layout: u64 LE header length N; N bytes of
 * UTF-8 JSON `{ "<name>": { "dtype", "shape", "data_offsets": [begin, end] }, …, "__metadata__": {…} }`
 * (padded with spaces); then the data section, offsets relative to its start. As in the reference reader,
 * the tensors must tile the data section exactly: no overlap, no holes, no trailing bytes. Browser-safe.
 */
import { IrllrecError } from '../errors.js';
import { refusePickle } from './pickle.js';

/**
 * Every dtype of the safetensors format (its `Dtype` enum). The reader accepts them all; only the conversion
 * (`tensorToFloat32`) and the model / checkpoint loaders refuse the ones they do not use.
 */
export type SafeDtype =
  | 'BOOL' | 'F4' | 'F6_E2M3' | 'F6_E3M2' | 'U8' | 'I8' | 'F8_E5M2' | 'F8_E4M3' | 'F8_E8M0'
  | 'I16' | 'U16' | 'F16' | 'BF16' | 'I32' | 'U32' | 'F32' | 'F64' | 'I64' | 'U64';

export interface SafeTensor {
  dtype: SafeDtype;
  shape: number[];
  /** Raw little-endian bytes. From `readSafetensors` this is a view into the file's bytes (no copy). */
  data: Uint8Array;
}

/** Bits per element (the sub-byte float formats F4 and F6 pack elements; a tensor must fill whole bytes). */
const DTYPE_BITS: Record<SafeDtype, number> = {
  BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8,
  I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, F64: 64, I64: 64, U64: 64,
};
/** The reference implementation's limit on the JSON header (the default of `maxHeaderBytes`). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes of `count` elements of `dtype` as a BigInt (exact for any count), or null when they do not fill whole bytes. */
function byteSize(dtype: SafeDtype, shape: readonly (number | bigint)[]): bigint | null {
  const bits = shape.reduce<bigint>((a, d) => a * BigInt(d), 1n) * BigInt(DTYPE_BITS[dtype]);
  return bits % 8n === 0n ? bits / 8n : null;
}

/** Whether `s` has an unpaired UTF-16 surrogate (not representable in the UTF-8 of a file). */
function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}
const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function formatError(source: string, message: string): IrllrecError {
  return new IrllrecError('format', `${source}: ${message}`);
}

/** A JSON number that is not an integer literal within ±2^53 (kept verbatim so errors can quote it). */
class NonIntegerNumber {
  constructor(readonly raw: string) {}
}
type Json = null | boolean | number | NonIntegerNumber | string | Json[] | Map<string, Json>;

/**
 * Strict JSON (RFC 8259) parser that, unlike JSON.parse, rejects duplicate object keys and keeps integer
 * literals exact (numbers that are not safe integers come back as `NonIntegerNumber`). Objects are Maps.
 */
const LITERALS = [['true', true], ['false', false], ['null', null]] as const;

function parseJsonStrict(text: string, fail: (msg: string) => never): Json {
  let p = 0;
  const ws = () => {
    while (p < text.length) {
      const c = text.charCodeAt(p);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) p++;
      else break;
    }
  };
  const str = (): string => {
    const start = p;
    p++;
    for (;;) {
      if (p >= text.length) fail(`unterminated string at character ${start}`);
      const c = text.charCodeAt(p);
      if (c === 0x22) break;
      if (c === 0x5c) p += 2;
      else if (c < 0x20) fail(`control character in a string at character ${p}`);
      else p++;
    }
    p++;
    let s: string;
    try {
      s = JSON.parse(text.slice(start, p)) as string; // decodes and validates the escapes
    } catch {
      return fail(`bad string escape at character ${start}`);
    }
    // An escaped lone surrogate (\ud800) is valid JSON but no valid Unicode string: refused, as in the reference.
    if (hasLoneSurrogate(s)) fail(`unpaired surrogate in the string at character ${start}`);
    return s;
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
  const value = (depth: number): Json => {
    if (depth > 64) fail('nesting deeper than 64 levels');
    ws();
    const c = text[p];
    if (c === '{') {
      p++;
      const obj = new Map<string, Json>();
      ws();
      if (text[p] === '}') {
        p++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[p] !== '"') fail(`expected a key string at character ${p}`);
        const key = str();
        if (obj.has(key)) fail(`duplicate key ${JSON.stringify(key)}`);
        ws();
        if (text[p] !== ':') fail(`expected ':' at character ${p}`);
        p++;
        obj.set(key, value(depth + 1));
        ws();
        if (text[p] === ',') p++;
        else if (text[p] === '}') {
          p++;
          return obj;
        } else fail(`expected ',' or '}' at character ${p}`);
      }
    }
    if (c === '[') {
      p++;
      const arr: Json[] = [];
      ws();
      if (text[p] === ']') {
        p++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[p] === ',') p++;
        else if (text[p] === ']') {
          p++;
          return arr;
        } else fail(`expected ',' or ']' at character ${p}`);
      }
    }
    if (c === '"') return str();
    if (c === 't' || c === 'f' || c === 'n') {
      for (const [word, v] of LITERALS) {
        if (text.startsWith(word, p)) {
          p += word.length;
          return v;
        }
      }
    }
    NUMBER.lastIndex = p;
    const m = NUMBER.exec(text);
    if (!m) return fail(`unexpected character at ${p}`);
    p += m[0].length;
    const v = Number(m[0]);
    // '-0' is kept verbatim: it is no count, and printing it as 0 would hide what the file says.
    return m[1] === undefined && m[2] === undefined && Number.isSafeInteger(v) && !Object.is(v, -0) ? v : new NonIntegerNumber(m[0]);
  };
  const root = value(0);
  ws();
  if (p !== text.length) fail(`unexpected text after the JSON value at character ${p}`);
  return root;
}

/** A header value as the file wrote it (numbers verbatim, however large), for error messages. */
function describe(v: Json): string {
  if (v instanceof NonIntegerNumber) return v.raw;
  if (v instanceof Map) return 'an object';
  if (Array.isArray(v)) return `[${v.map(describe).join(', ')}]`;
  return JSON.stringify(v);
}

function isCount(v: Json): v is number {
  return typeof v === 'number' && v >= 0;
}

/**
 * Serialise tensors (data in the given order, contiguous) with an optional `__metadata__` string map. The
 * header is padded with spaces so the data section starts at a multiple of 8.
 */
export function writeSafetensors(tensors: Record<string, SafeTensor>, metadata?: Record<string, string>): Uint8Array {
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new IrllrecError('format', `writeSafetensors: metadata '${k}' must be a string, got ${typeof v}`);
      if (hasLoneSurrogate(k) || hasLoneSurrogate(v)) throw new IrllrecError('format', `writeSafetensors: metadata ${JSON.stringify(k)} has an unpaired surrogate (not valid Unicode)`);
    }
    parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === METADATA_KEY) throw new IrllrecError('format', `writeSafetensors: '${METADATA_KEY}' is reserved and cannot name a tensor`);
    if (hasLoneSurrogate(name)) throw new IrllrecError('format', `writeSafetensors: tensor name ${JSON.stringify(name)} has an unpaired surrogate (not valid Unicode)`);
    if (!Object.hasOwn(DTYPE_BITS, t.dtype)) throw new IrllrecError('format', `writeSafetensors: tensor '${name}' has unknown dtype '${t.dtype}'`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new IrllrecError('shape', `writeSafetensors: tensor '${name}' shape [${t.shape.join(', ')}] must hold non-negative integers`);
    }
    const size = byteSize(t.dtype, t.shape);
    const bytes = size === null ? NaN : Number(size);
    if (bytes !== t.data.length) {
      throw new IrllrecError('shape', `writeSafetensors: tensor '${name}' has ${t.data.length} bytes, shape [${t.shape.join(', ')}] of ${t.dtype} needs ${bytes}`);
    }
    // `+ 0` turns a -0 dimension into 0: the writer never produces '-0'.
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape.map((d) => d + 0), data_offsets: [offset, offset + bytes] })}`);
    offset += bytes;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, headerLen, true);
  dv.setUint32(4, 0, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let at = 8 + headerLen;
  for (const [, t] of entries) {
    out.set(t.data, at);
    at += t.data.length;
  }
  return out;
}

/**
 * Parse a safetensors file strictly (see the file comment). Every declared size is checked against the
 * file size before anything is allocated; tensor data are views into `bytes`. Errors are
 * IrllrecError('format') naming the source, the tensor and the problem.
 */
export function readSafetensors(
  bytes: Uint8Array,
  source = 'model.safetensors',
  opts: { maxHeaderBytes?: number } = {},
): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  refusePickle(bytes, source);
  const maxHeader = Math.min(opts.maxHeaderBytes ?? MAX_HEADER_BYTES, MAX_HEADER_BYTES);
  if (bytes.length < 8) throw formatError(source, `not a safetensors file: ${bytes.length} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = dv.getBigUint64(0, true); // exact, up to 2^64 − 1
  if (declared > BigInt(maxHeader)) throw formatError(source, `header length ${declared} exceeds the ${maxHeader}-byte limit`);
  const headerLen = Number(declared);
  if (8 + headerLen > bytes.length) throw formatError(source, `header length ${headerLen} runs past the end of the file (${bytes.length} bytes)`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw formatError(source, 'the header is not valid UTF-8');
  }
  // Whitespace before the object is valid JSON (and accepted by the reference); anything else is not.
  if (text[text.search(/[^ \t\n\r]/)] !== '{') throw formatError(source, "the header does not start with '{'");
  const root = parseJsonStrict(text, (msg) => {
    throw formatError(source, `bad header JSON: ${msg}`);
  });
  if (!(root instanceof Map)) throw formatError(source, 'the header is not a JSON object');
  const dataLen = bytes.length - 8 - headerLen;
  const data = bytes.subarray(8 + headerLen);

  // No prototype: keys such as '__proto__' or 'constructor' are kept as the data they are.
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const spans: { name: string; begin: number; end: number }[] = [];
  const infos = new Map<string, { dtype: SafeDtype; shape: number[]; begin: number; end: number }>();
  for (const [name, entry] of root) {
    if (name === METADATA_KEY) {
      if (entry === null) continue; // null: no metadata
      if (!(entry instanceof Map)) throw formatError(source, `'${METADATA_KEY}' must be an object of strings or null, got ${describe(entry)}`);
      for (const [k, v] of entry) {
        if (typeof v !== 'string') throw formatError(source, `metadata '${k}' must be a string, got ${describe(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `tensor '${name}'`;
    if (!(entry instanceof Map)) throw formatError(source, `${where}: expected an object, got ${describe(entry)}`);
    for (const key of entry.keys()) {
      if (key !== 'dtype' && key !== 'shape' && key !== 'data_offsets') throw formatError(source, `${where}: unexpected key '${key}'`);
    }
    const dtype = entry.get('dtype');
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BITS, dtype)) {
      throw formatError(source, `${where}: unknown dtype ${dtype === undefined ? '(missing)' : describe(dtype)} (the format's: ${Object.keys(DTYPE_BITS).join(', ')})`);
    }
    const shape = entry.get('shape');
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw formatError(source, `${where}: shape must be an array of non-negative integers, got ${shape === undefined ? '(missing)' : describe(shape)}`);
    }
    const offsets = entry.get('data_offsets');
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw formatError(source, `${where}: data_offsets must be [begin, end] non-negative integers, got ${offsets === undefined ? '(missing)' : describe(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end) throw formatError(source, `${where}: data_offsets [${begin}, ${end}] has begin > end`);
    if (end > dataLen) throw formatError(source, `${where}: data_offsets [${begin}, ${end}] run past the data section (${dataLen} bytes)`);
    // Exact (BigInt): a product beyond 2^53 is printed as it is, not rounded.
    const needed = byteSize(dtype as SafeDtype, shape as number[]);
    if (needed === null) throw formatError(source, `${where}: shape [${shape.join(', ')}] of ${dtype} does not fill a whole number of bytes`);
    if (needed !== BigInt(end - begin)) {
      throw formatError(source, `${where}: shape [${shape.join(', ')}] of ${dtype} needs ${needed} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    infos.set(name, { dtype: dtype as SafeDtype, shape: shape as number[], begin, end });
    spans.push({ name, begin, end });
  }

  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const s of spans) {
    if (s.begin < covered) throw formatError(source, `tensor '${s.name}': data_offsets [${s.begin}, ${s.end}] overlap another tensor's bytes (up to ${covered})`);
    if (s.begin > covered) throw formatError(source, `tensor '${s.name}': bytes ${covered}…${s.begin} before it belong to no tensor`);
    covered = s.end;
  }
  if (covered !== dataLen) throw formatError(source, `the data section has ${dataLen} bytes but the tensors cover only ${covered}`);

  const tensors = new Map<string, SafeTensor>();
  for (const [name, info] of infos) tensors.set(name, { dtype: info.dtype, shape: info.shape, data: data.subarray(info.begin, info.end) });
  return { tensors, metadata };
}

/** IEEE half → float: sign, 5-bit exponent (bias 15), 10-bit mantissa; subnormals and inf/NaN handled. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The dtypes `tensorToFloat32` converts, with their element sizes. */
const FLOAT_SIZE = { F32: 4, F64: 8, F16: 2, BF16: 2 } as const;

/**
 * Float tensor → new Float32Array (F32 copied, F64 rounded, F16/BF16 widened). Works on data at any byte
 * offset (the bytes are copied before being viewed). Integer dtypes are an error.
 */
export function tensorToFloat32(t: SafeTensor, name = 'tensor'): Float32Array {
  const itemSize = FLOAT_SIZE[t.dtype as keyof typeof FLOAT_SIZE];
  if (itemSize === undefined) throw new IrllrecError('format', `${name}: unsupported dtype ${t.dtype} (float tensors are read from F32, F64, F16 or BF16)`);
  const count = t.shape.reduce((a, d) => a * d, 1);
  if (count * itemSize !== t.data.length) {
    throw new IrllrecError('format', `${name}: ${t.data.length} bytes, shape [${t.shape.join(', ')}] of ${t.dtype} needs ${count * itemSize}`);
  }
  const out = new Float32Array(count);
  if (t.dtype === 'F32' && LITTLE_ENDIAN_HOST) {
    new Uint8Array(out.buffer).set(t.data);
    return out;
  }
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  switch (t.dtype) {
    case 'F32':
      for (let k = 0; k < count; k++) out[k] = dv.getFloat32(4 * k, true);
      break;
    case 'F64':
      for (let k = 0; k < count; k++) out[k] = dv.getFloat64(8 * k, true);
      break;
    case 'F16':
      for (let k = 0; k < count; k++) out[k] = halfToFloat(dv.getUint16(2 * k, true));
      break;
    case 'BF16': {
      // bfloat16 is the upper half of a float32 (the u32 and f32 views share the host's byte order).
      const bits = new Uint32Array(out.buffer);
      for (let k = 0; k < count; k++) bits[k] = dv.getUint16(2 * k, true) << 16;
      break;
    }
    default:
      throw new IrllrecError('format', `${name}: unsupported dtype ${t.dtype}`);
  }
  return out;
}

/** A little-endian F32 tensor over `data` (a view, no copy, on little-endian hosts). */
export function float32Tensor(data: Float32Array, shape: number[]): SafeTensor {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new IrllrecError('shape', `float32Tensor: shape [${shape.join(', ')}] must hold non-negative integers`);
  const count = shape.reduce((a, d) => a * d, 1);
  if (count !== data.length) throw new IrllrecError('shape', `float32Tensor: ${data.length} values, shape [${shape.join(', ')}] needs ${count}`);
  if (LITTLE_ENDIAN_HOST) return { dtype: 'F32', shape: [...shape], data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  const bytes = new Uint8Array(4 * count);
  const dv = new DataView(bytes.buffer);
  for (let k = 0; k < count; k++) dv.setFloat32(4 * k, data[k], true);
  return { dtype: 'F32', shape: [...shape], data: bytes };
}
