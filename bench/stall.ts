/**
 * Why IRLLRec stalls (or not), epoch by epoch: for the parameters a bench/longrun.ts run kept
 * (`params-eNNN.safetensors`, `--keep-params`) or its last checkpoint, the per-term gradient norms on the shared
 * embedding table E0 (BPR, kd, kd_int, ...) on one fixed batch, the row norms of E0, E_fin and the kd_int anchors Ȳ,
 * the norms of the intent prototypes, and how well the items' top intents agree with reference labels (the
 * movielens genres from items.tsv, or the synthetic data's planted intents) next to chance. Validation Recall@20 of
 * the same epoch comes from the run's log.
 *
 *   node bench/run.mjs bench/stall.ts --data ../shared/data/movielens --run bench/results/tmp/ref60 --every 3 \
 *        --name stall-reference
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildGraph, userItemCsr } from '../src/data/graph.js';
import { epochBatches, sampleNegatives } from '../src/data/sampler.js';
import type { Dataset } from '../src/data/types.js';
import { parseModelFile } from '../src/io/modelfile.js';
import { type Batch, RecModel } from '../src/models/model.js';
import { createBackend, loadCheckpoint, loadDatasetDir, modelFromCheckpoint } from '../src/node/index.js';
import { alignmentDiagnostics } from '../src/train/diagnostics.js';
import { chanceAgreement, clusterAgreement, itemTopIntents } from '../src/train/intents.js';
import { Rng } from '../src/util/random.js';
import { machineInfo, headerLines, writeResults } from './common.js';

/** Each movielens item's first listed genre (items.tsv: "… Genres: Animation, Comedy, Family. …"), as a label index. */
export function movielensGenres(dir: string, numItems: number): { labels: Int32Array; names: string[] } | null {
  const path = join(dir, 'items.tsv');
  if (!existsSync(path)) return null;
  const labels = new Int32Array(numItems).fill(-1);
  const names: string[] = [];
  const lines = readFileSync(path, 'utf8').split('\n');
  for (const line of lines.slice(1)) {
    const f = line.split('\t');
    const item = Number(f[0]);
    const m = /Genres: ([^.]*)\./.exec(f[3] ?? '');
    if (!m || !(item >= 0 && item < numItems)) continue;
    const g = m[1].split(',')[0].trim();
    if (!g || g === '(no genres listed)') continue;
    let k = names.indexOf(g);
    if (k < 0) k = names.push(g) - 1;
    labels[item] = k;
  }
  return { labels, names };
}

/** Reference labels of the items: planted intents (synthetic) or genres (movielens). */
export function itemLabels(data: Dataset, dir?: string): { labels: Int32Array; what: string } | null {
  if (data.plantedIntents) return { labels: data.plantedIntents, what: 'planted intents' };
  const g = dir ? movielensGenres(dir, data.numItems) : null;
  return g ? { labels: g.labels, what: `first genre (${g.names.length} genres)` } : null;
}

/** A fixed batch: the first mini-batch of an epoch drawn with seed 1 (the same for every epoch's parameters). */
export function fixedBatch(data: Dataset, size = 4096): Batch {
  const rng = new Rng(1);
  const negatives = sampleNegatives(rng, data.numItems, data.train, userItemCsr(data.numUsers, data.numItems, data.train));
  const idx = epochBatches(rng, data.train.users.length, Math.min(size, data.train.users.length))[0];
  return { users: Uint32Array.from(idx, (k) => data.train.users[k]), pos: Uint32Array.from(idx, (k) => data.train.items[k]), neg: Uint32Array.from(idx, (k) => negatives[k]) };
}

const isMain = process.argv[1]?.includes('stall');
if (isMain) {
  const { values } = parseArgs({ options: { data: { type: 'string' }, run: { type: 'string' }, every: { type: 'string', default: '3' }, name: { type: 'string', default: 'stall' } } });
  if (!values.data || !values.run) throw new Error('usage: stall.ts --data DIR --run RUNDIR [--every N] [--name NAME]');
  const be = await createBackend();
  const data = await loadDatasetDir(values.data);
  const graph = buildGraph(data);
  const labels = itemLabels(data, values.data);
  const batch = fixedBatch(data);
  const log = new Map<number, { val?: Record<string, number> }>();
  const logPath = join(values.run, 'log.jsonl');
  if (existsSync(logPath)) for (const l of readFileSync(logPath, 'utf8').trim().split('\n').filter(Boolean)) { const o = JSON.parse(l); log.set(o.epoch, o); }
  const every = Number(values.every);
  // params-eNNN holds the parameters after NNN epochs (NNN = epoch index + 1); e000 is never written, so start from
  // the initial state by building the model fresh with the run's config.
  const files = readdirSync(values.run).filter((f) => /^params-e\d+\.safetensors$/.test(f)).sort();
  const states: { epochs: number; load: () => Promise<RecModel> }[] = [];
  for (const f of files) {
    const epochs = Number(f.slice(8, 11));
    if (epochs % every !== 0 && f !== files[files.length - 1]) continue;
    states.push({
      epochs,
      load: async () => {
        const file = parseModelFile(new Uint8Array(readFileSync(join(values.run!, f))), f);
        const m = RecModel.create(be, file.config, { numUsers: data.numUsers, numItems: data.numItems, graph, text: data.text });
        m.importParameters(file.tensors, f);
        return m;
      },
    });
  }
  if (!files.length && existsSync(join(values.run, 'last.ckpt'))) {
    const c = await loadCheckpoint(join(values.run, 'last.ckpt'));
    states.push({ epochs: c.trainer.epoch, load: async () => modelFromCheckpoint(be, data, c) });
  }
  const rows: Record<string, unknown>[] = [];
  for (const s of states) {
    const m = await s.load();
    const d = await alignmentDiagnostics(m, batch, { noiseSeed: 1 });
    const row: Record<string, unknown> = { epochs: s.epochs, valRecall20: log.get(s.epochs - 1)?.val?.['recall@20'], ...d };
    if (labels && m.parts.intents) {
      const top = await itemTopIntents(m);
      row.intents = { ...clusterAgreement(top, labels.labels), chance: chanceAgreement(top, labels.labels, 10) };
    }
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
    m.dispose();
  }
  const m = machineInfo(be);
  const f = (x: unknown) => (typeof x === 'number' ? (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e3 ? x.toFixed(4) : x.toExponential(2)) : '–');
  const md = [
    ...headerLines(`Stall diagnostics: ${values.run}`, m, [`dataset ${data.name}; fixed batch of ${batch.users.length}; labels: ${labels?.what ?? 'none'}`]),
    '',
    '| epochs | val R@20 | ‖∇E0‖ bpr | kd | kd_int | total | kd_int / bpr | ‖E0‖ row | ‖E_fin‖ row | ‖Ȳ‖ row | ‖Wu‖ | ‖Wi‖ | intents NMI (chance) | purity (chance) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => {
      const d = r as unknown as { gradE0: Record<string, number>; rowNorm: Record<string, number>; prototypes?: { user: number; item: number }; intents?: { nmi: number; purity: number; chance: { nmi: number; purity: number } } };
      const g = d.gradE0;
      return `| ${r.epochs} | ${f(r.valRecall20)} | ${f(g.bpr)} | ${f(g.kd)} | ${f(g.kd_int)} | ${f(g.total)} | ${g.kd_int !== undefined ? (g.kd_int / g.bpr).toFixed(2) : '–'} | ${f(d.rowNorm.e0)} | ${f(d.rowNorm.efin)} | ${f(d.rowNorm.ybar)} | ${f(d.prototypes?.user)} | ${f(d.prototypes?.item)} | ${d.intents ? `${d.intents.nmi.toFixed(3)} (${d.intents.chance.nmi.toFixed(3)})` : '–'} | ${d.intents ? `${d.intents.purity.toFixed(3)} (${d.intents.chance.purity.toFixed(3)})` : '–'} |`;
    }),
  ];
  writeResults(values.name, md.join("\n"), { machine: m, run: values.run, rows });
  process.exit(0);
}
