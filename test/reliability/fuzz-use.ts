/**
 * Structure-aware fuzzing that goes past the parsers (issue 12): valid model files, checkpoints and dataset
 * directories are edited field by field — config values, counters, id maps, tensor scales, shapes and dtypes,
 * meta.json counts, ids and lines — and each case is then USED: `Recommender.load` + `recommend`, a model built
 * from the file and `fit` for one step, `resumeFrom` + `fit` + `recommend`, `datasetFromFiles` + `fit` +
 * `recommend`. Contract per case: it succeeds with a correct result (finite scores, item ids in range) or
 * throws an IrllrecError with a message; it takes < `maxCaseMs`; arrayBuffers grow by < 64 MiB + 16 × input.
 * Shared by test/reliability/fuzz.test.ts (CI size) and bench/fuzz.ts (`npm run fuzz`). CPU backend.
 */
import { buildGraph } from '../../src/data/graph.js';
import { datasetFromFiles } from '../../src/data/interactions.js';
import type { Dataset } from '../../src/data/types.js';
import { IrllrecError } from '../../src/errors.js';
import { parseModelFile } from '../../src/io/modelfile.js';
import { type SafeTensor, float32Tensor, readSafetensors, tensorToFloat32, writeSafetensors } from '../../src/io/safetensors.js';
import { RecModel } from '../../src/models/model.js';
import { CpuBackend } from '../../src/ops/tensor.js';
import { Recommender } from '../../src/serve/recommender.js';
import { captureCheckpoint, parseCheckpoint, resumeFrom, serializeCheckpoint } from '../../src/train/checkpoint.js';
import { fit } from '../../src/train/trainer.js';
import { Rng } from '../../src/util/random.js';
import type { FuzzReport } from './fuzz.js';
import { modelBytes, smallData, tsvOf } from './hostile-files.js';

type Mut<T> = [string, (x: T, r: Rng) => T];

export interface UseTarget<T> {
  name: string;
  seeds: T[];
  mutators: Mut<T>[];
  /** Uses one input end to end (throws on invalid input, or an Error naming a wrong result). */
  use: (x: T) => Promise<unknown>;
  size: (x: T) => number;
}

const MiB = 1 << 20;
const pick = <T>(r: Rng, a: readonly T[]): T => a[r.int(a.length)];
const HOSTILE_NUMBERS = [0, -1, 1.5, 1e6, 1e8, 4294967295, 2 ** 53 + 2, 1e308, -0, 64, 65536, 65537, 4097];
const HOSTILE_VALUES: unknown[] = [...HOSTILE_NUMBERS, null, 'x', true, [], {}, 'irllrec', 'lightgcn', 'rlmrec', 'copy', 'f16'];
const HOSTILE_IDS = ['043936213X', '4294967295', '-1', '\x1b[2J', '', 'X', '1e3', '007', 'u0', '9007199254740993', '__proto__'];
const CONFIG_FIELDS = ['kind', 'embeddingDim', 'layers', 'numIntents', 'keepRate', 'emaMomentum', 'teacherInit', 'textPrecision', 'reg', 'kdTemperature', 'preset'];

function edit(bytes: Uint8Array, f: (meta: Record<string, string>, t: Map<string, SafeTensor>, r: Rng) => void, r: Rng): Uint8Array {
  const { tensors, metadata } = readSafetensors(bytes);
  const meta: Record<string, string> = { ...metadata };
  const map = new Map(tensors);
  f(meta, map, r);
  return writeSafetensors(Object.fromEntries(map), meta);
}
const jsonField = (meta: Record<string, string>, key: string, r: Rng, fields: string[]) => {
  const o = JSON.parse(meta[key] ?? '{}') as Record<string, unknown>;
  o[pick(r, fields)] = pick(r, HOSTILE_VALUES);
  meta[key] = JSON.stringify(o);
};
const floatNames = (t: Map<string, SafeTensor>) => [...t.keys()].filter((k) => ['F32', 'F16', 'BF16', 'F64'].includes(t.get(k)!.dtype));

/** Mutations shared by model files and checkpoints (safetensors with irllrec metadata). */
const tensorMutators: Mut<Uint8Array>[] = [
  ['config field', (b, r) => edit(b, (m) => jsonField(m, 'config', r, CONFIG_FIELDS), r)],
  ['scale tensor', (b, r) => edit(b, (_, t) => {
    const name = pick(r, floatNames(t));
    if (name === undefined) return;
    const f = pick(r, [1e19, 1e15, -1, 0, 1e-45, 3e38]);
    t.set(name, float32Tensor(tensorToFloat32(t.get(name)!).map((v) => v * f), t.get(name)!.shape));
  }, r)],
  ['zero-byte shape', (b, r) => edit(b, (_, t) => {
    const name = pick(r, [...t.keys()]);
    if (name === undefined) return;
    const big = pick(r, [4294967295, 1e9, 65537, 2 ** 40]);
    t.set(name, { dtype: 'F32', shape: r.next() < 0.5 ? [0, big] : [big, 0], data: new Uint8Array(0) });
  }, r)],
  ['drop tensor', (b, r) => edit(b, (_, t) => void t.delete(pick(r, [...t.keys()])), r)],
  ['retype tensor', (b, r) => edit(b, (_, t) => {
    const name = pick(r, floatNames(t));
    if (name === undefined) return;
    const x = tensorToFloat32(t.get(name)!);
    const to = pick(r, ['F64', 'F16', 'I8'] as const);
    if (to === 'F64') t.set(name, { dtype: 'F64', shape: t.get(name)!.shape, data: new Uint8Array(Float64Array.from(x).buffer) });
    else if (to === 'F16') t.set(name, { dtype: 'F16', shape: t.get(name)!.shape, data: new Uint8Array(x.length * 2).fill(0x3c, 0) });
    else t.set(name, { dtype: 'I8', shape: t.get(name)!.shape, data: new Uint8Array(x.length) });
  }, r)],
  ['reshape tensor', (b, r) => edit(b, (_, t) => {
    const name = pick(r, [...t.keys()]);
    if (name === undefined) return;
    const x = t.get(name)!;
    t.set(name, { ...x, shape: x.shape.length === 2 ? [x.shape[1], x.shape[0]] : [x.shape.reduce((a, d) => a * d, 1)] });
  }, r)],
];

const modelMutators: Mut<Uint8Array>[] = [
  ...tensorMutators,
  ['meta field', (b, r) => edit(b, (m) => {
    const key = pick(r, ['num_users', 'num_items', 'user_ids', 'item_ids', 'format', 'dataset', 'config']);
    m[key] = pick(r, ['0', '-1', '4294967295', '1e3', '[]', '["a"]', 'null', '{}', JSON.stringify(HOSTILE_IDS), 'irllrec-model', '']);
  }, r)],
  ['train ids', (b, r) => edit(b, (_, t) => {
    const name = pick(r, ['irllrec.train_users', 'irllrec.train_items']);
    if (name === undefined) return;
    const x = t.get(name);
    if (!x) return;
    const v = new Int32Array(x.data.slice().buffer);
    v[r.int(v.length)] = pick(r, [-1, 40, 50, 2147483647, 0]);
    t.set(name, { ...x, data: new Uint8Array(v.buffer) });
  }, r)],
];

const checkpointMutators: Mut<Uint8Array>[] = [
  ...tensorMutators,
  ['trainer field', (b, r) => edit(b, (m) => {
    const o = JSON.parse(m.trainer) as Record<string, unknown>;
    const key = pick(r, ['epoch', 'steps', 'bestEpoch', 'best', 'patience', 'rngState', 'history']);
    o[key] = key === 'history' ? pick(r, [[], null, [{}], (o.history as unknown[]).concat(o.history as unknown[])]) : pick(r, [...HOSTILE_VALUES, 2, 0.5, 4294967296]);
    m.trainer = JSON.stringify(o);
  }, r)],
  ['adam field', (b, r) => edit(b, (m) => jsonField(m, 'adam', r, ['lr', 'beta1', 'beta2', 'eps']), r)],
  ['meta field', (b, r) => edit(b, (m) => {
    const key = pick(r, ['num_users', 'num_items', 'model_seed', 'adam_step', 'data_fingerprint', 'has_snapshot', 'format_version']);
    if (r.next() < 0.2) delete m[key];
    else m[key] = pick(r, ['0', '1', '-1', '4294967296', '1e3', 'deadbeef', '', '9007199254740993']);
  }, r)],
  // Edits that keep the checkpoint valid (another RNG state, smaller parameters): the resumed run must still train and rank.
  ['valid edit', (b, r) => edit(b, (m, t) => {
    if (r.next() < 0.5) {
      const o = JSON.parse(m.trainer) as Record<string, unknown>;
      o.rngState = r.int(0xffffffff);
      m.trainer = JSON.stringify(o);
    } else {
      const name = pick(r, [...t.keys()].filter((k) => k.startsWith('param.')));
      if (name === undefined) return;
      t.set(name, float32Tensor(tensorToFloat32(t.get(name)!).map((v) => v * 0.5), t.get(name)!.shape));
    }
  }, r)],
  ['negative second moment', (b, r) => edit(b, (_, t) => {
    const name = pick(r, [...t.keys()].filter((k) => k.startsWith('adam_v.')));
    if (name === undefined) return;
    const x = tensorToFloat32(t.get(name)!);
    x[r.int(x.length)] = -r.next();
    t.set(name, float32Tensor(x, t.get(name)!.shape));
  }, r)],
];

type Files = Record<string, string>;
const lines = (s: string | undefined) => (s ?? '').split('\n').filter(Boolean);
const datasetMutators: Mut<Files>[] = [
  ['meta count', (f, r) => {
    const meta = JSON.parse(f['meta.json'] ?? '{}') as Record<string, unknown>;
    meta[pick(r, ['users', 'items', 'train', 'val', 'name'])] = pick(r, [...HOSTILE_VALUES, 40, 51, 2000]);
    return { ...f, 'meta.json': JSON.stringify(meta) };
  }],
  ['hostile id', (f, r) => {
    const split = pick(r, ['train.tsv', 'val.tsv', 'test.tsv']);
    const ls = lines(f[split]);
    if (ls.length === 0) return f;
    const k = r.int(ls.length);
    const cols = ls[k].split('\t');
    cols[r.int(2)] = pick(r, HOSTILE_IDS);
    ls[k] = cols.join('\t');
    return { ...f, [split]: `${ls.join('\n')}\n` };
  }],
  ['duplicate line', (f, r) => {
    const ls = lines(f['train.tsv']);
    return { ...f, 'train.tsv': `${ls.join('\n')}\n${pick(r, ls)}\n` };
  }],
  ['header line', (f, r) => ({ ...f, [pick(r, ['train.tsv', 'val.tsv'])]: `${pick(r, ['user\titem', 'a\tb', 'isbn\t1', 'u\ti\tr'])}\n${f['train.tsv']}` })],
  ['rating column', (f, r) => {
    const all = r.next() < 0.5;
    const ls = lines(f['train.tsv']).map((l, k) => (all || k === 3 ? `${l}\t${pick(r, ['4', '1e400', 'x', '-0'])}` : l));
    return { ...f, 'train.tsv': `${ls.join('\n')}\n` };
  }],
  ['move lines', (f, r) => {
    const ls = lines(f['train.tsv']);
    const cut = r.int(ls.length);
    return { ...f, 'train.tsv': `${ls.slice(0, cut).join('\n')}\n`, 'test.tsv': `${f['test.tsv'] ?? ''}${ls.slice(cut).join('\n')}\n` };
  }],
  ['drop file', (f, r) => {
    const out = { ...f };
    delete out[pick(r, ['val.tsv', 'test.tsv', 'meta.json'])];
    return out;
  }],
];

/** A recommendation must be a correct one: k item ids in range, finite scores in descending order. */
function checkRanking(rec: { ids: Uint32Array; scores: Float32Array }, numItems: number, what: string): void {
  for (let i = 0; i < rec.ids.length; i++) {
    if (!(rec.ids[i] < numItems)) throw new Error(`${what}: item id ${rec.ids[i]} out of range (${numItems})`);
    if (!Number.isFinite(rec.scores[i])) throw new Error(`${what}: non-finite score ${rec.scores[i]} at rank ${i + 1}`);
    if (i > 0 && rec.scores[i] > rec.scores[i - 1]) throw new Error(`${what}: scores not descending at rank ${i + 1}`);
  }
}

const FIT_ONE_STEP = { epochs: 1, maxSteps: 1, batchSize: 32, evalEvery: 1, patience: 0, seed: 2 } as const;

/** The three end-to-end targets (model file, checkpoint, dataset) with their seeds. */
export async function useTargets(): Promise<UseTarget<Uint8Array | Files>[]> {
  const data: Dataset = smallData();
  const be = new CpuBackend({ precision: 'f32' });
  const models = await Promise.all((['lightgcn', 'rlmrec', 'irllrec'] as const).map((k) => modelBytes(k, data)));
  const checkpoints: Uint8Array[] = [];
  for (const kind of ['lightgcn', 'irllrec'] as const) {
    const res = await fit(be, data, {
      model: kind,
      config: { embeddingDim: 8, layers: 2, numIntents: 4 },
      epochs: 2,
      batchSize: 64,
      evalEvery: 1,
      patience: 0,
      checkpoint: { onCheckpoint: async (s, m, snap) => void checkpoints.push(serializeCheckpoint(await captureCheckpoint(m, s, snap, data))) },
    });
    res.model.dispose();
  }
  const dataset: Files = { 'train.tsv': tsvOf(data.train), 'val.tsv': tsvOf(data.val), 'test.tsv': tsvOf(data.test), 'meta.json': JSON.stringify({ users: data.numUsers, items: data.numItems }) };

  const useModel = async (bytes: Uint8Array) => {
    const rec = await Recommender.load(bytes, { backend: be });
    try {
      for (const [u, r] of (await rec.recommend([0, 1, 2], { k: 5 })).entries()) checkRanking(r, rec.numItems, `recommend(${u})`);
    } finally {
      rec.dispose();
    }
    // The same file as the start of training on the data it was made for: one step.
    const file = parseModelFile(bytes, 'fuzz');
    const model = RecModel.create(be, file.config, { numUsers: data.numUsers, numItems: data.numItems, graph: buildGraph(data), text: data.text }, { seed: 1 });
    try {
      model.importParameters(file.tensors, 'fuzz');
    } catch (e) {
      model.dispose();
      throw e;
    }
    const res = await fit(be, data, { ...FIT_ONE_STEP, init: model });
    res.model.dispose();
  };
  const useCheckpoint = async (bytes: Uint8Array) => {
    const c = parseCheckpoint(bytes, 'fuzz.ckpt');
    const res = await fit(be, data, { ...FIT_ONE_STEP, model: c.config.kind, epochs: c.trainer.epoch + 1, maxSteps: c.trainer.steps + 1, ...resumeFrom(be, data, c) });
    try {
      const rec = await Recommender.fromModel(res.model, { interactions: data.train });
      checkRanking(await rec.recommend(0, { k: 5 }), data.numItems, 'recommend after resume');
      rec.dispose();
    } finally {
      res.model.dispose();
    }
  };
  const useDataset = async (files: Files) => {
    const ds = datasetFromFiles(files);
    const res = await fit(be, ds, { ...FIT_ONE_STEP, model: 'lightgcn', config: { embeddingDim: 4, layers: 1 } });
    try {
      const rec = await Recommender.fromModel(res.model, { interactions: ds.train });
      checkRanking(await rec.recommend(0, { k: Math.min(5, ds.numItems - 1) }), ds.numItems, 'recommend');
      rec.dispose();
    } finally {
      res.model.dispose();
    }
  };
  const bytesTarget = (name: string, seeds: Uint8Array[], mutators: Mut<Uint8Array>[], use: (b: Uint8Array) => Promise<unknown>): UseTarget<Uint8Array> => ({ name, seeds, mutators, use, size: (b) => b.length });
  return [
    bytesTarget('model file → load, recommend, fit 1 step', models, modelMutators, useModel),
    bytesTarget('checkpoint → resumeFrom, fit, recommend', checkpoints, checkpointMutators, useCheckpoint),
    { name: 'dataset → datasetFromFiles, fit 1 step, recommend', seeds: [dataset], mutators: datasetMutators, use: useDataset, size: (f) => Object.values(f).reduce((a, s) => a + s.length, 0) },
  ] as UseTarget<Uint8Array | Files>[];
}

/** Runs `cases` seeded cases (1–3 stacked structural mutations each) through one target's `use`. */
export async function fuzzUse<T>(target: UseTarget<T>, cases: number, seed = 1, opts: { maxCaseMs?: number } = {}): Promise<FuzzReport & { peakRssBytes: number }> {
  const maxCaseMs = opts.maxCaseMs ?? 5000;
  const r = new Rng(seed);
  const report: FuzzReport = { target: target.name, cases, valid: 0, typed: 0, codes: {}, failures: [], maxCaseMs: 0, totalMs: 0, maxGrowth: 0 };
  const t0 = performance.now();
  for (let c = 0; c < cases; c++) {
    let input = pick(r, target.seeds);
    const applied: string[] = [];
    let problem: string | null = null;
    try {
      for (let k = 1 + r.int(3); k > 0; k--) {
        const [name, m] = pick(r, target.mutators);
        input = m(input, r);
        applied.push(name);
      }
    } catch (e) {
      // A mutation the writer refuses (e.g. a shape that no longer fits its bytes) is not a case.
      if (!(e instanceof IrllrecError)) problem = `mutation failed: ${(e as Error).stack}`;
    }
    const before = process.memoryUsage().arrayBuffers;
    const start = performance.now();
    if (problem === null) {
      try {
        await target.use(input);
        report.valid++;
      } catch (e) {
        if (e instanceof IrllrecError && e.message.trim() !== '') {
          report.typed++;
          report.codes[e.code] = (report.codes[e.code] ?? 0) + 1;
        } else problem = e instanceof Error ? `${e.constructor.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 4).join('\n')}` : String(e);
      }
    }
    const ms = performance.now() - start;
    const growth = process.memoryUsage().arrayBuffers - before;
    report.maxCaseMs = Math.max(report.maxCaseMs, ms);
    report.maxGrowth = Math.max(report.maxGrowth, growth);
    if (problem === null && ms > maxCaseMs) problem = `took ${ms.toFixed(0)} ms (limit ${maxCaseMs} ms)`;
    if (problem === null && growth > 64 * MiB + 16 * target.size(input)) problem = `arrayBuffers grew by ${(growth / MiB).toFixed(1)} MiB`;
    if (problem !== null) report.failures.push({ target: target.name, caseIndex: c, mutations: applied, problem, input: new Uint8Array(0) });
  }
  report.totalMs = performance.now() - t0;
  return { ...report, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
}
