/**
 * Option checking, per-command help and the version of the `irllrec` command line (src/node/cli.ts).
 */
import { readFileSync } from 'node:fs';
import { IrllrecError } from '../errors.js';
import { TOPK_MAX_K } from '../ops/topk.js';
import { METRIC_NAMES, type MetricName, checkMetrics } from '../train/metrics.js';

/** Values allowed for the enum options, by option name (checked before any command runs). */
export const ENUM_OPTIONS: Record<string, readonly string[]> = {
  backend: ['auto', 'webgpu', 'cpu'],
  split: ['test', 'val'],
};

/** Metrics of `irllrec eval` unless --metrics says otherwise: all of them. */
export const CLI_METRICS: readonly MetricName[] = METRIC_NAMES;

/**
 * The first problem with the enum and list options of `values` (a parseArgs result), as a message naming the
 * option, the value and what is allowed; null when there is none.
 */
export function checkOptions(values: Record<string, unknown>): string | null {
  for (const [name, allowed] of Object.entries(ENUM_OPTIONS)) {
    const v = values[name];
    if (v !== undefined && !allowed.includes(String(v))) return `--${name} must be one of ${allowed.join(', ')}, got '${v}'`;
  }
  try {
    if (values.k !== undefined) parseKs(String(values.k));
    if (values.metrics !== undefined) parseMetrics(String(values.metrics));
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

/** `-k 10,20,50`: distinct cut-offs in 1 … TOPK_MAX_K, in the order given. */
export function parseKs(arg: string): number[] {
  const parts = arg.split(',').map((s) => s.trim());
  const bad = parts.find((s) => !/^\d+$/.test(s) || Number(s) < 1 || Number(s) > TOPK_MAX_K);
  if (bad !== undefined) throw new IrllrecError('range', `-k must be a comma list of integers in 1…${TOPK_MAX_K}, got '${arg}' ('${bad}')`);
  const ks = parts.map(Number);
  if (new Set(ks).size !== ks.length) throw new IrllrecError('range', `-k lists a cut-off twice: '${arg}'`);
  return ks;
}

/** `--metrics recall,ndcg`: known metric names (see src/train/metrics.ts). */
export function parseMetrics(arg: string): readonly MetricName[] {
  const list = arg.split(',').map((s) => s.trim().toLowerCase());
  const unknown = list.find((m) => !(METRIC_NAMES as readonly string[]).includes(m));
  if (unknown !== undefined) throw new IrllrecError('range', `--metrics must be a comma list of ${METRIC_NAMES.join(', ')}, got '${unknown}'`);
  checkMetrics(list, '--metrics');
  return list;
}

/** The package's version, from the package.json above the running bundle (dist/cli.js) or source file. */
export function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'irllrec' && pkg.version) return pkg.version;
    } catch {
      // not there: look one level up
    }
  }
  return 'unknown';
}

/** More about a command than its usage line says. */
const DETAILS: Record<string, string> = {
  eval: `Prints the metrics of the model on the split, one line per metric and cut-off as TSV
(metric<TAB>k<TAB>value, after a header line), or one JSON object with --json ("recall@20": …).
  -k LIST           cut-offs, a comma list (default 5,10,20; each at most ${TOPK_MAX_K})
  --metrics LIST    any of ${METRIC_NAMES.join(', ')} (default: all)
  --per-user FILE   also write each evaluated user's metrics to FILE (TSV: user, then one column per metric
                    and cut-off, cut-offs ascending; original user ids), atomically
Definitions (means over the users with at least one item in the split; T = their items, rel_j = 1 when the
item at rank j is in T): Recall@K = hits/|T|; NDCG@K = DCG/IDCG with 1/log2(j+1) gains, the ideal list
min(K, |T|) long; Precision@K = hits/K; Hit@K = 1 when hits > 0; MRR@K = 1/(rank of the first hit) within K,
else 0; MAP@K = (1/min(|T|, K))·Σ_{j≤K} P@j·rel_j.
`,
  recommend: `Prints the top-k items of one user (--user ID) or of many (--users FILE, one original user id a line,
'#' comments; --users all: every user) as TSV user<TAB>rank<TAB>item<TAB>score after a header line, with the
original ids of the model file (a file without ids: the dense indices); --json: one JSON object instead.
--out FILE writes the TSV to FILE atomically (complete or not at all), chunk by chunk as the device computes
them, with progress on stderr; with --json, stdout then gets a summary. Training items are never recommended.
  -k N              items per user (default 20, at most ${TOPK_MAX_K})
  --chunk N         users per device chunk (default 1024)
`,
};

/**
 * Help for one command: its lines of the usage text (`usage`: the CLI's USAGE, whose 'Usage:' section lists
 * each command as '  irllrec COMMAND …' with indented continuation lines), its details, the common options.
 * Null for a command the usage text does not list.
 */
export function commandUsage(usage: string, cmd: string): string | null {
  const lines = usage.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith(`  irllrec ${cmd} `) && lines[i] !== `  irllrec ${cmd}`) continue;
    out.push(lines[i]);
    while (i + 1 < lines.length && /^\s{4,}\S/.test(lines[i + 1]) && !/^\s*irllrec /.test(lines[i + 1])) out.push(lines[++i]);
  }
  if (out.length === 0) return null;
  const common = usage.indexOf('Common options:');
  return `Usage:\n${out.join('\n')}\n\n${DETAILS[cmd] ?? ''}${DETAILS[cmd] ? '\n' : ''}${common >= 0 ? usage.slice(common) : ''}`;
}
