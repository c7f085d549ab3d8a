/**
 * Seeded mutation fuzzing of irllrec's file loaders (shared by test/reliability/fuzz.test.ts and
 * bench/fuzz.ts). Each loader gets a few valid seed files; every case applies 1–3 random mutations
 * (truncation, bit flips, byte insert/delete/duplicate, interesting integers written over the bytes,
 * non-UTF-8 bytes, and format-aware edits of npy / safetensors headers: huge or negative sizes, wrong
 * dtypes, overflowing offsets, duplicate names) and runs the loader. The contract checked per case:
 * the loader returns, or throws an IrllrecError with a non-empty message; it takes < `maxCaseMs`; and
 * `process.memoryUsage().arrayBuffers` grows by less than 64 MiB + 16 × the input size (a loader must never
 * allocate what the file's own size does not justify).
 */
import { datasetFromFiles } from '../../src/data/interactions.js';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { IrllrecError } from '../../src/errors.js';
import { parseModelFile, serializeModel } from '../../src/io/modelfile.js';
import { parseNpy, writeNpy } from '../../src/io/npy.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../../src/io/safetensors.js';
import { CpuBackend } from '../../src/ops/tensor.js';
import { parseCheckpoint, serializeCheckpoint, captureCheckpoint } from '../../src/train/checkpoint.js';
import { createModel } from '../../src/train/trainer.js';
import { Rng } from '../../src/util/random.js';

export interface FuzzTarget {
  name: string;
  /** Valid inputs the mutations start from. */
  seeds: Uint8Array[];
  /** Runs the loader on one input (throws on invalid input). */
  load: (bytes: Uint8Array) => unknown;
  /** Format-aware mutations in addition to the generic byte-level ones. */
  mutators?: Mutator[];
}

export type Mutator = (b: Uint8Array, r: Rng) => Uint8Array;

export interface FuzzFailure {
  target: string;
  caseIndex: number;
  mutations: string[];
  problem: string;
  input: Uint8Array;
}

export interface FuzzReport {
  target: string;
  cases: number;
  valid: number;
  typed: number;
  /** Count per IrllrecError code. */
  codes: Record<string, number>;
  failures: FuzzFailure[];
  maxCaseMs: number;
  totalMs: number;
  /** Largest arrayBuffers growth over one case, bytes. */
  maxGrowth: number;
}

const MiB = 1 << 20;
const enc = new TextEncoder();
const dec = new TextDecoder('latin1');

// ---------------------------------------------------------------- generic byte mutations

/** Integers that break size arithmetic: 0, ±1, 2^31±1, 2^32−1, 2^53±1, u64 max. */
const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x10000];
const INTERESTING_TEXT = [
  '-1', '0', '4294967295', '4294967296', '9007199254740993', '18446744073709551615', '1e309', '-0', '1.5', 'NaN',
  '99999999999999999999999', '2147483648', '1e3', '',
];

function pos(b: Uint8Array, r: Rng): number {
  return b.length === 0 ? 0 : r.int(b.length);
}

const truncate: Mutator = (b, r) => b.slice(0, r.int(b.length + 1));
const bitFlip: Mutator = (b, r) => {
  const out = b.slice();
  const n = 1 + r.int(8);
  for (let k = 0; k < n && out.length > 0; k++) out[pos(out, r)] ^= 1 << r.int(8);
  return out;
};
const byteSet: Mutator = (b, r) => {
  const out = b.slice();
  if (out.length > 0) out[pos(out, r)] = r.int(256);
  return out;
};
const insertBytes: Mutator = (b, r) => {
  const at = r.int(b.length + 1);
  const n = 1 + r.int(16);
  const ins = new Uint8Array(n);
  for (let k = 0; k < n; k++) ins[k] = r.int(256);
  const out = new Uint8Array(b.length + n);
  out.set(b.subarray(0, at));
  out.set(ins, at);
  out.set(b.subarray(at), at + n);
  return out;
};
const deleteBytes: Mutator = (b, r) => {
  const at = pos(b, r);
  const n = 1 + r.int(Math.min(64, Math.max(1, b.length - at)));
  const out = new Uint8Array(Math.max(0, b.length - n));
  out.set(b.subarray(0, at));
  out.set(b.subarray(at + n), at);
  return out;
};
const duplicateRange: Mutator = (b, r) => {
  const at = pos(b, r);
  const n = 1 + r.int(Math.min(256, Math.max(1, b.length - at)));
  const chunk = b.slice(at, at + n);
  const out = new Uint8Array(b.length + chunk.length);
  out.set(b.subarray(0, at + chunk.length));
  out.set(chunk, at + chunk.length);
  out.set(b.subarray(at + chunk.length), at + 2 * chunk.length);
  return out;
};
const interestingU32: Mutator = (b, r) => {
  const out = b.slice();
  if (out.length < 4) return out;
  // Mostly near the start, where the length fields live.
  const at = r.next() < 0.5 ? r.int(Math.min(16, out.length - 3)) : r.int(out.length - 3);
  new DataView(out.buffer).setUint32(at, INTERESTING_U32[r.int(INTERESTING_U32.length)], true);
  return out;
};
/** Invalid UTF-8: a lone continuation byte, a truncated 2-byte lead, an overlong NUL, 0xff. */
const nonUtf8: Mutator = (b, r) => {
  const seqs = [[0x80], [0xc3], [0xc0, 0x80], [0xff], [0xed, 0xa0, 0x80], [0xfe, 0xfe]];
  const s = seqs[r.int(seqs.length)];
  const at = r.int(b.length + 1);
  const out = new Uint8Array(b.length + s.length);
  out.set(b.subarray(0, at));
  out.set(s, at);
  out.set(b.subarray(at), at + s.length);
  return out;
};

export const genericMutators: [string, Mutator][] = [
  ['truncate', truncate],
  ['bitflip', bitFlip],
  ['byteset', byteSet],
  ['insert', insertBytes],
  ['delete', deleteBytes],
  ['duplicate', duplicateRange],
  ['u32', interestingU32],
  ['non-utf8', nonUtf8],
];

// ---------------------------------------------------------------- text-level mutations

/** Replace the k-th run of digits (random k) with an interesting number or text. */
function replaceNumber(text: string, r: Rng): string {
  const runs = [...text.matchAll(/-?\d+/g)];
  if (runs.length === 0) return text;
  const m = runs[r.int(runs.length)];
  return text.slice(0, m.index) + INTERESTING_TEXT[r.int(INTERESTING_TEXT.length)] + text.slice(m.index! + m[0].length);
}

const textNumber: Mutator = (b, r) => enc.encode(replaceNumber(new TextDecoder().decode(b), r));
const textSeparator: Mutator = (b, r) => {
  const t = new TextDecoder().decode(b);
  const seps = ['\t', ',', ' ', '\r\n', '\n\n', ';', '\t\t', ',,'];
  const from = ['\t', '\n', ','][r.int(3)];
  const at = t.indexOf(from, r.int(t.length + 1));
  if (at < 0) return b;
  return enc.encode(t.slice(0, at) + seps[r.int(seps.length)] + t.slice(at + 1));
};
const textHeader: Mutator = (b, r) => {
  const headers = ['user\titem\n', 'user,item,rating\n', 'userId itemId\n', '\ufeffuser\titem\n', '# comment\n'];
  return enc.encode(headers[r.int(headers.length)] + new TextDecoder().decode(b));
};

/** A number in the last file of a 0x00-joined seed (meta.json for the interactions target). */
const lastFileNumber: Mutator = (b, r) => {
  const at = b.lastIndexOf(0) + 1;
  const tail = enc.encode(replaceNumber(new TextDecoder().decode(b.subarray(at)), r));
  const out = new Uint8Array(at + tail.length);
  out.set(b.subarray(0, at));
  out.set(tail, at);
  return out;
};

export const textMutators: Mutator[] = [textNumber, textNumber, textSeparator, textHeader, lastFileNumber];

// ---------------------------------------------------------------- npy header mutations

function npyEdit(b: Uint8Array, edit: (header: string, r: Rng) => string, r: Rng): Uint8Array {
  if (b.length < 10 || b[6] !== 1) return b;
  const hlen = b[8] | (b[9] << 8);
  if (10 + hlen > b.length) return b;
  const header = edit(dec.decode(b.subarray(10, 10 + hlen)), r);
  const hb = new Uint8Array(header.length);
  for (let k = 0; k < header.length; k++) hb[k] = header.charCodeAt(k) & 0xff;
  const out = new Uint8Array(10 + hb.length + b.length - 10 - hlen);
  out.set(b.subarray(0, 8));
  out[8] = hb.length & 0xff;
  out[9] = (hb.length >> 8) & 0xff;
  out.set(hb, 10);
  out.set(b.subarray(10 + hlen), 10 + hb.length);
  return out;
}

const NPY_SHAPES = ['(4294967296, 4294967296)', '(9007199254740993, 1)', '(100000000000, 8)', '(0, 0)', '(-1, 4)', '()', '(3, 4, 5)', '(1,)', '(3, 4)'];
const NPY_DESCRS = ['<f4', '<f8', '<i4', '>f4', '<f2', '|u1', '<c8', 'O', '<f16', ''];
export const npyMutators: Mutator[] = [
  (b, r) => npyEdit(b, (h) => h.replace(/\([^)]*\)/, NPY_SHAPES[r.int(NPY_SHAPES.length)]), r),
  (b, r) => npyEdit(b, (h) => h.replace(/'<f[48]'/, `'${NPY_DESCRS[r.int(NPY_DESCRS.length)]}'`), r),
  (b, r) => npyEdit(b, (h) => h.replace('False', r.next() < 0.5 ? 'True' : 'None'), r),
  (b, r) => npyEdit(b, (h) => replaceNumber(h, r), r),
  (b, r) => npyEdit(b, (h) => h.replace("'descr'", r.next() < 0.5 ? "'shape'" : "'extra'"), r),
  // Version byte: v2/v3 read a u32 header length from bytes 8..11.
  (b, r) => {
    const out = b.slice();
    if (out.length > 7) out[6] = r.int(5);
    return out;
  },
];

// ---------------------------------------------------------------- safetensors header mutations

function stEdit(b: Uint8Array, edit: (header: string, r: Rng) => string, r: Rng): Uint8Array {
  if (b.length < 8) return b;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = dv.getUint32(0, true);
  if (dv.getUint32(4, true) !== 0 || 8 + n > b.length) return b;
  const header = enc.encode(edit(new TextDecoder().decode(b.subarray(8, 8 + n)), r));
  const out = new Uint8Array(8 + header.length + b.length - 8 - n);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 8);
  out.set(b.subarray(8 + n), 8 + header.length);
  return out;
}

const ST_DTYPES = ['F32', 'F64', 'I32', 'U32', 'I64', 'F16', 'BF16', 'U8', 'BOOL', 'f32', ''];
const ST_NUMBERS = ['-1', '-8', '1e400', '1.5', '18446744073709551616', '9007199254740993', '4294967296', '0', '1099511627776'];
export const safetensorsMutators: Mutator[] = [
  // Wrong dtype.
  (b, r) => stEdit(b, (h) => {
    const all = [...h.matchAll(/"dtype":"[A-Z0-9]+"/g)];
    if (all.length === 0) return h;
    const m = all[r.int(all.length)];
    return h.slice(0, m.index) + `"dtype":"${ST_DTYPES[r.int(ST_DTYPES.length)]}"` + h.slice(m.index! + m[0].length);
  }, r),
  // Huge / negative / fractional / overflowing shape dims and data offsets.
  (b, r) => stEdit(b, (h) => {
    const all = [...h.matchAll(/(?<=[[,])\d+(?=[\],])/g)];
    if (all.length === 0) return h;
    const m = all[r.int(all.length)];
    return h.slice(0, m.index) + ST_NUMBERS[r.int(ST_NUMBERS.length)] + h.slice(m.index! + m[0].length);
  }, r),
  // Shape product that equals the span only modulo 2^32 or via huge dims.
  (b, r) => stEdit(b, (h) => h.replace(/"shape":\[[^\]]*\]/, r.next() < 0.5 ? '"shape":[4294967296,4294967296,0]' : '"shape":[65536,65536,65536,65536]'), r),
  // Duplicate tensor name: repeat the first entry.
  (b, r) => stEdit(b, (h) => {
    const m = /"[^"]+":\{"dtype"[^}]*\}/.exec(h);
    return m ? h.replace(m[0], `${m[0]},${m[0]}`) : h;
  }, r),
  // Metadata values: numbers inside the (stringified JSON) metadata.
  (b, r) => stEdit(b, (h) => {
    const at = h.indexOf('"__metadata__"');
    if (at < 0) return h;
    return h.slice(0, at) + replaceNumber(h.slice(at), r);
  }, r),
  // Swap data_offsets begin/end.
  (b, r) => stEdit(b, (h) => h.replace(/"data_offsets":\[(\d+),(\d+)\]/, '"data_offsets":[$2,$1]'), r),
  // Nesting / non-object values.
  (b, r) => stEdit(b, (h) => {
    const subs = ['[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1', 'null', '"x"', '{"__metadata__":{"a":1}}'];
    const s = subs[r.int(subs.length)];
    return s.startsWith('{') ? s : h.replace(/\{"dtype"[^}]*\}/, s);
  }, r),
  // Header length field in the high word.
  (b, r) => {
    const out = b.slice();
    if (out.length >= 8) new DataView(out.buffer).setUint32(4, r.int(3), true);
    return out;
  },
];

// ---------------------------------------------------------------- seeds

function npySeeds(): Uint8Array[] {
  const r = new Rng(5);
  const m = (rows: number, cols: number) => {
    const data = new Float32Array(rows * cols);
    for (let k = 0; k < data.length; k++) data[k] = r.uniform(-1, 1);
    return writeNpy({ rows, cols, data });
  };
  // A v1 '<f8' 1-D file and a v2 file built by hand.
  const f8 = (() => {
    const dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }";
    const total = 128;
    const header = dict + ' '.repeat(total - 10 - dict.length - 1) + '\n';
    const out = new Uint8Array(total + 40);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(out.buffer).setUint16(8, header.length, true);
    for (let k = 0; k < header.length; k++) out[10 + k] = header.charCodeAt(k);
    new Float64Array(out.buffer, total, 5).set([1, -2, 3.5, 1e-300, 0]);
    return out;
  })();
  const v2 = (() => {
    const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    const total = 128;
    const header = dict + ' '.repeat(total - 12 - dict.length - 1) + '\n';
    const out = new Uint8Array(total + 24);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]);
    new DataView(out.buffer).setUint32(8, header.length, true);
    for (let k = 0; k < header.length; k++) out[12 + k] = header.charCodeAt(k);
    return out;
  })();
  return [m(7, 5), m(1, 16), m(0, 4), f8, v2];
}

function safetensorsSeeds(): Uint8Array[] {
  const f32 = (n: number): SafeTensor => ({ dtype: 'F32', shape: [n], data: new Uint8Array(new Float32Array(n).fill(0.5).buffer) });
  return [
    writeSafetensors({ a: { dtype: 'F32', shape: [2, 3], data: new Uint8Array(24) }, b: f32(5), c: { dtype: 'I64', shape: [2], data: new Uint8Array(16) } }, { note: 'x', n: '42' }),
    writeSafetensors({ h: { dtype: 'F16', shape: [3, 1], data: new Uint8Array(6) }, bf: { dtype: 'BF16', shape: [4], data: new Uint8Array(8) } }),
    writeSafetensors({ empty: { dtype: 'F64', shape: [0, 3], data: new Uint8Array(0) }, s: { dtype: 'U32', shape: [], data: new Uint8Array(4) } }),
  ];
}

/** `u<TAB>i` lines (numeric or string ids) for train / val / test. */
function tsvSeeds(): Uint8Array[][] {
  const ds = syntheticDataset({ seed: 3, numUsers: 12, numItems: 15, numIntents: 2, textDim: 4, interactionsPerUser: 5 });
  const lines = (s: { users: Uint32Array; items: Uint32Array }, sep: string, prefix: string) => {
    let t = '';
    for (let k = 0; k < s.users.length; k++) t += `${prefix}${s.users[k]}${sep}${prefix}${s.items[k]}\n`;
    return enc.encode(t);
  };
  // meta.json fixes the counts: its numbers are mutated too (a declared count of ~2^32 users must not
  // make the loader allocate per-user tables).
  const meta = enc.encode(JSON.stringify({ name: 'fuzz', users: 12, items: 15, train: ds.train.users.length }));
  return [
    [lines(ds.train, '\t', ''), lines(ds.val, '\t', ''), lines(ds.test, '\t', '')],
    [lines(ds.train, '\t', ''), lines(ds.val, '\t', ''), lines(ds.test, '\t', ''), meta],
    [lines(ds.train, ',', 'id'), lines(ds.val, ',', 'id'), lines(ds.test, ',', 'id')],
  ];
}

const TSV_NAMES = ['train.tsv', 'val.tsv', 'test.tsv', 'meta.json'] as const;

/** Model files and checkpoints of tiny LightGCN / IRLLRec models built on the CPU backend. */
async function modelSeeds(): Promise<{ models: Uint8Array[]; checkpoints: Uint8Array[] }> {
  const be = new CpuBackend({ precision: 'f32' });
  const data = syntheticDataset({ seed: 9, numUsers: 6, numItems: 7, numIntents: 2, textDim: 4, interactionsPerUser: 3 });
  const models: Uint8Array[] = [];
  const checkpoints: Uint8Array[] = [];
  for (const kind of ['lightgcn', 'irllrec'] as const) {
    const config = kind === 'lightgcn' ? { embeddingDim: 4, layers: 1 } : { embeddingDim: 4, layers: 1, numIntents: 2 };
    const model = createModel(be, data, { model: kind, config, seed: 1 });
    models.push(await serializeModel(model, { train: data.train, userIds: data.userIds, itemIds: data.itemIds, datasetName: 'fuzz' }));
    const losses = { bpr: 0.69, reg: 0, kd: 0, kd_int: 0, ssl: 0, itm: 0, cl: 0, total: 0.69 };
    const state = { epoch: 1, steps: 3, rngState: 77, best: 0.25, bestEpoch: 0, patience: 0, history: [{ epoch: 0, steps: 3, losses, seconds: 0.1, val: { 'recall@20': 0.25 }, improved: true }] };
    checkpoints.push(serializeCheckpoint(await captureCheckpoint(model, state, null, data)));
    model.dispose();
  }
  return { models, checkpoints };
}

/** The five loader targets with their seeds. */
export async function fuzzTargets(): Promise<FuzzTarget[]> {
  const { models, checkpoints } = await modelSeeds();
  // TSV: the seed is the three splits (and meta.json) joined by 0x00 separators; a mutation hits one file
  // (or the separators themselves, which then merges / splits files).
  const tsv = tsvSeeds().map((files) => {
    const out = new Uint8Array(files.reduce((a, f) => a + f.length, files.length - 1));
    let at = 0;
    for (const f of files) {
      out.set(f, at);
      at += f.length + 1;
    }
    return out;
  });
  const unjoin = (b: Uint8Array): Record<string, Uint8Array> => {
    const files: Record<string, Uint8Array> = {};
    let start = 0;
    let k = 0;
    for (let i = 0; i <= b.length && k < TSV_NAMES.length; i++) {
      if (i === b.length || b[i] === 0) {
        files[TSV_NAMES[k++]] = b.subarray(start, i);
        start = i + 1;
      }
    }
    return files;
  };
  return [
    { name: 'interactions (tsv/csv)', seeds: tsv, load: (b) => datasetFromFiles(unjoin(b)), mutators: textMutators },
    { name: 'npy', seeds: npySeeds(), load: (b) => parseNpy(b, 'fuzz.npy'), mutators: npyMutators },
    { name: 'safetensors', seeds: safetensorsSeeds(), load: (b) => readSafetensors(b, 'fuzz.safetensors'), mutators: safetensorsMutators },
    { name: 'model file', seeds: models, load: (b) => parseModelFile(b, 'fuzz.irllrec'), mutators: safetensorsMutators },
    { name: 'checkpoint', seeds: checkpoints, load: (b) => parseCheckpoint(b, 'fuzz.ckpt'), mutators: safetensorsMutators },
  ];
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.constructor.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 4).join('\n')}`;
  return `non-Error thrown: ${String(e)}`;
}

/**
 * Runs `cases` seeded cases against one target. Generic and format-aware mutations are chosen with equal
 * weight; 1–3 are stacked per case.
 */
export function fuzzTarget(target: FuzzTarget, cases: number, seed = 1, opts: { maxCaseMs?: number } = {}): FuzzReport {
  const maxCaseMs = opts.maxCaseMs ?? 2000;
  const r = new Rng(seed);
  const special: [string, Mutator][] = (target.mutators ?? []).map((m, k) => [`format#${k}`, m]);
  const report: FuzzReport = { target: target.name, cases, valid: 0, typed: 0, codes: {}, failures: [], maxCaseMs: 0, totalMs: 0, maxGrowth: 0 };
  const t0 = performance.now();
  for (let c = 0; c < cases; c++) {
    let input = target.seeds[r.int(target.seeds.length)];
    const applied: string[] = [];
    const n = 1 + r.int(3);
    for (let k = 0; k < n; k++) {
      const pool = special.length > 0 && r.next() < 0.5 ? special : genericMutators;
      const [name, m] = pool[r.int(pool.length)];
      input = m(input, r);
      applied.push(name);
    }
    const before = process.memoryUsage().arrayBuffers;
    const start = performance.now();
    let problem: string | null = null;
    let result: unknown = null;
    try {
      result = target.load(input);
      report.valid++;
    } catch (e) {
      if (e instanceof IrllrecError && typeof e.message === 'string' && e.message.trim() !== '') {
        report.typed++;
        report.codes[e.code] = (report.codes[e.code] ?? 0) + 1;
      } else {
        problem = describeError(e);
      }
    }
    const ms = performance.now() - start;
    // Measured while the result is still referenced: what the loader kept is what it allocated.
    const growth = process.memoryUsage().arrayBuffers - before;
    result = null;
    report.maxCaseMs = Math.max(report.maxCaseMs, ms);
    report.maxGrowth = Math.max(report.maxGrowth, growth);
    if (problem === null && ms > maxCaseMs) problem = `took ${ms.toFixed(0)} ms (limit ${maxCaseMs} ms)`;
    if (problem === null && growth > 64 * MiB + 16 * input.length) problem = `arrayBuffers grew by ${(growth / MiB).toFixed(1)} MiB for a ${input.length}-byte input`;
    if (problem !== null) report.failures.push({ target: target.name, caseIndex: c, mutations: applied, problem, input });
  }
  report.totalMs = performance.now() - t0;
  return report;
}
