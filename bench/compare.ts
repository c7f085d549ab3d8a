/**
 * A paired comparison of trained models on one dataset's test split: per-user Recall@20 / NDCG@20 of every model
 * file, the mean difference of the first model against each other with a paired t-test over users (normal
 * approximation of the p-value; users with test items only), and Recall@20 per quartile of the users' training
 * degree (the paper claims its largest gains for sparse users). Popularity is the floor.
 *
 *   node bench/run.mjs bench/compare.ts --data ../shared/data/movielens --name compare-movielens \
 *        irllrec=runs/irllrec.safetensors rlmrec=runs/rlmrec.safetensors lightgcn=runs/lightgcn.safetensors
 */
import { parseArgs } from 'node:util';
import { buildGraph } from '../src/data/graph.js';
import { createBackend, loadDatasetDir } from '../src/node/index.js';
import { headerLines, machineInfo, writeResults } from './common.js';
import { degreeQuartiles, formatPaired, mean, type Paired, paired, type PerUser, perUserOfFile, popularityPerUser } from './paired.js';

const { values, positionals } = parseArgs({ options: { data: { type: 'string' }, name: { type: 'string', default: 'compare' } }, allowPositionals: true });
if (!values.data || positionals.length < 2) throw new Error('usage: compare.ts --data DIR [--name N] label=model.safetensors ...');
const be = await createBackend();
const data = await loadDatasetDir(values.data);
const graph = buildGraph(data);
const per = new Map<string, PerUser>();
for (const arg of positionals) {
  const [label, path] = arg.split('=');
  per.set(label, await perUserOfFile(be, data, graph, path));
}
per.set('popularity', popularityPerUser(data));
const { quartiles, edges: quartileEdges } = degreeQuartiles(data, per.values().next().value!.keys());
const users = quartiles.flat();
const labels = [...per.keys()];
const first = labels[0];
const rows = labels.map((label) => {
  const p = per.get(label)!;
  const row: Record<string, unknown> = { label, recall20: mean(users.map((u) => p.get(u)!.r)), ndcg20: mean(users.map((u) => p.get(u)!.n)), quartiles: quartiles.map((q) => mean(q.map((u) => p.get(u)!.r))) };
  if (label !== first) {
    row.pairedRecall = paired(per.get(first)!, p, users, 'r');
    row.pairedNdcg = paired(per.get(first)!, p, users, 'n');
  }
  return row;
});
const f = (x: number) => x.toFixed(4);
const md = [
  ...headerLines(`Paired comparison on ${data.name} (test, K = 20)`, machineInfo(be), [`${users.length} test users; paired t-test of ${first} against each model over users (normal approximation)`, `training-degree quartiles: ${quartileEdges.join(', ')}`]),
  '',
  `| model | Recall@20 | NDCG@20 | ${first} − model, Recall (t, p) | NDCG (t, p) | R@20 Q1 (sparsest) | Q2 | Q3 | Q4 |`,
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => {
    return `| ${r.label} | ${f(r.recall20 as number)} | ${f(r.ndcg20 as number)} | ${formatPaired(r.pairedRecall as Paired | undefined)} | ${formatPaired(r.pairedNdcg as Paired | undefined)} | ${(r.quartiles as number[]).map(f).join(' | ')} |`;
  }),
];
writeResults(values.name, md.join('\n'), { data: values.data, users: users.length, quartileEdges, rows });
process.exit(0);
