import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModelFile } from '../../src/io/modelfile.js';

const CLI = 'dist/cli.js';

function cli(args: string[], env: Record<string, string> = {}) {
  return runCli(args, { cli: CLI, maxBuffer: 1 << 26, timeout: 300_000, env });
}

/** Rows of a recommend TSV (after its header). */
function rows(tsv: string): { user: string; rank: number; item: string; score: number }[] {
  const lines = tsv.trimEnd().split('\n');
  expect(lines[0]).toBe('user\trank\titem\tscore');
  return lines.slice(1).map((l) => {
    const [user, rank, item, score] = l.split('\t');
    return { user, rank: Number(rank), item, score: Number(score) };
  });
}

describe('irllrec CLI: results on stdout, batch export, eval lists, help and enum options', () => {
  const dir = mkdtempSync(join(tmpdir(), 'irllrec-export-'));
  const model = join(dir, 'ids.safetensors');
  const synth = join(dir, 'synthetic.safetensors');

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first`);
    // String ids: users 'user<n>', items 'item<n>' (dense indices differ from the numbers in the ids).
    const lines = ['user,item,rating'];
    for (let u = 0; u < 40; u++) for (let i = 0; i < 12; i++) if ((u * 7 + i * 3) % 5 !== 0) lines.push(`user${39 - u},item${(u + i * 5) % 50},4`);
    writeFileSync(join(dir, 'ratings.csv'), lines.join('\n'));
    const a = await cli(['train', '--data', join(dir, 'ratings.csv'), '--model', 'lightgcn', '--epochs', '1', '--batch-size', '64', '--backend', 'cpu', '--quiet', '--out', model]);
    expect(a.code, a.stderr).toBe(0);
    const b = await cli(['train', '--synthetic', '--model', 'lightgcn', '--epochs', '1', '--batch-size', '512', '--backend', 'cpu', '--quiet', '--out', synth]);
    expect(b.code, b.stderr).toBe(0);
  }, 300_000);

  it('recommend --user prints TSV with original ids on stdout, nothing of it on stderr', async () => {
    const r = await cli(['recommend', '--model', model, '--user', 'user7', '-k', '4']);
    expect(r.code, r.stderr).toBe(0);
    const got = rows(r.stdout);
    expect(got.map((x) => x.rank)).toEqual([1, 2, 3, 4]);
    for (const x of got) {
      expect(x.user).toBe('user7');
      expect(x.item).toMatch(/^item\d+$/);
    }
    for (let t = 1; t < got.length; t++) expect(got[t].score).toBeLessThanOrEqual(got[t - 1].score);
    expect(r.stderr).not.toMatch(/item\d+/);
    const j = await cli(['recommend', '--model', model, '--user', 'user7', '-k', '4', '--json']);
    const out = JSON.parse(j.stdout);
    expect(out.user).toBe('user7');
    expect(out.items.map((x: { item: string }) => x.item)).toEqual(got.map((x) => x.item));
    const bad = await cli(['recommend', '--model', model, '--user', 'user99']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--user: unknown user id 'user99' \(40 users/);
  });

  it('recommend --users all --out FILE: every user, k unseen items each, written atomically in chunks on the GPU', async () => {
    const out = join(dir, 'all.tsv');
    const r = await cli(['recommend', '--model', model, '--users', 'all', '-k', '5', '--chunk', '7', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ out, k: 5, users: 40, rows: 200 });
    expect(r.stderr).toMatch(/recommend: 40 users, 200 rows/);
    const file = parseModelFile(new Uint8Array(readFileSync(model)));
    const uIdx = new Map(file.userIds!.map((id, i) => [id, i]));
    const iIdx = new Map(file.itemIds!.map((id, i) => [id, i]));
    const seen = new Set<string>();
    for (let e = 0; e < file.train!.users.length; e++) seen.add(`${file.train!.users[e]}:${file.train!.items[e]}`);
    const got = rows(readFileSync(out, 'utf8'));
    expect(got).toHaveLength(200);
    expect([...new Set(got.map((x) => x.user))]).toEqual(file.userIds);
    for (const x of got) expect(seen.has(`${uIdx.get(x.user)}:${iIdx.get(x.item)}`), `${x.user} ${x.item} is a training pair`).toBe(false);
    // The same rows as one user at a time (another chunking, the fused path).
    const one = rows((await cli(['recommend', '--model', model, '--user', 'user12', '-k', '5'])).stdout);
    expect(got.filter((x) => x.user === 'user12').map((x) => x.item)).toEqual(one.map((x) => x.item));
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('recommend --users FILE: ids from the file in its order; an unknown id fails before any output, naming file and line', async () => {
    writeFileSync(join(dir, 'some.txt'), '# who\nuser3\n\nuser0\r\n');
    const r = await cli(['recommend', '--model', model, '--users', join(dir, 'some.txt'), '-k', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(rows(r.stdout).map((x) => x.user)).toEqual(['user3', 'user3', 'user0', 'user0']);
    writeFileSync(join(dir, 'bad.txt'), 'user3\nuser77\n');
    const out = join(dir, 'bad.tsv');
    const b = await cli(['recommend', '--model', model, '--users', join(dir, 'bad.txt'), '--out', out]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/bad\.txt:2: unknown user id 'user77'/);
    expect(existsSync(out)).toBe(false);
    const both = await cli(['recommend', '--model', model, '--user', 'user3', '--users', 'all']);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/either --user ID or --users FILE\|all/);
  });

  it('recommend -k 150 (above the fast kernel) on the GPU equals the CPU backend', async () => {
    const args = ['recommend', '--model', synth, '--users', join(dir, 'synth-users.txt'), '-k', '150'];
    writeFileSync(join(dir, 'synth-users.txt'), '0\n5\n17\n');
    const g = await cli([...args, '--backend', 'webgpu']);
    const c = await cli([...args, '--backend', 'cpu']);
    expect(g.code, g.stderr).toBe(0);
    expect(c.code, c.stderr).toBe(0);
    const gr = rows(g.stdout);
    const cr = rows(c.stdout);
    expect(gr).toHaveLength(450);
    let differ = 0;
    gr.forEach((x, t) => {
      expect(x.score).toBeCloseTo(cr[t].score, 4);
      if (x.item !== cr[t].item) differ++;
    });
    expect(differ).toBeLessThanOrEqual(4); // near-ties only (f32 summation order)
  });

  it('eval -k LIST --metrics LIST prints one TSV line per metric and K; --json has the same numbers', async () => {
    const data = join(dir, 'data');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(data);
    const { syntheticDataset } = await import('../../src/data/synthetic.js');
    const ds = syntheticDataset();
    const tsv = (s: { users: Uint32Array; items: Uint32Array }) => Array.from(s.users, (u, k) => `${u}\t${s.items[k]}`).join('\n');
    for (const split of ['train', 'val', 'test'] as const) writeFileSync(join(data, `${split}.tsv`), tsv(ds[split]));
    writeFileSync(join(data, 'meta.json'), JSON.stringify({ users: ds.numUsers, items: ds.numItems }));
    const r = await cli(['eval', '--model', synth, '--data', data, '-k', '10,50,200', '--metrics', 'recall,map,mrr,hit']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('metric\tk\tvalue');
    const m = new Map(lines.slice(1).map((l) => l.split('\t')).map(([name, k, v]) => [`${name}@${k}`, Number(v)]));
    expect([...m.keys()]).toEqual(['recall@10', 'map@10', 'mrr@10', 'hit@10', 'recall@50', 'map@50', 'mrr@50', 'hit@50', 'recall@200', 'map@200', 'mrr@200', 'hit@200']);
    expect(m.get('recall@50')!).toBeGreaterThan(m.get('recall@10')!);
    expect(m.get('recall@200')!).toBeGreaterThan(m.get('recall@50')!);
    expect(m.get('hit@200')!).toBeGreaterThanOrEqual(m.get('hit@50')!);
    expect(m.get('mrr@50')!).toBeGreaterThanOrEqual(m.get('mrr@10')!);
    const perUser = join(dir, 'per-user.tsv');
    const j = await cli(['eval', '--model', synth, '--data', data, '-k', '50,10,200', '--metrics', 'recall,map,mrr,hit', '--json', '--per-user', perUser]);
    expect(j.code, j.stderr).toBe(0);
    const out = JSON.parse(j.stdout);
    for (const [key, v] of m) expect(out[key]).toBeCloseTo(v, 12);
    expect(out.split).toBe('test');
    expect(out.users).toBeGreaterThan(0);
    // Per user: one row per evaluated user (original ids: the synthetic set has none, so the indices), whose
    // column means are the aggregates.
    const [header, ...body] = readFileSync(perUser, 'utf8').trimEnd().split('\n');
    const cols = header.split('\t');
    expect(cols).toEqual(['user', ...m.keys()]);
    expect(body).toHaveLength(out.users);
    const testUsers = new Set(Array.from(ds.test.users, String));
    for (const line of body) expect(testUsers.has(line.split('\t')[0])).toBe(true);
    cols.slice(1).forEach((key, c) => {
      const mean = body.reduce((a, line) => a + Number(line.split('\t')[c + 1]), 0) / body.length;
      expect(mean, key).toBeCloseTo(out[key], 9);
    });
  });

  it('train prints its test metrics as TSV on stdout (the same numbers as --json), its log on stderr', async () => {
    const args = ['train', '--synthetic', '--model', 'lightgcn', '--epochs', '2', '--backend', 'cpu', '--seed', '5'];
    const t = await cli(args);
    expect(t.code, t.stderr).toBe(0);
    const lines = t.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('metric\tk\tvalue');
    expect(t.stderr).toMatch(/test \(best epoch \d+\)/);
    expect(t.stderr).not.toContain('metric\tk\tvalue');
    const j = await cli([...args, '--json', '--quiet']);
    const test = JSON.parse(j.stdout).test as Record<string, number>;
    const got = Object.fromEntries(lines.slice(1).map((l) => l.split('\t')).map(([m, k, v]) => [`${m}@${k}`, Number(v)]));
    expect(got).toEqual(Object.fromEntries(Object.entries(test).filter(([k]) => k !== 'users')));
    expect(got['recall@20']).toBeGreaterThan(0);
  });

  it('--version, help COMMAND and COMMAND --help exit 0; unknown enum values exit 2 naming option, value and choices', async () => {
    const v = await cli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    for (const args of [['train', '--help'], ['help', 'train'], ['recommend', '-h'], ['help', 'eval']]) {
      const h = await cli(args);
      expect(h.code, args.join(' ')).toBe(0);
      expect(h.stdout).toContain(`irllrec ${args[0] === 'help' ? args[1] : args[0]} `);
      expect(h.stdout).not.toContain('irllrec loss');
    }
    expect((await cli(['help', 'eval'])).stdout).toMatch(/MAP@K = \(1\/min\(\|T\|, K\)\)/);
    expect((await cli(['help', 'nope'])).code).toBe(2);
    for (const [args, msg] of [
      [['train', '--synthetic', '--backend', 'gpu'], /--backend must be one of auto, webgpu, cpu, got 'gpu'/],
      [['eval', '--model', model, '--split', 'x'], /--split must be one of test, val, got 'x'/],
      [['eval', '--model', model, '--metrics', 'recall,foo'], /--metrics must be a comma list of recall, ndcg, precision, hit, mrr, map, got 'foo'/],
      [['eval', '--model', model, '-k', '10,0'], /-k must be a comma list of integers in 1…1024/],
    ] as const) {
      const r = await cli([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
    const k2 = await cli(['recommend', '--model', model, '--user', 'user1', '-k', '5,10']);
    expect(k2.code).toBe(1);
    expect(k2.stderr).toMatch(/-k must be one integer/);
  });

  it('train without a terminal prints progress lines (steps, total, rate, ETA) between epoch ends; --quiet prints nothing', async () => {
    const args = ['train', '--synthetic', '--model', 'lightgcn', '--epochs', '2', '--batch-size', '128', '--backend', 'cpu'];
    const r = await cli(args, { IRLLREC_PROGRESS_MS: '50' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/[\r\x1b]/);
    const lines = r.stderr.split('\n');
    const firstEpochEnd = lines.findIndex((l) => l.startsWith('epoch 0:'));
    // epochs are numbered from 0 as in the epoch lines
    const stepLines = lines.slice(0, firstEpochEnd).filter((l) => /^epoch 0 of 2, step \d+\/\d+, \d+\/\d+ steps .* [\d.]+ steps\/s, ETA [\d.]+s/.test(l));
    expect(stepLines.length, r.stderr).toBeGreaterThanOrEqual(2);
    // the totals: steps per epoch × 2 epochs
    const [, perEpoch] = /step \d+\/(\d+)/.exec(stepLines[0])!;
    expect(stepLines[0]).toContain(`/${2 * Number(perEpoch)} steps`);
    const q = await cli([...args, '--quiet'], { IRLLREC_PROGRESS_MS: '50' });
    expect(q.code).toBe(0);
    expect(q.stderr).toBe('');
  });
});
