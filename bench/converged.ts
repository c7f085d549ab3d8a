/**
 * The converged comparison on movielens (issue 10), read from the runs of bench/converged.sh: each run logged
 * validation and test metrics after every epoch (and kept every epoch's parameters), so the result of any
 * protocol that evaluates a subset of the epochs follows exactly from the logs (evaluation does not touch the
 * trainer's random stream). Two protocols, both the library's early stopping (validation Recall@20 every 3 epochs,
 * patience 5, the best validation epoch's parameters restored):
 *   - `30 epochs`: the issue's command, `irllrec train --data … --model M --epochs 30`;
 *   - `converged`: the same rule without an epoch limit of its own: a run that reached its cap (bench/converged.sh)
 *     before the rule fired is shown as capped, not converged.
 * Per model and preset: test Recall@20 / NDCG@20, mean ± sample std over seeds, each seed's value and best epoch;
 * a paired t-test over users (per seed) of IRLLRec's default against every other row; Recall@20 per quartile of
 * the users' training degree; popularity as the floor. Runs still going are listed as such.
 *
 *   node bench/run.mjs bench/converged.ts --data ../shared/data/movielens --runs bench/results/tmp/conv
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildGraph } from '../src/data/graph.js';
import { createBackend, loadDatasetDir } from '../src/node/index.js';
import { headerLines, machineInfo, writeResults } from './common.js';
import { type Protocol, replay } from './protocol.js';
import { degreeQuartiles, formatPaired, mean, type Paired, paired, type PerUser, perUserOfFile, popularityPerUser, std } from './paired.js';

const { values } = parseArgs({ options: { data: { type: 'string' }, runs: { type: 'string', default: 'bench/results/tmp/conv' }, name: { type: 'string', default: 'converged-movielens' }, baseline: { type: 'string', default: 'irllrec-default' } } });
if (!values.data) throw new Error('usage: converged.ts --data DIR [--runs DIR] [--name N] [--baseline MODEL-PRESET]');

const PROTOCOLS: Protocol[] = [
  { name: '30 epochs', every: 3, patience: 5, maxEpochs: 30 },
  { name: 'converged', every: 3, patience: 5, maxEpochs: 1000 },
];

const readJsonl = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { epoch: number; val?: Record<string, number>; test?: Record<string, number> }) : []);

const be = await createBackend();
const data = await loadDatasetDir(values.data);
const graph = buildGraph(data);
const runs = readdirSync(values.runs, { withFileTypes: true })
  .filter((d) => d.isDirectory() && /^[a-z_]+-[a-z]+-\d+$/.test(d.name))
  .map((d) => {
    const [model, preset, seed] = d.name.split('-');
    const dir = join(values.runs, d.name);
    const val: (number | undefined)[] = [];
    for (const l of readJsonl(join(dir, 'log.jsonl'))) val[l.epoch] = l.val?.['recall@20'];
    const test = new Map(readJsonl(join(dir, 'test.jsonl')).map((l) => [l.epoch, l.test!]));
    return { key: `${model}-${preset}`, model, preset, seed: Number(seed), dir, val, test, finished: existsSync(join(dir, 'result.json')) };
  })
  .sort((a, b) => a.key.localeCompare(b.key) || a.seed - b.seed);

/**
 * The protocol's choice for a run; a finished run that ended at its own epoch cap before the rule fired is
 * `capped` (its best so far, not converged); null while a run is still going.
 */
function select(r: (typeof runs)[number], p: Protocol): { bestEpoch: number; stopEpoch: number; capped: boolean } | null {
  const sel = replay(r.val, p);
  if (sel) return { ...sel, capped: false };
  if (!r.finished || r.val.length === 0) return null;
  const capped = replay(r.val, { ...p, maxEpochs: r.val.length });
  return capped && { ...capped, capped: true };
}

const perUserCache = new Map<string, PerUser>();
/** Per-user test metrics of a run's parameters after `epoch` (params-e{epoch+1}), or null when not kept. */
async function perUserAt(dir: string, epoch: number): Promise<PerUser | null> {
  const path = join(dir, `params-e${String(epoch + 1).padStart(3, '0')}.safetensors`);
  if (!existsSync(path)) return null;
  if (!perUserCache.has(path)) perUserCache.set(path, await perUserOfFile(be, data, graph, path));
  return perUserCache.get(path)!;
}

const pop = popularityPerUser(data);
const { quartiles, edges } = degreeQuartiles(data, pop.keys());
const users = quartiles.flat();
const f = (x: number) => x.toFixed(4);
const md: string[] = headerLines(`Converged comparison on ${data.name} (test, K = 20)`, machineInfo(be), [
  `runs: ${values.runs} (bench/converged.sh); protocols replayed from per-epoch logs: ${PROTOCOLS.map((p) => `${p.name} (validation every ${p.every}, patience ${p.patience}, ≤ ${p.maxEpochs} epochs)`).join('; ')}`,
  `mean ± sample std over seeds; paired t-test over ${users.length} test users of ${values.baseline} against each row, per seed (normal approximation)`,
  `training-degree quartiles (users): ${edges.join(', ')}`,
]);
const json: Record<string, unknown>[] = [];
for (const p of PROTOCOLS) {
  md.push('', `## ${p.name}`, '', `| model | preset | seeds | Recall@20 | NDCG@20 | per seed R / N (best epoch, stop) | ${values.baseline} − row, Recall (per seed) | NDCG (per seed) | R@20 Q1 (sparsest) | Q2 | Q3 | Q4 |`, '|---|---|---|---|---|---|---|---|---:|---:|---:|---:|');
  const keys = [...new Set(runs.map((r) => r.key))];
  for (const key of keys) {
    const rs = runs.filter((r) => r.key === key);
    const done: { seed: number; r: number; n: number; best: number; stop: number; capped: boolean; per: PerUser | null }[] = [];
    const open: number[] = [];
    for (const r of rs) {
      const sel = select(r, p);
      if (!sel) {
        open.push(r.seed);
        continue;
      }
      const per = await perUserAt(r.dir, sel.bestEpoch);
      const t = r.test.get(sel.bestEpoch);
      const rr = t ? t['recall@20'] : per ? mean(users.map((u) => per.get(u)!.r)) : NaN;
      const nn = t ? t['ndcg@20'] : per ? mean(users.map((u) => per.get(u)!.n)) : NaN;
      done.push({ seed: r.seed, r: rr, n: nn, best: sel.bestEpoch, stop: sel.stopEpoch, capped: sel.capped, per });
    }
    const row: Record<string, unknown> = { protocol: p.name, key, seeds: done.map((d) => d.seed), running: open, recall20: done.map((d) => d.r), ndcg20: done.map((d) => d.n), bestEpochs: done.map((d) => d.best), stopEpochs: done.map((d) => d.stop), capped: done.map((d) => d.capped) };
    const pairedR: (Paired | null)[] = [];
    const pairedN: (Paired | null)[] = [];
    if (key !== values.baseline) {
      for (const d of done) {
        const base = runs.find((r) => r.key === values.baseline && r.seed === d.seed);
        const sel = base && select(base, p);
        const bp = sel ? await perUserAt(base.dir, sel.bestEpoch) : null;
        pairedR.push(bp && d.per ? paired(bp, d.per, users, 'r') : null);
        pairedN.push(bp && d.per ? paired(bp, d.per, users, 'n') : null);
      }
    }
    const withPer = done.filter((d) => d.per);
    const q = quartiles.map((qu) => (withPer.length ? mean(withPer.map((d) => mean(qu.map((u) => d.per!.get(u)!.r)))) : NaN));
    Object.assign(row, { pairedRecall: pairedR, pairedNdcg: pairedN, quartiles: q });
    json.push(row);
    const [model, preset] = key.split('-');
    const ms = (xs: number[]) => (xs.length > 1 ? `${f(mean(xs))} ± ${f(std(xs))}` : xs.length ? f(xs[0]) : '–');
    const seeds = `${done.length}${open.length ? ` (+${open.length} running)` : ''}`;
    const perSeed = done.map((d) => `${d.seed}: ${f(d.r)} / ${f(d.n)} (${d.best}, ${d.capped ? `capped at ${d.stop + 1}: not converged` : d.stop})`).join('; ');
    const cells = (xs: (Paired | null)[]) => (key === values.baseline ? '–' : xs.map((x) => (x ? formatPaired(x) : 'n/a')).join('; '));
    md.push(`| ${model} | ${preset} | ${seeds} | ${ms(done.map((d) => d.r))} | ${ms(done.map((d) => d.n))} | ${perSeed} | ${cells(pairedR)} | ${cells(pairedN)} | ${q.map((x) => (Number.isNaN(x) ? '–' : f(x))).join(' | ')} |`);
  }
  const popR = mean(users.map((u) => pop.get(u)!.r));
  const popN = mean(users.map((u) => pop.get(u)!.n));
  md.push(`| popularity | – | – | ${f(popR)} | ${f(popN)} | – | – | – | ${quartiles.map((qu) => f(mean(qu.map((u) => pop.get(u)!.r)))).join(' | ')} |`);
}
writeResults(values.name, md.join('\n'), { data: values.data, runs: values.runs, protocols: PROTOCOLS, users: users.length, quartileEdges: edges, rows: json });
process.exit(0);
