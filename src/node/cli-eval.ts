/**
 * `irllrec eval`: ranking metrics of a model on a split at a list of cut-offs, as TSV (metric<TAB>k<TAB>value)
 * or JSON on stdout; `--per-user FILE` also writes every evaluated user's metrics, by original user id, to
 * FILE (TSV, atomically).
 */
import { IdMap } from '../data/ids.js';
import type { Dataset } from '../data/types.js';
import type { RecModel } from '../models/model.js';
import { evaluate } from '../train/evaluate.js';
import { metricKeys } from '../train/metrics.js';
import { CLI_METRICS, parseKs, parseMetrics } from './cli-options.js';
import { writeStdout } from './cli-recommend.js';
import { writeFileAtomic } from './files.js';

export const DEFAULT_EVAL_KS = [5, 10, 20];

export async function runEval(values: Record<string, unknown>, m: { model: RecModel; data: Dataset; userIds?: string[] }, io: { json: boolean; log: (line: string) => void }): Promise<Record<string, unknown>> {
  const split = values.split === 'val' ? 'val' : 'test';
  const ks = values.k === undefined ? DEFAULT_EVAL_KS : parseKs(String(values.k));
  const metrics = values.metrics === undefined ? CLI_METRICS : parseMetrics(String(values.metrics));
  const perUserPath = values['per-user'] === undefined ? null : String(values['per-user']);
  const userIds = new IdMap('user', m.data.numUsers, m.userIds);
  const perUser: string[] = [];
  const res = await evaluate(m.model, m.data, split, {
    ks,
    metrics,
    onUser: perUserPath ? (u, um) => perUser.push(`${userIds.id(u)}\t${Object.values(um).join('\t')}\n`) : undefined,
  });
  io.log(`${split}: ${res.users} users`);
  if (perUserPath) {
    // Columns as the per-user objects list them: cut-offs ascending, the metrics in the order asked.
    await writeFileAtomic(perUserPath, `user\t${metricKeys([...ks].sort((a, b) => a - b), metrics).join('\t')}\n${perUser.join('')}`);
    io.log(`per-user metrics of ${perUser.length} users → ${perUserPath}`);
  }
  // TSV: one line per metric and cut-off, in the order asked.
  if (!io.json) await writeStdout(`metric\tk\tvalue\n${ks.flatMap((k) => metrics.map((name) => `${name}\t${k}\t${res[`${name}@${k}`]}\n`)).join('')}`);
  return { split, ...res };
}
