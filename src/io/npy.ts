/**
 * NumPy `.npy` files (format versions 1.0, 2.0, 3.0) holding float matrices: the text-embedding files of
 * spec §1.8. Layout: magic `\x93NUMPY`, major, minor, header length (u16 LE in v1, u32 LE in v2/v3), a
 * Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (r, c), }` padded with spaces and
 * ended by '\n' (latin-1 in v1/v2, UTF-8 in v3), then the raw data. Browser-safe.
 */
import { IrllrecError } from '../errors.js';
import { refusePickle } from './pickle.js';
import type { Matrix } from '../data/types.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93 N U M P Y
/** NumPy's own reader refuses headers over 10,000 bytes by default; a 2-D float header is ~128 bytes. */
const MAX_HEADER_BYTES = 1 << 20;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function formatError(source: string, message: string): IrllrecError {
  return new IrllrecError('format', `${source}: ${message}`);
}

type PyValue = string | boolean | number[];

/**
 * Parses the header dict: string keys; values are strings, True/False, or tuples of non-negative integers
 * (a trailing comma allowed, `(n,)` for one dimension). Anything else is a syntax error.
 */
function parseHeaderDict(text: string, source: string): Map<string, PyValue> {
  let p = 0;
  const fail = (what: string): never => {
    throw formatError(source, `bad .npy header at character ${p}: ${what} (header: ${JSON.stringify(text.slice(0, 200))})`);
  };
  const ws = () => {
    while (p < text.length && (text[p] === ' ' || text[p] === '\t' || text[p] === '\n' || text[p] === '\r')) p++;
  };
  const expectChar = (c: string) => {
    ws();
    if (text[p] !== c) fail(`expected '${c}'`);
    p++;
  };
  const str = (): string => {
    ws();
    const q = text[p];
    if (q !== "'" && q !== '"') fail('expected a string');
    const end = text.indexOf(q, p + 1);
    if (end < 0) fail('unterminated string');
    const s = text.slice(p + 1, end);
    if (s.includes('\\')) fail('escapes in strings are not supported');
    p = end + 1;
    return s;
  };
  const value = (): PyValue => {
    ws();
    if (text[p] === "'" || text[p] === '"') return str();
    if (text.startsWith('True', p)) {
      p += 4;
      return true;
    }
    if (text.startsWith('False', p)) {
      p += 5;
      return false;
    }
    if (text[p] === '(') {
      p++;
      const dims: number[] = [];
      for (;;) {
        ws();
        if (text[p] === ')') {
          p++;
          break;
        }
        const m = /^\d+/.exec(text.slice(p, p + 32));
        if (!m) fail('expected a non-negative integer in the shape tuple');
        const v = Number(m![0]);
        if (!Number.isSafeInteger(v)) fail(`dimension ${m![0]} is too large`);
        dims.push(v);
        p += m![0].length;
        ws();
        if (text[p] === ',') p++;
        else if (text[p] !== ')') fail("expected ',' or ')' in the shape tuple");
      }
      return dims;
    }
    return fail('expected a string, True, False or a tuple');
  };

  const out = new Map<string, PyValue>();
  expectChar('{');
  for (;;) {
    ws();
    if (text[p] === '}') {
      p++;
      break;
    }
    const key = str();
    if (out.has(key)) fail(`duplicate key '${key}'`);
    expectChar(':');
    out.set(key, value());
    ws();
    if (text[p] === ',') p++;
    else if (text[p] !== '}') fail("expected ',' or '}'");
  }
  ws();
  if (p !== text.length) fail('unexpected text after the dict');
  return out;
}

/**
 * Parse a .npy file holding a 2-D (or 1-D → one column) float matrix, dtype '<f4' or '<f8' (converted to
 * float32), C order. Strict: magic, version, header length within the file, header syntax and keys, and
 * shape product × itemsize == remaining bytes, all checked before the output is allocated.
 * With `share`, little-endian '<f4' data whose offset is 4-byte aligned (always, for files numpy writes) is
 * returned as a view of `bytes` instead of a copy: no second copy of a large table, but the matrix then
 * changes if `bytes` does.
 */
export function parseNpy(bytes: Uint8Array, source = 'array.npy', opts: { share?: boolean } = {}): Matrix {
  refusePickle(bytes, source);
  if (bytes.length < 10) throw formatError(source, `not a .npy file: ${bytes.length} bytes, shorter than the 10-byte preamble`);
  for (let k = 0; k < MAGIC.length; k++) {
    if (bytes[k] !== MAGIC[k]) throw formatError(source, 'not a .npy file: the magic string \\x93NUMPY is missing');
  }
  const major = bytes[6];
  const minor = bytes[7];
  if (major < 1 || major > 3 || minor !== 0) throw formatError(source, `unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLen: number;
  if (major === 1) {
    headerStart = 10;
    headerLen = dv.getUint16(8, true);
  } else {
    if (bytes.length < 12) throw formatError(source, `truncated: ${bytes.length} bytes, shorter than the 12-byte v${major} preamble`);
    headerStart = 12;
    headerLen = dv.getUint32(8, true);
  }
  const dataStart = headerStart + headerLen;
  if (headerLen > MAX_HEADER_BYTES) throw formatError(source, `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (dataStart > bytes.length) {
    throw formatError(source, `truncated: the header claims ${headerLen} bytes but only ${bytes.length - headerStart} follow the preamble`);
  }
  const headerBytes = bytes.subarray(headerStart, dataStart);
  let header: string;
  if (major === 3) {
    try {
      header = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
    } catch {
      throw formatError(source, 'the v3 header is not valid UTF-8');
    }
  } else {
    // latin-1: one char per byte (chunked: spreading a long array would overflow the call stack).
    header = '';
    for (let k = 0; k < headerBytes.length; k += 8192) header += String.fromCharCode(...headerBytes.subarray(k, k + 8192));
  }
  const dict = parseHeaderDict(header, source);
  for (const key of dict.keys()) {
    if (key !== 'descr' && key !== 'fortran_order' && key !== 'shape') throw formatError(source, `unexpected header key '${key}'`);
  }
  const descr = dict.get('descr');
  const fortran = dict.get('fortran_order');
  const shape = dict.get('shape');
  if (typeof descr !== 'string') throw formatError(source, "header key 'descr' is missing or not a string");
  if (typeof fortran !== 'boolean') throw formatError(source, "header key 'fortran_order' is missing or not True/False");
  if (!Array.isArray(shape)) throw formatError(source, "header key 'shape' is missing or not a tuple");
  if (descr !== '<f4' && descr !== '<f8') throw formatError(source, `dtype '${descr}' is not supported (need '<f4' or '<f8')`);
  if (fortran) throw formatError(source, 'fortran_order True (column-major) is not supported: save the array in C order');
  if (shape.length < 1 || shape.length > 2) throw formatError(source, `shape (${shape.join(', ')}) is ${shape.length}-D; a 1-D or 2-D array is required`);

  const rows = shape[0];
  const cols = shape.length === 2 ? shape[1] : 1;
  const itemSize = descr === '<f4' ? 4 : 8;
  const count = rows * cols; // may be inexact beyond 2^53, but then it cannot match the file size
  const expectedBytes = count * itemSize;
  const foundBytes = bytes.length - dataStart;
  if (expectedBytes !== foundBytes) {
    throw formatError(
      source,
      `shape (${shape.join(', ')}) of ${descr} needs ${expectedBytes} data bytes but the file has ${foundBytes} after the header`,
    );
  }

  if (opts.share && itemSize === 4 && LITTLE_ENDIAN_HOST && (bytes.byteOffset + dataStart) % 4 === 0) {
    return { rows, cols, data: new Float32Array(bytes.buffer, bytes.byteOffset + dataStart, count) };
  }
  const data = new Float32Array(count);
  const body = bytes.subarray(dataStart);
  if (itemSize === 4 && LITTLE_ENDIAN_HOST) {
    new Uint8Array(data.buffer).set(body);
  } else if (itemSize === 8 && LITTLE_ENDIAN_HOST) {
    const tmp = new Float64Array(count);
    new Uint8Array(tmp.buffer).set(body);
    data.set(tmp);
  } else {
    const bdv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    for (let k = 0; k < count; k++) data[k] = itemSize === 4 ? bdv.getFloat32(4 * k, true) : bdv.getFloat64(8 * k, true);
  }
  return { rows, cols, data };
}

/** Serialise a matrix as .npy v1.0, '<f4', C order, header padded so the data starts at a multiple of 64. */
export function writeNpy(m: Matrix): Uint8Array {
  if (!Number.isInteger(m.rows) || !Number.isInteger(m.cols) || m.rows < 0 || m.cols < 0) {
    throw new IrllrecError('shape', `writeNpy: rows and cols must be non-negative integers, got ${m.rows}×${m.cols}`);
  }
  if (m.data.length !== m.rows * m.cols) {
    throw new IrllrecError('shape', `writeNpy: data has ${m.data.length} values, ${m.rows}×${m.cols} needs ${m.rows * m.cols}`);
  }
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${m.rows}, ${m.cols}), }`;
  const unpadded = 10 + dict.length + 1; // preamble + dict + '\n'
  const total = Math.ceil(unpadded / 64) * 64;
  const header = dict + ' '.repeat(total - unpadded) + '\n';
  const out = new Uint8Array(total + 4 * m.data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let k = 0; k < header.length; k++) out[10 + k] = header.charCodeAt(k);
  if (LITTLE_ENDIAN_HOST) {
    out.set(new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength), total);
  } else {
    const dv = new DataView(out.buffer, total);
    for (let k = 0; k < m.data.length; k++) dv.setFloat32(4 * k, m.data[k], true);
  }
  return out;
}
