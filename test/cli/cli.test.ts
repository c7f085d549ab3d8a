import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseModelFile } from '../../src/io/modelfile.js';

const CLI = 'dist/cli.js';

function cli(args: string[]) {
  return runCli(args, { cli: CLI, maxBuffer: 1 << 24, timeout: 300_000 });
}

describe('irllrec CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'irllrec-cli-'));
  const model = join(dir, 'lightgcn.safetensors');

  beforeAll(() => {
    // `npm test` builds dist/ first (.ci/setup.sh); running vitest alone needs `npm run build`.
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first`);
  });

  it('train --synthetic --json prints metrics on stdout and writes a loadable model file', async () => {
    const r = await cli(['train', '--synthetic', '--model', 'lightgcn', '--epochs', '2', '--batch-size', '512', '--json', '--out', model]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.model).toBe('lightgcn');
    expect(out['recall@20']).toBeGreaterThan(0);
    expect(out['ndcg@20']).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/epoch 0/);
    const file = parseModelFile(new Uint8Array(readFileSync(model)));
    expect(file.config.kind).toBe('lightgcn');
    expect(file.train).not.toBeNull();
  });

  it('recommend --json lists k unseen items for a user from the model file alone', async () => {
    const r = await cli(['recommend', '--model', model, '--user', '3', '-k', '5', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.items).toHaveLength(5);
    const file = parseModelFile(new Uint8Array(readFileSync(model)));
    const seen = new Set<number>();
    for (let k = 0; k < file.train!.users.length; k++) if (file.train!.users[k] === 3) seen.add(file.train!.items[k]);
    for (const it of out.items) {
      expect(seen.has(it.index)).toBe(false);
      expect(it.item).toBe(String(it.index)); // a synthetic model has no original ids: the ids are the indices
    }
  });

  it('loss --json reports every component for a batch file', async () => {
    const data = join(dir, 'data');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(data);
    const { syntheticDataset } = await import('../../src/data/synthetic.js');
    const ds = syntheticDataset();
    const tsv = (s: { users: Uint32Array; items: Uint32Array }) => Array.from(s.users, (u, k) => `${u}\t${s.items[k]}`).join('\n');
    writeFileSync(join(data, 'train.tsv'), tsv(ds.train));
    writeFileSync(join(data, 'val.tsv'), tsv(ds.val));
    writeFileSync(join(data, 'test.tsv'), tsv(ds.test));
    writeFileSync(join(data, 'meta.json'), JSON.stringify({ users: ds.numUsers, items: ds.numItems }));
    writeFileSync(join(dir, 'batch.tsv'), '0\t1\t2\n3 4 5\n');
    const r = await cli(['loss', '--model', model, '--data', data, '--batch', join(dir, 'batch.tsv'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    for (const k of ['bpr', 'reg', 'kd', 'kd_int', 'ssl', 'itm', 'total']) expect(typeof out[k]).toBe('number');
    expect(out.bpr).toBeGreaterThan(0);
    const e = await cli(['eval', '--model', model, '--data', data, '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout.trim())['recall@20']).toBeGreaterThan(0);
  });

  it('train --model simgcl_int (and the reference name lightgcn_int) writes a model of that kind; the epoch log reports L_cl', async () => {
    const out = join(dir, 'simgcl_int.safetensors');
    const r = await cli(['train', '--synthetic', '--model', 'simgcl_int', '--epochs', '1', '--max-steps', '3', '--batch-size', '512', '--json', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim()).model).toBe('simgcl_int');
    expect(r.stderr).toMatch(/epoch 0: .*, cl [0-9.e-]+\)/);
    const file = parseModelFile(new Uint8Array(readFileSync(out)));
    expect(file.config.kind).toBe('simgcl_int');
    expect(file.config.noiseEps).toBeGreaterThan(0);
    expect([...file.tensors.keys()].some((k) => k.startsWith('int_mlp_m'))).toBe(false);
    const alias = await cli(['train', '--synthetic', '--model', 'lightgcn_int', '--epochs', '1', '--max-steps', '1', '--batch-size', '512', '--json']);
    expect(alias.code, alias.stderr).toBe(0);
    expect(JSON.parse(alias.stdout.trim()).model).toBe('irllrec');
    const bad = await cli(['train', '--synthetic', '--model', 'simgcl2']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--model must be one of .*sgl_int.*lightgcn_int.*got 'simgcl2'/);
  });

  it('train --data FILE splits a single interaction file (string ids, header) with the seed', async () => {
    const lines = ['user,item,rating'];
    for (let u = 0; u < 40; u++) for (let i = 0; i < 12; i++) if ((u * 7 + i * 3) % 5 !== 0) lines.push(`user${u},item${(u + i * 5) % 50},4`);
    const file = join(dir, 'ratings.csv');
    writeFileSync(file, lines.join('\n'));
    const r = await cli(['train', '--data', file, '--model', 'lightgcn', '--epochs', '1', '--batch-size', '64', '--json', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.dataset).toBe('ratings');
    expect(out['recall@20']).toBeGreaterThanOrEqual(0);
  });

  it('bad input: unknown command, bad numbers, missing files and bad batch lines fail with a message', async () => {
    expect((await cli(['frobnicate'])).code).toBe(2);
    const bad = await cli(['train', '--synthetic', '--epochs', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--epochs must be a non-negative integer/);
    const missing = await cli(['eval', '--model', join(dir, 'nope.safetensors'), '--data', dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.safetensors/);
    writeFileSync(join(dir, 'bad.tsv'), '0 1\n');
    const b = await cli(['loss', '--model', model, '--data', join(dir, 'data'), '--batch', join(dir, 'bad.tsv')]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/bad\.tsv:1: expected 'user pos neg'/);
  });
});
