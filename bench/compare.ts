/**
 * A paired comparison of trained models on one dataset's test split: per-user Recall@20 / NDCG@20 of every model
 * file, the mean difference of the first model against each other with a paired t-test over users (normal
 * approximation of the p-value; users with test items only), and Recall@20 per quartile of the users' training
 * degree (the paper claims its largest gains for sparse users). Popularity is the floor.
 *
 *   node bench/run.mjs bench/compare.ts --data ../shared/data/movielens --name compare-movielens \
 *        irllrec=runs/irllrec.safetensors rlmrec=runs/rlmrec.safetensors lightgcn=runs/lightgcn.safetensors
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildGraph } from '../src/data/graph.js';
import type { Dataset } from '../src/data/types.js';
import { parseModelFile } from '../src/io/modelfile.js';
import { RecModel } from '../src/models/model.js';
import { createBackend, loadDatasetDir } from '../src/node/index.js';
import { evaluate } from '../src/train/evaluate.js';
import { MetricAccumulator } from '../src/train/metrics.js';
import { headerLines, machineInfo, writeResults } from './common.js';

/** Per-user test Recall@20 and NDCG@20 of popularity (training counts, the user's training items masked). */
function popularityPerUser(data: Dataset): Map<number, { r: number; n: number }> {
  const count = new Float64Array(data.numItems);
  for (const i of data.train.items) count[i]++;
  const seen = new Map<number, Set<number>>();
  for (let k = 0; k < data.train.users.length; k++) (seen.get(data.train.users[k]) ?? seen.set(data.train.users[k], new Set()).get(data.train.users[k])!).add(data.train.items[k]);
  const truth = new Map<number, Set<number>>();
  for (let k = 0; k < data.test.users.length; k++) (truth.get(data.test.users[k]) ?? truth.set(data.test.users[k], new Set()).get(data.test.users[k])!).add(data.test.items[k]);
  const order = Array.from({ length: data.numItems }, (_, i) => i).sort((a, b) => count[b] - count[a] || a - b);
  const acc = new MetricAccumulator([20]);
  const out = new Map<number, { r: number; n: number }>();
  for (const [u, t] of truth) {
    const s = seen.get(u) ?? new Set();
    const top: number[] = [];
    for (const i of order) {
      if (!s.has(i)) top.push(i);
      if (top.length === 20) break;
    }
    const m = acc.add(top, [...t])!;
    out.set(u, { r: m['recall@20'], n: m['ndcg@20'] });
  }
  return out;
}

/** Two-sided p-value of a paired t statistic, normal approximation (n in the hundreds here). */
function pValue(t: number): number {
  const z = Math.abs(t) / Math.SQRT2;
  // erfc by Abramowitz–Stegun 7.1.26.
  const a = 1 / (1 + 0.3275911 * z);
  const erfc = a * (0.254829592 + a * (-0.284496736 + a * (1.421413741 + a * (-1.453152027 + a * 1.061405429)))) * Math.exp(-z * z);
  return erfc;
}

const { values, positionals } = parseArgs({ options: { data: { type: 'string' }, name: { type: 'string', default: 'compare' } }, allowPositionals: true });
if (!values.data || positionals.length < 2) throw new Error('usage: compare.ts --data DIR [--name N] label=model.safetensors ...');
const be = await createBackend();
const data = await loadDatasetDir(values.data);
const graph = buildGraph(data);
const per = new Map<string, Map<number, { r: number; n: number }>>();
for (const arg of positionals) {
  const [label, path] = arg.split('=');
  const file = parseModelFile(new Uint8Array(readFileSync(path)), path);
  const m = RecModel.create(be, file.config, { numUsers: data.numUsers, numItems: data.numItems, graph, textDims: file.textDims });
  m.importParameters(file.tensors, path);
  const users = new Map<number, { r: number; n: number }>();
  await evaluate(m, data, 'test', { ks: [20], onUser: (u, x) => users.set(u, { r: x['recall@20'], n: x['ndcg@20'] }) });
  per.set(label, users);
  m.dispose();
}
per.set('popularity', popularityPerUser(data));
const degree = new Uint32Array(data.numUsers);
for (const u of data.train.users) degree[u]++;
const users = [...per.values().next().value!.keys()].sort((a, b) => degree[a] - degree[b] || a - b);
const q = (k: number) => users.slice(Math.floor((k * users.length) / 4), Math.floor(((k + 1) * users.length) / 4));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const labels = [...per.keys()];
const first = labels[0];
const rows = labels.map((label) => {
  const p = per.get(label)!;
  const row: Record<string, unknown> = { label, recall20: mean(users.map((u) => p.get(u)!.r)), ndcg20: mean(users.map((u) => p.get(u)!.n)), quartiles: [0, 1, 2, 3].map((k) => mean(q(k).map((u) => p.get(u)!.r))) };
  if (label !== first) {
    for (const key of ['r', 'n'] as const) {
      const diffs = users.map((u) => per.get(first)!.get(u)![key] - p.get(u)![key]);
      const md = mean(diffs);
      const sd = Math.sqrt(diffs.reduce((s, d) => s + (d - md) ** 2, 0) / (diffs.length - 1));
      const t = md / (sd / Math.sqrt(diffs.length));
      row[key === 'r' ? 'pairedRecall' : 'pairedNdcg'] = { meanDiff: md, t, p: pValue(t) };
    }
  }
  return row;
});
const quartileEdges = [0, 1, 2, 3].map((k) => `${degree[q(k)[0]]}–${degree[q(k)[q(k).length - 1]]}`);
const f = (x: number) => x.toFixed(4);
const md = [
  ...headerLines(`Paired comparison on ${data.name} (test, K = 20)`, machineInfo(be), [`${users.length} test users; paired t-test of ${first} against each model over users (normal approximation)`, `training-degree quartiles: ${quartileEdges.join(', ')}`]),
  '',
  `| model | Recall@20 | NDCG@20 | ${first} − model, Recall (t, p) | NDCG (t, p) | R@20 Q1 (sparsest) | Q2 | Q3 | Q4 |`,
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => {
    const pr = r.pairedRecall as { meanDiff: number; t: number; p: number } | undefined;
    const pn = r.pairedNdcg as { meanDiff: number; t: number; p: number } | undefined;
    const cell = (x?: { meanDiff: number; t: number; p: number }) => (x ? `${x.meanDiff >= 0 ? '+' : ''}${f(x.meanDiff)} (t ${x.t.toFixed(2)}, p ${x.p < 1e-4 ? x.p.toExponential(1) : x.p.toFixed(4)})` : '–');
    return `| ${r.label} | ${f(r.recall20 as number)} | ${f(r.ndcg20 as number)} | ${cell(pr)} | ${cell(pn)} | ${(r.quartiles as number[]).map(f).join(' | ')} |`;
  }),
];
writeResults(values.name, md.join('\n'), { data: values.data, users: users.length, quartileEdges, rows });
process.exit(0);
