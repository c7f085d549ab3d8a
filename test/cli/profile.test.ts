import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';

// The CLI built from the current sources into a private folder inside the repo (so that 'webgpu' resolves
// from node_modules): rebuilding dist/ itself here would race test/cli/cli.test.ts, which runs dist/cli.js
// in a parallel fork. Same build script and output as dist/ (IRLLREC_DIST only moves it).
const DIST = `.tmp/dist-profile-test-${process.pid}`;
const CLI = `${DIST}/cli.js`;

function cli(args: string[]) {
  return runCli(args, { cli: CLI, maxBuffer: 1 << 24, timeout: 120_000 });
}

interface Row {
  section: string;
  kernel: string;
  calls: number;
  ms: number;
  msPerStep: number;
  percent: number;
}

describe('irllrec train --profile', () => {
  beforeAll(() => {
    // Build the CLI from the current sources so that the flag under test is in the binary.
    execFileSync(process.execPath, ['.ci/build.mjs'], { stdio: 'ignore', env: { ...process.env, IRLLREC_DIST: DIST } });
  }, 120_000);
  afterAll(() => rmSync(DIST, { recursive: true, force: true }));

  it('prints a per-kernel breakdown on stderr and returns it as "profile" in --json', async () => {
    const r = await cli(['train', '--synthetic', '--model', 'irllrec', '--max-steps', '3', '--profile', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.steps).toBe(3);
    if (out.profile === null) {
      // A device without timestamp queries: a clear notice instead of a profile.
      expect(r.stderr).toMatch(/--profile unavailable: .*timestamp-query/);
      return;
    }
    expect(out.profileUntimedDispatches).toBe(0);
    const rows = out.profile as Row[];
    expect(rows.length).toBeGreaterThan(5);
    // Training-step kernels first, then evaluation's (validation and test ranking), each slowest first.
    const sections = [...new Set(rows.map((x) => x.section))];
    expect(sections).toEqual(['training', 'evaluation']);
    const train = rows.filter((x) => x.section === 'training');
    const evaluation = rows.filter((x) => x.section === 'evaluation');
    const names = train.map((x) => x.kernel);
    // IRLLRec's training step runs the graph propagation, the InfoNCE alignment and Adam; ranking is evaluation's.
    for (const k of ['spmm', 'adam', 'bpr']) expect(names).toContain(k);
    expect(names.some((n) => n.startsWith('infonce'))).toBe(true);
    expect(names.some((n) => n.startsWith('topk'))).toBe(false);
    expect(evaluation.some((x) => x.kernel.startsWith('topk'))).toBe(true);
    expect(evaluation.some((x) => x.kernel === 'adam' || x.kernel === 'bpr')).toBe(false);
    for (const x of rows) {
      expect(x.calls).toBeGreaterThan(0);
      expect(x.ms).toBeGreaterThanOrEqual(0);
      expect(x.msPerStep).toBeCloseTo(x.ms / 3, 6);
    }
    for (const part of [train, evaluation]) {
      for (let i = 1; i < part.length; i++) expect(part[i].ms).toBeLessThanOrEqual(part[i - 1].ms);
      expect(part.reduce((a, x) => a + x.percent, 0)).toBeCloseTo(100, 3);
    }
    expect(train.reduce((a, x) => a + x.ms, 0)).toBeGreaterThan(0);
    // The table on stderr: header, then per section a header line, one line per kernel and a total line.
    expect(r.stderr).toMatch(/GPU time per kernel \(3 training steps/);
    expect(r.stderr).toMatch(/\ntraining \(ms\/step: per optimiser step\)\nkernel\s+calls\s+total ms\s+ms\/step\s+%/);
    expect(r.stderr).toMatch(/\nevaluation \(ms\/step: spread over the training steps\)\nkernel\s+calls/);
    for (const x of rows) expect(r.stderr).toContain(x.kernel);
    expect(r.stderr.match(/\ntotal\s+\d+\s+[\d.]+\s+[\d.]+\s+100\.0\n/g)?.length).toBe(2);
  }, 120_000);

  it('on the CPU backend says that profiling needs WebGPU and still trains', async () => {
    const r = await cli(['train', '--synthetic', '--model', 'lightgcn', '--max-steps', '2', '--backend', 'cpu', '--profile', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--profile needs the WebGPU backend/);
    const out = JSON.parse(r.stdout.trim());
    expect(out.steps).toBe(2);
    expect(out.profile).toBeNull();
    expect(r.stderr).not.toMatch(/GPU time per kernel/);
  }, 120_000);

  it('--profile-memory reports the bytes by role at the peak; --max-memory plans within a budget or refuses it up front', async () => {
    const r = await cli(['train', '--synthetic', '--model', 'irllrec', '--random-text', '48', '--max-steps', '1', '--epochs', '1', '--profile-memory', '--max-memory', '1G', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    const roles = out.memory.peak.roles as Record<string, number>;
    const n = 600 + 800; // the synthetic dataset's users + items
    // Two 48-wide text tables on the device; parameters, Adam moments (twice the parameters) and the teacher.
    expect(roles['text tables']).toBeGreaterThanOrEqual(2 * n * 48 * 4);
    expect(roles['Adam moments']).toBeGreaterThanOrEqual(2 * roles.parameters - 2 * 4096);
    expect(roles.teacher).toBeGreaterThan(0);
    expect(out.memory.peak.rss).toBeGreaterThan(0);
    expect(out.memory.highWaterMark).toBeGreaterThanOrEqual(out.memory.peak.rss);
    expect(r.stderr).toMatch(/Memory at the peak sample[^\n]*MiB:\n(.*\n)*  text tables\s+[\d.]+\n/);
    const refused = await cli(['train', '--synthetic', '--model', 'irllrec', '--random-text', '48', '--max-steps', '1', '--max-memory', '256K']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/needs at least [\d.]+ MiB of device memory but maxMemory is 0\.3 MiB/);
    const bad = await cli(['train', '--synthetic', '--max-steps', '1', '--max-memory', 'lots']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--max-memory must be a positive size/);
  }, 180_000);
});
