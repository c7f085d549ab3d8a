/**
 * Tuning studies on disk: a study directory holds `study.json` (the state `tune` resumes from, written
 * atomically after every run) and the reports `trials.json` and `trials.md`.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IrllrecError } from '../errors.js';
import type { StudyResult, StudyState, StudyStore } from '../train/tune.js';
import { writeFileAtomic } from './files.js';

/** A `StudyStore` on `dir`/study.json (the directory is created on the first save). */
export function fileStudyStore(dir: string): StudyStore {
  const path = join(dir, 'study.json');
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new IrllrecError('io', `${path}: ${(e as Error).message}`);
      }
      try {
        return JSON.parse(text) as StudyState;
      } catch (e) {
        throw new IrllrecError('format', `${path}: not valid JSON (${(e as Error).message}); remove it to start the study afresh`);
      }
    },
    async save(state) {
      await mkdir(dir, { recursive: true });
      await writeFileAtomic(path, `${JSON.stringify(state, null, 1)}\n`);
    },
  };
}

const metric = (x: number | undefined) => (x === undefined ? '' : x.toFixed(4));

/** Every trial as a markdown table: its sampled values, validation Recall@20 per rung, NDCG@20, epochs, time. */
export function studyMarkdown(r: StudyResult): string {
  const s = r.state.settings;
  const fields = Object.keys(s.space).sort();
  const head = ['trial', 'status', ...fields, ...s.rungs.map((b) => `R@20 (${b} ep)`), 'NDCG@20', 'epochs', 'best epoch', 'seconds'];
  const rows = r.trials.map((t) => {
    const last = t.rungs[t.rungs.length - 1];
    return [
      `${t.id}${r.best?.trial === t.id ? ' ★' : ''}`,
      t.status === 'failed' ? `failed: ${t.error?.replace(/\|/g, '\\|')}` : t.status,
      ...fields.map((f) => String(t.config[f])),
      ...s.rungs.map((_, k) => metric(t.rungs[k]?.recall)),
      metric(last?.ndcg),
      last ? String(last.epochs) : '',
      last ? String(last.bestEpoch) : '',
      t.seconds.toFixed(1),
    ];
  });
  const line = (cells: string[]) => `| ${cells.join(' | ')} |\n`;
  const best = r.best ? `Best: trial ${r.best.trial}, validation Recall@20 ${metric(r.best.recall)}, NDCG@20 ${metric(r.best.ndcg)} (rung ${r.best.rung}).` : 'No trial finished a rung.';
  return (
    `# Tuning study: ${s.model}${s.preset ? ` (preset ${s.preset})` : ''}${s.data ? ` on ${s.data.split(':')[0]}` : ''}\n\n` +
    `${r.trials.length} trials, seed ${s.seed}, rungs of ${s.rungs.join(' / ')} epochs (η = ${s.eta}), patience ${s.patience}, validation every ${s.evalEvery} epochs; ` +
    `stopped: ${r.stopped} after ${r.state.elapsedSeconds.toFixed(1)} s. ${best}\n\n` +
    line(head) +
    line(head.map(() => '---')) +
    rows.map(line).join('')
  );
}

/** Write `trials.json` (settings, best, every trial) and `trials.md` as `${prefix}trials.json|md`, atomically. */
export async function writeStudyReports(prefix: string, r: StudyResult): Promise<{ json: string; markdown: string }> {
  const json = `${prefix}trials.json`;
  const markdown = `${prefix}trials.md`;
  const { settings, elapsedSeconds } = r.state;
  await writeFileAtomic(json, `${JSON.stringify({ settings, stopped: r.stopped, elapsedSeconds, best: r.best, trials: r.trials }, null, 1)}\n`);
  await writeFileAtomic(markdown, studyMarkdown(r));
  return { json, markdown };
}
