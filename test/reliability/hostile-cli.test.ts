/**
 * Hostile inputs through the CLI (dist/cli.js in child processes, peak RSS measured in the child with
 * maxrss.mjs): each crafted file is used by a real command and must end in exit 1 with a typed error that
 * names the file / field (never an 'unexpected' untyped one), within a time and memory bound, or in a correct
 * result. Classes of issue 12: 1 (work/allocation fields), 2 (score overflow), 3 (meaning: --user ids,
 * --init, loss --batch), 4 (warnings printed), 5 (output paths checked first), 6 (--checkpoint / --resume
 * after kill -9, bit-identical), 7 (regular files only), 8 (terminal-safe output), 10 (typed errors).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModelFile } from '../../src/io/modelfile.js';
import { MAX_INTENTS, MAX_LAYERS } from '../../src/models/config.js';
import { scaled, smallData, tsvOf, withConfig, writeDatasetDir } from './hostile-files.js';

const CLI = 'dist/cli.js';
const MAXRSS = join(import.meta.dirname, 'maxrss.mjs');
/** Peak RSS allowed to a CLI process refusing a hostile input (a plain run: ~65 MB on the CPU, ~170 MB with Dawn). */
const MAX_RSS_KB = 400 * 1024;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  rssKb: number;
}

function cli(args: string[], opts: { timeoutMs?: number; onSpawn?: (pid: number) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', MAXRSS, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const m = /maxrss-kb (\d+)/.exec(stderr);
      resolve({ code, signal, stdout, stderr: stderr.replace(/\nmaxrss-kb \d+\n$/, ''), ms: performance.now() - t0, rssKb: m ? Number(m[1]) : NaN });
    });
  });
}

/** A run that must fail with exit 1 and a typed error matching `message`, within `ms` and MAX_RSS_KB. */
async function refused(args: string[], message: RegExp, ms = 15_000): Promise<Run> {
  const r = await cli(args, { timeoutMs: ms + 30_000 });
  expect(r.signal, r.stderr).toBeNull();
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/unexpected|at .*\.js:\d+/); // typed, no stack trace
  expect(r.ms).toBeLessThan(ms);
  expect(r.rssKb).toBeLessThan(MAX_RSS_KB);
  return r;
}

const dir = mkdtempSync(join(tmpdir(), 'irllrec-hostile-cli-'));
const data = smallData();
/** An item id with an OSC title sequence and a colour sequence: printed, it must be shown, not executed. */
const EVIL_ITEM = '\x1b]0;owned\x07\x1b[31mred\u009b2J\u202e';
const itemName = (i: number) => (i === 0 ? EVIL_ITEM : `i${i}`);
const dsDir = writeDatasetDir(join(dir, 'named'), { train: tsvOf(data.train, (u) => `u${u}`, itemName), val: tsvOf(data.val, (u) => `u${u}`, itemName), test: tsvOf(data.test, (u) => `u${u}`, itemName) });
const model = join(dir, 'lightgcn.safetensors');
/** The same data with dense numeric ids. */
const plain = writeDatasetDir(join(dir, 'plain'), { train: tsvOf(data.train), val: tsvOf(data.val), test: tsvOf(data.test) });

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first`);
  const r = await cli(['train', '--data', dsDir, '--model', 'lightgcn', '--epochs', '1', '--batch-size', '64', '--backend', 'cpu', '--quiet', '--out', model]);
  expect(r.code, r.stderr).toBe(0);
}, 60_000);

describe('class 1: fields that drive work or allocation (CLI, peak RSS bounded)', () => {
  for (const backend of ['cpu', 'webgpu']) {
    it(`${backend}: recommend with a model file asking for 10^6 layers or 10^8 intents fails at once`, async () => {
      const base = new Uint8Array(readFileSync(model));
      for (const [field, value, limit] of [['layers', 1e6, MAX_LAYERS], ['numIntents', 1e8, MAX_INTENTS]] as const) {
        const path = join(dir, `${field}.safetensors`);
        writeFileSync(path, withConfig(base, { [field]: value }));
        await refused(['recommend', '--model', path, '--user', 'u1', '--backend', backend], new RegExp(`${field} = ${value} is over the limit of ${limit}`));
      }
    });
  }

  it("train on a dataset whose meta.json declares 2^32 − 1 users fails naming the field, value and limit", async () => {
    const d = writeDatasetDir(join(dir, 'meta-huge'), { train: '0\t1\n1\t0\n2\t2\n', meta: { users: 4294967295 } });
    await refused(['train', '--data', d, '--model', 'lightgcn', '--backend', 'cpu'], /meta\.json 'users' = 4294967295 is over the limit of 1030/);
  });
});

describe('class 2: scores that would overflow f32', () => {
  it('recommend refuses embeddings of 1e18 (exit 1, no null scores) and ranks 1e14 ones with finite scores', async () => {
    const base = new Uint8Array(readFileSync(model));
    const huge = join(dir, 'huge.safetensors');
    writeFileSync(huge, scaled(base, ['user_embeds', 'item_embeds'], 1e19));
    const r = await refused(['recommend', '--model', huge, '--user', 'u1', '--json', '--backend', 'cpu'], /may overflow f32/);
    expect(r.stdout).toBe('');
    const large = join(dir, 'large.safetensors');
    writeFileSync(large, scaled(base, ['user_embeds', 'item_embeds'], 1e15));
    const ok = await cli(['recommend', '--model', large, '--user', 'u1', '--json', '-k', '5']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).not.toMatch(/null/);
    const out = JSON.parse(ok.stdout) as { items: { score: number }[] };
    expect(out.items).toHaveLength(5);
    for (const it of out.items) expect(Number.isFinite(it.score) && Math.abs(it.score) > 1e20).toBe(true);
  });
});

describe('class 3: meaning (--user ids, --init, loss --batch)', () => {
  it("--user must be one of the model's ids: a digit string is not a dense index", async () => {
    await refused(['recommend', '--model', model, '--user', '3', '--backend', 'cpu'], /--user: unknown user id '3' \(40 users, e\.g\. 'u0'\)/);
    const ok = await cli(['recommend', '--model', model, '--user', 'u3', '-k', '3', '--json', '--backend', 'cpu']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).items).toHaveLength(3);
  });

  it('--init of another model kind or another dataset is refused before training', async () => {
    await refused(['train', '--data', dsDir, '--model', 'irllrec', '--init', model, '--random-text', '8', '--backend', 'cpu'], /--init .*lightgcn\.safetensors: the file holds a lightgcn model but --model asks for irllrec/);
    await refused(['train', '--synthetic', '--init', model, '--backend', 'cpu'], /--init .*: the file was trained on dataset 'named', this run uses 'synthetic'/);
  });

  it('loss --batch ids beyond the id space are errors naming the line (not wrapped into range)', async () => {
    const m = join(dir, 'plain.safetensors');
    expect((await cli(['train', '--data', plain, '--model', 'lightgcn', '--epochs', '1', '--backend', 'cpu', '--quiet', '--out', m])).code).toBe(0);
    const batch = join(dir, 'batch.txt');
    writeFileSync(batch, '0 1 2\n4294967296 1 2\n');
    await refused(['loss', '--model', m, '--data', plain, '--batch', batch, '--backend', 'cpu'], /batch\.txt:2: user id 4294967296 is out of range \(the model has 40 users\)/);
    writeFileSync(batch, '0 1 2\n1 2 50\n');
    await refused(['loss', '--model', m, '--data', plain, '--batch', batch, '--backend', 'cpu'], /batch\.txt:2: negative item id 50 is out of range \(the model has 50 items\)/);
  });
});

describe('class 4: dataset warnings reach the user', () => {
  it('train prints every warning on stderr and returns them in --json', async () => {
    const d = writeDatasetDir(join(dir, 'warn'), { train: `${tsvOf(data.train)}0\t${data.train.items[0]}\n`, val: `${tsvOf(data.val)}0\t49\n`, meta: { users: 40, items: 51, train: 1 } });
    const r = await cli(['train', '--data', d, '--model', 'lightgcn', '--epochs', '1', '--backend', 'cpu', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const warnings = JSON.parse(r.stdout).warnings as string[];
    expect(warnings).toContain('train: 1 duplicate pairs removed');
    expect(warnings.some((w) => /train\.tsv: \d+ distinct pairs, meta\.json says 1/.test(w))).toBe(true);
    for (const w of warnings) expect(r.stderr).toContain(`irllrec: warning: warn: ${w}`);
  });
});

describe('class 5: output paths are checked before the work', () => {
  it('--out in a missing directory, an empty --out, a directory as --out and a missing --checkpoint directory fail before training', async () => {
    // 300 epochs would take minutes: failing in seconds shows the check comes first.
    const train = ['train', '--synthetic', '--model', 'lightgcn', '--epochs', '300', '--backend', 'cpu'];
    await refused([...train, '--out', join(dir, 'no-such-dir', 'm.safetensors')], /--out .*no-such-dir\/m\.safetensors: the directory .*no-such-dir does not exist/, 5000);
    await refused([...train, '--out', ''], /--out: empty path/, 5000);
    await refused([...train, '--out', dir], /is a directory, expected a file path/, 5000);
    await refused([...train, '--checkpoint', join(dir, 'no-such-ckpt')], /--checkpoint .*no-such-ckpt.*does not exist/, 5000);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('class 6: --checkpoint / --resume after kill -9', () => {
  it('a run killed twice (before and after its first checkpoint) and resumed ends bit-identical to an uninterrupted one', async () => {
    // IRLLRec (teacher, intents, towers on seeded random text), long enough to be killed mid-run.
    const args = ['train', '--data', plain, '--random-text', '8', '--model', 'irllrec', '--epochs', '25', '--batch-size', '64', '--eval-every', '1', '--patience', '0', '--backend', 'cpu', '--json', '--quiet'];
    const full = join(dir, 'full.safetensors');
    const a = await cli([...args, '--out', full]);
    expect(a.code, a.stderr).toBe(0);
    const ck = join(dir, 'ckpt');
    mkdirSync(ck);
    const ckFile = join(ck, 'checkpoint.safetensors');
    const resumed = join(dir, 'resumed.safetensors');
    const killWhen = async (ready: () => boolean) => {
      let pid = 0;
      const run = cli([...args, '--checkpoint', ck, '--resume', '--out', resumed], { onSpawn: (p) => (pid = p) });
      for (let t = 0; t < 3000 && !ready(); t++) await new Promise((r) => setTimeout(r, 10));
      process.kill(pid, 'SIGKILL');
      return run;
    };
    // Killed while starting (no checkpoint yet), then mid-run after at least one checkpoint.
    const k1 = await killWhen(() => true);
    expect(k1.signal).toBe('SIGKILL');
    const k2 = await killWhen(() => existsSync(ckFile));
    expect(k2.signal).toBe('SIGKILL');
    expect(existsSync(resumed)).toBe(false);
    const b = await cli([...args, '--checkpoint', ck, '--resume', '--out', resumed]);
    expect(b.code, b.stderr).toBe(0);
    // Same parameters, training graph, ids and metadata (the model card's creation time aside) and metrics as the
    // uninterrupted run.
    const [fa, fb] = [parseModelFile(readFileSync(full), full), parseModelFile(readFileSync(resumed), resumed)];
    expect(fb.tensors).toEqual(fa.tensors);
    expect(fb.train).toEqual(fa.train);
    expect({ ...fb, tensors: null, train: null, card: { ...fb.card, created: null } }).toEqual({ ...fa, tensors: null, train: null, card: { ...fa.card, created: null } });
    const [ja, jb] = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    expect(jb.test).toEqual(ja.test);
    expect([jb.steps, jb.bestEpoch]).toEqual([ja.steps, ja.bestEpoch]);
    expect(readdirSync(ck).sort()).toEqual(['checkpoint.safetensors', 'run.json']);
    // Without --resume an existing checkpoint is not overwritten; a resume with other options is another run.
    await refused([...args, '--checkpoint', ck], /already holds checkpoint\.safetensors; pass --resume/);
    const other = args.map((a) => (a === '64' ? '32' : a));
    await refused([...other, '--checkpoint', ck, '--resume'], /options differ from the checkpointed run's, so it would not continue that run: batchSize 32 \(the checkpointed run: 64\)/);
  }, 120_000);
});

describe('class 7: only regular files are read', () => {
  it('a FIFO, a directory or a device as --model, --batch or a dataset file is a clear error, never a hang', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await refused(['recommend', '--model', fifo, '--user', 'u1', '--backend', 'cpu'], /fifo: the model file must be a regular file, this is a FIFO/, 5000);
    await refused(['recommend', '--model', dir, '--user', 'u1', '--backend', 'cpu'], /the model file must be a regular file, this is a directory/, 5000);
    await refused(['recommend', '--model', '/dev/zero', '--user', 'u1', '--backend', 'cpu'], /\/dev\/zero: the model file must be a regular file, this is a device/, 5000);
    await refused(['loss', '--model', model, '--data', dsDir, '--batch', fifo, '--backend', 'cpu'], /the batch file must be a regular file, this is a FIFO/, 5000);
    await refused(['train', '--config', fifo, '--backend', 'cpu'], /the run configuration \(--config\) must be a regular file, this is a FIFO/, 5000);
    const d = join(dir, 'fifo-data');
    mkdirSync(d);
    execFileSync('mkfifo', [join(d, 'train.tsv')]);
    await refused(['train', '--data', d, '--backend', 'cpu'], /train\.tsv: the dataset file train\.tsv must be a regular file, this is a FIFO/, 5000);
  });
});

describe('class 8: output cannot attack the terminal', () => {
  it('ids from files and arguments are printed escaped: no raw ESC or BEL reaches stderr', async () => {
    // Every unseen item of user 1 is listed, so the crafted item 0 is among them.
    let seen = 0;
    for (let k = 0; k < data.train.users.length; k++) if (data.train.users[k] === 1) seen++;
    expect(Array.from(data.train.items.filter((_, k) => data.train.users[k] === 1))).not.toContain(0);
    const r = await cli(['recommend', '--model', model, '--user', 'u1', '-k', String(Math.min(100, data.numItems - seen)), '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    // Results go to stdout (TSV), logs to stderr: neither carries a raw control character.
    expect(r.stdout).toContain('\\x1b]0;owned\\x07\\x1b[31mred\\x9b2J\\u202e');
    expect(r.stdout).not.toMatch(/[\x1b\x07\u009b\u202e]/);
    expect(r.stderr).not.toMatch(/[\x1b\x07\u009b\u202e]/);
    // --json: the same id, escaped as JSON (C1 and bidi controls too), parses back to the id itself.
    const j = await cli(['recommend', '--model', model, '--user', 'u1', '-k', String(Math.min(100, data.numItems - seen)), '--backend', 'cpu', '--json', '--quiet']);
    expect(j.stdout).not.toMatch(/[\x1b\x07\u009b\u202e]/);
    expect((JSON.parse(j.stdout).items as { item: string }[]).map((x) => x.item)).toContain(EVIL_ITEM);
    // A dataset directory (the dataset's name) with a title sequence is shown escaped in the progress lines too.
    const named = writeDatasetDir(join(dir, '\x1b]0;pwned\x07'), { train: tsvOf(data.train) });
    const t = await cli(['train', '--data', named, '--model', 'lightgcn', '--epochs', '1', '--backend', 'cpu']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toContain('lightgcn on \\x1b]0;pwned\\x07 (');
    expect(t.stderr).not.toMatch(/[\x1b\x07]/);
    const bad = await refused(['recommend', '--model', model, '--user', '\x1b[2J\x1b[Hgone', '--backend', 'cpu'], /--user: unknown user id '\\x1b\[2J\\x1b\[Hgone'/);
    expect(bad.stderr).not.toMatch(/\x1b/);
  });
});
