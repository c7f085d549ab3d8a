import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StudyState } from '../../src/train/tune.js';

const CLI = 'dist/cli.js';

function cli(args: string[]) {
  return runCli(args, { cli: CLI, maxBuffer: 1 << 24, timeout: 300_000 });
}

/** A small study: 3 trials, rungs of 2 and 4 epochs (η = 2), validation every epoch. */
const STUDY = ['tune', '--synthetic', '--model', 'lightgcn', '--trials', '3', '--epochs', '4', '--eta', '2', '--eval-every', '1', '--patience', '1', '--seed', '11', '--batch-size', '512'];
const SLOW = 300_000;

describe('irllrec tune', () => {
  const dir = mkdtempSync(join(tmpdir(), 'irllrec-tune-'));
  let whole: { best: { trial: number; rung: number; recall: number; ndcg: number; runConfig: Record<string, unknown> }; trials: { rungs: { recall: number; budget: number }[] }[]; runs: number };

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'node .ci/build.mjs' first`);
  });

  it('runs a study, writes the trials and the best run configuration, which train --config reproduces', async () => {
    const out = join(dir, 'best.json');
    const study = join(dir, 'study');
    const r = await cli([...STUDY, '--study', study, '--out', out, '--json', '--budget', '600']);
    expect(r.code, r.stderr).toBe(0);
    whole = JSON.parse(r.stdout.trim());
    expect(whole.runs).toBe(4);
    // A line per run on stderr (not a terminal): runs done, best so far, ETA.
    expect(r.stderr.match(/^\[\d\/4 runs, \d\/3 trials\] trial \d rung \d: .* · best 0\.\d{4} \(trial \d\) · .* ETA /gm)).toHaveLength(4);
    const md = readFileSync(join(study, 'trials.md'), 'utf8');
    expect(md.split('\n').filter((l) => /^\| \d/.test(l))).toHaveLength(3);
    expect(md).toContain(`| ${whole.best.trial} ★ |`);
    expect(JSON.parse(readFileSync(join(study, 'trials.json'), 'utf8')).trials).toHaveLength(3);
    const best = JSON.parse(readFileSync(out, 'utf8'));
    expect(best).toEqual(whole.best.runConfig);
    // The epochs the best run trained under: its rung's budget (2 or 4).
    const epochs = whole.trials[whole.best.trial].rungs[whole.best.rung].budget;
    expect(best).toMatchObject({ model: 'lightgcn', preset: 'default', epochs, patience: 1, evalEvery: 1, batchSize: 512, seed: 11 });

    const t = await cli(['train', '--synthetic', '--config', out, '--json']);
    expect(t.code, t.stderr).toBe(0);
    const trained = JSON.parse(t.stdout.trim());
    expect(trained.val['recall@20']).toBe(whole.best.recall);
    expect(trained.val['ndcg@20']).toBe(whole.best.ndcg);

    // Run again: the study is complete, nothing is re-run.
    const again = await cli([...STUDY, '--study', study, '--out', out, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout.trim())).toMatchObject({ runs: 0, best: whole.best });
  }, SLOW);

  it('survives a kill: the resumed study skips finished runs and ends as the uninterrupted one', async () => {
    const out = join(dir, 'killed.json');
    const study = join(dir, 'killed');
    await new Promise<void>((done, fail) => {
      const child = spawn(process.execPath, [CLI, ...STUDY, '--study', study, '--out', out]);
      let err = '';
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        if (/\[2\/4 runs/.test(err)) child.kill('SIGKILL');
      });
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? done() : fail(new Error(`not killed (exit ${code}): ${err}`))));
    });
    const saved = JSON.parse(readFileSync(join(study, 'study.json'), 'utf8')) as StudyState;
    const finished = saved.trials.reduce((a, t) => a + t.rungs.length, 0);
    expect(finished).toBeGreaterThanOrEqual(2);
    expect(finished).toBeLessThan(4);
    expect(existsSync(out)).toBe(false);

    const r = await cli([...STUDY, '--study', study, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`tune: resuming ${study}: ${finished} runs done`);
    const resumed = JSON.parse(r.stdout.trim());
    expect(resumed.runs).toBe(4 - finished);
    expect(resumed.best).toEqual(whole.best);
    expect(resumed.trials.map((t: { rungs: { recall: number }[] }) => t.rungs.map((x) => x.recall))).toEqual(whole.trials.map((t) => t.rungs.map((x) => x.recall)));
  }, SLOW);

  it('a budget too small for any rung stops the first run, reports it and writes no configuration', async () => {
    const out = join(dir, 'tiny.json');
    const study = join(dir, 'tiny');
    // Patience 0: the first rung (7 epochs) cannot end early, so a 50 ms budget stops it on any machine.
    const r = await cli([...STUDY, '--epochs', '30', '--patience', '0', '--study', study, '--out', out, '--budget', '0.05']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/trial 0 rung 0: stopped by the budget/);
    expect(r.stderr).toMatch(/no trial finished its first rung \(budget\); nothing written/);
    expect(existsSync(out)).toBe(false);
    const saved = JSON.parse(readFileSync(join(study, 'study.json'), 'utf8')) as StudyState;
    expect(saved.stopped).toBe('budget');
    expect(saved.trials.map((t) => t.status)).toEqual(['stopped', 'pending', 'pending']);
    expect(readFileSync(join(study, 'trials.md'), 'utf8')).toContain('| 0 | stopped |');
  }, SLOW);

  it('bad spaces, flags and paths fail before any trial runs', async () => {
    const space = join(dir, 'space.json');
    writeFileSync(space, JSON.stringify({ intWeight: { type: 'float', low: 3e-2, high: 1e-4, log: true } }));
    const study = join(dir, 'bad-study');
    const cases: [string[], RegExp][] = [
      [['--space', space], /space\.json: field 'intWeight': inverted range: low 0\.03 > high 0\.0001/],
      [['--space', join(dir, 'missing.json')], /--space .*missing\.json: no such file/],
      [['--budget', '0'], /--budget must be a positive number of seconds, got '0'/],
      [['--out', join(dir, 'no', 'such', 'dir', 'best.json')], /directory .* does not exist/],
      [['--init', 'x.safetensors'], /--init is not an option of 'irllrec tune'/],
    ];
    for (const [extra, message] of cases) {
      const args = ['tune', '--synthetic', '--model', 'irllrec', '--study', study, '--out', join(dir, 'bad.json'), ...extra];
      const r = await cli(args);
      expect(r.code, extra.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/runs, /);
      expect(existsSync(join(study, 'study.json'))).toBe(false);
      expect(existsSync(join(dir, 'bad.json'))).toBe(false);
    }
    // A study directory holds one study: a damaged state or other settings are refused.
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'damaged'));
    writeFileSync(join(dir, 'damaged', 'study.json'), '{"format": "irllrec-study", ');
    const damaged = await cli([...STUDY, '--study', join(dir, 'damaged'), '--out', join(dir, 'bad.json')]);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toMatch(/damaged\/study\.json: not valid JSON .*remove it to start the study afresh/);
    const other = await cli([...STUDY, '--trials', '4', '--study', join(dir, 'study'), '--out', join(dir, 'bad.json')]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/it was started with trials = 3, this run has 4/);
    expect(existsSync(join(dir, 'bad.json'))).toBe(false);

    const noModel = await cli(['tune', '--synthetic', '--out', join(dir, 'bad.json')]);
    expect(noModel.code).toBe(1);
    expect(noModel.stderr).toMatch(/--model must be one of lightgcn, rlmrec, irllrec, sgl, .*, lightgcn_int, got nothing/);
    const badTrials = await cli(['tune', '--synthetic', '--model', 'lightgcn', '--trials', 'many', '--out', join(dir, 'bad.json')]);
    expect(badTrials.code).toBe(2);
    expect(badTrials.stderr).toMatch(/--trials must be a non-negative integer, got 'many'/);
  });
});
