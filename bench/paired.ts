/**
 * Per-user test metrics of trained models and of popularity, and the paired t-test over users: shared by
 * bench/compare.ts (model files) and bench/converged.ts (the converged comparison's runs).
 */
import { readFileSync } from 'node:fs';
import type { Graph } from '../src/data/graph.js';
import type { Dataset } from '../src/data/types.js';
import { parseModelFile } from '../src/io/modelfile.js';
import { RecModel } from '../src/models/model.js';
import type { Backend } from '../src/ops/tensor.js';
import { evaluate } from '../src/train/evaluate.js';
import { MetricAccumulator } from '../src/train/metrics.js';

/** Test Recall@20 and NDCG@20 of each user with test items. */
export type PerUser = Map<number, { r: number; n: number }>;

/** Per-user test metrics of the model (or parameters) saved in a model file. */
export async function perUserOfFile(be: Backend, data: Dataset, graph: Graph, path: string): Promise<PerUser> {
  const file = parseModelFile(new Uint8Array(readFileSync(path)), path);
  const m = RecModel.create(be, file.config, { numUsers: data.numUsers, numItems: data.numItems, graph, textDims: file.textDims });
  try {
    m.importParameters(file.tensors, path);
    const users: PerUser = new Map();
    await evaluate(m, data, 'test', { ks: [20], onUser: (u, x) => users.set(u, { r: x['recall@20'], n: x['ndcg@20'] }) });
    return users;
  } finally {
    m.dispose();
  }
}

/** Per-user test Recall@20 and NDCG@20 of popularity (training counts, the user's training items masked). */
export function popularityPerUser(data: Dataset): PerUser {
  const count = new Float64Array(data.numItems);
  for (const i of data.train.items) count[i]++;
  const seen = new Map<number, Set<number>>();
  for (let k = 0; k < data.train.users.length; k++) (seen.get(data.train.users[k]) ?? seen.set(data.train.users[k], new Set()).get(data.train.users[k])!).add(data.train.items[k]);
  const truth = new Map<number, Set<number>>();
  for (let k = 0; k < data.test.users.length; k++) (truth.get(data.test.users[k]) ?? truth.set(data.test.users[k], new Set()).get(data.test.users[k])!).add(data.test.items[k]);
  const order = Array.from({ length: data.numItems }, (_, i) => i).sort((a, b) => count[b] - count[a] || a - b);
  const acc = new MetricAccumulator([20]);
  const out: PerUser = new Map();
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
export function pValue(t: number): number {
  const z = Math.abs(t) / Math.SQRT2;
  // erfc by Abramowitz–Stegun 7.1.26.
  const a = 1 / (1 + 0.3275911 * z);
  return a * (0.254829592 + a * (-0.284496736 + a * (1.421413741 + a * (-1.453152027 + a * 1.061405429)))) * Math.exp(-z * z);
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Sample standard deviation (n − 1); 0 for fewer than two values. */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
}

export interface Paired {
  meanDiff: number;
  t: number;
  p: number;
}

/** Paired t-test of a − b over `users` on Recall@20 ('r') or NDCG@20 ('n'). */
export function paired(a: PerUser, b: PerUser, users: readonly number[], key: 'r' | 'n'): Paired {
  const diffs = users.map((u) => a.get(u)![key] - b.get(u)![key]);
  const md = mean(diffs);
  const t = md / (std(diffs) / Math.sqrt(diffs.length));
  return { meanDiff: md, t, p: pValue(t) };
}

/** Users sorted by training degree (then id), the quartile slices, and each quartile's degree range. */
export function degreeQuartiles(data: Dataset, users: Iterable<number>): { quartiles: number[][]; edges: string[] } {
  const degree = new Uint32Array(data.numUsers);
  for (const u of data.train.users) degree[u]++;
  const sorted = [...users].sort((a, b) => degree[a] - degree[b] || a - b);
  const quartiles = [0, 1, 2, 3].map((k) => sorted.slice(Math.floor((k * sorted.length) / 4), Math.floor(((k + 1) * sorted.length) / 4)));
  return { quartiles, edges: quartiles.map((q) => `${degree[q[0]]}–${degree[q[q.length - 1]]}`) };
}

export const formatPaired = (x?: Paired): string => (x ? `${x.meanDiff >= 0 ? '+' : ''}${x.meanDiff.toFixed(4)} (t ${x.t.toFixed(2)}, p ${x.p < 1e-4 ? x.p.toExponential(1) : x.p.toFixed(4)})` : '–');
