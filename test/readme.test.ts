/**
 * The README's examples, run as written (issue 11). Every fenced block of README.md is either run here or
 * marked, on the line just above its fence, `<!-- not run by test/readme.test.ts: REASON -->`; a block that is
 * neither fails the first test, and so does a plan below that no longer matches a block.
 *
 * Where they run: an app folder in a temporary directory whose node_modules links `irllrec` to this repository
 * (so `irllrec` and `irllrec/node` are the built dist/, through the package's `exports`), `webgpu` to this
 * repository's copy, and `.bin/irllrec` to dist/cli.js (the `bin`), as `npm install` of the package would. The
 * packed tarball itself is checked by test/package.test.ts. Blocks run in README order and share the folder
 * (the serving examples load the model.safetensors that the training examples wrote).
 *
 * - `sh` blocks run in bash (`set -e -o pipefail`) with the app's node_modules/.bin on PATH; the two-commands
 *   block runs in the repository, as the README says.
 * - `ts` / `js` blocks are stripped of types by esbuild and run by Node as ES modules. Blocks that import
 *   `irllrec/node` run as they are; blocks that import the browser entry `irllrec` run in Node with what a page
 *   gives them (page.mjs below): `navigator.gpu` (Dawn's, as a browser provides WebGPU) and `fetch` resolved
 *   against the page's origin (a static server over the app folder).
 *
 * What the test changes, and nothing else: the substitutions listed in PLANS, each with its reason, each applied
 * to every occurrence and each required to occur in the block as written (edit the README and this test fails
 * until the plan follows it). They are of four kinds: the data (the README's movielens/amazon folders and the
 * placeholder DIR become `data/synthetic`), ids of those datasets (an Amazon user id becomes a synthetic one),
 * long runs (epoch counts, tune's trials), and file-name placeholders. The data: `data/synthetic` is the built-in
 * synthetic dataset with the CLI's default seed (2023), written as a dataset folder (TSV, meta.json, the four
 * text-embedding .npy files), so `--data data/synthetic` and `--synthetic` train on the same data and a model of
 * either fits the other. The app folder also gets the input files the CLI examples name, ids.txt (user ids, a
 * '#' comment) and triples.tsv (`user pos neg` lines), and space.json for tune (see its substitution).
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize, resolve } from 'node:path';
import { promisify } from 'node:util';
import { transform } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticDataset } from '../src/data/synthetic.js';
import { writeNpy } from '../src/io/npy.js';
import { tsvOf, writeDatasetDir } from './reliability/hostile-files.js';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '..');
const README = readFileSync(join(repo, 'README.md'), 'utf8');

interface Block {
  lang: string;
  code: string;
  /** 1-based line of the opening fence in README.md. */
  line: number;
  /** The reason given by a `not run` marker just above the fence, else null. */
  notRun: string | null;
}

const MARKER = /^<!-- not run by test\/readme\.test\.ts: (.+) -->$/;

/** Every fenced block of a Markdown text, with the `not run` marker above it if there is one. */
function fencedBlocks(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l === '```');
    if (end < 0) throw new Error(`README.md:${i + 1}: code block never closed`);
    blocks.push({ lang: open[1], code: lines.slice(i + 1, end).join('\n') + '\n', line: i + 1, notRun: MARKER.exec(lines[i - 1] ?? '')?.[1] ?? null });
    i = end;
  }
  return blocks;
}

/** [as written in the README, as run, why]. */
type Substitution = readonly [from: string, to: string, why: string];

interface Plan {
  /** The block starts with this text. */
  starts: string;
  /** 'node': Node with the app's packages; 'browser': the same plus page.mjs (navigator.gpu, the page's fetch). */
  env: 'sh' | 'node' | 'browser';
  /** Where it runs (default: the app folder). */
  cwd?: 'repo';
  /** Code run before the block (for a block that continues an earlier one). */
  prelude?: string;
  subs?: Substitution[];
  /** Checks of what the block produced, in the app folder. */
  check?: (app: string, out: { stdout: string; stderr: string }) => Promise<void>;
}

const ONE_EPOCH = 'one epoch instead of the README’s count (the examples are checked to run, not to converge)';
const SYNTHETIC = 'the built-in synthetic data written as a dataset folder stands in for the shared datasets';
const SYNTHETIC_IDS = 'an id of the synthetic data (whose model uses its indices as ids) for the README’s Amazon id';
const MODEL = 'the model file written by the block’s first line';

const PLANS: Plan[] = [
  {
    starts: 'npm run main',
    env: 'sh',
    cwd: 'repo',
    subs: [
      ['npm run main    #', 'npm run main -- --epochs 1    #', ONE_EPOCH],
      ['npm test        #', ': npm test        #', 'this test is part of npm test: it would run itself'],
    ],
    check: async (_app, out) => expect(out.stdout).toMatch(/^recall\t20\t0\.\d+$/m),
  },
  {
    starts: "import { createBackend, fit, loadDatasetDir, serializeModel, writeFileAtomic } from 'irllrec/node';",
    env: 'node',
    subs: [
      ["loadDatasetDir('data/movielens')", "loadDatasetDir('data/synthetic')", SYNTHETIC],
      ['epochs: 60', 'epochs: 1', ONE_EPOCH],
    ],
    check: async (app) => expect((await stat(join(app, 'model.safetensors'))).size).toBeGreaterThan(100_000),
  },
  {
    starts: "import { createBackend, syntheticDataset, fit, recommendForUsers } from 'irllrec';",
    env: 'browser',
    subs: [['epochs: 10', 'epochs: 1', ONE_EPOCH]],
    check: async (_app, out) => expect(out.stdout).toMatch(/Uint32Array\(10\)/),
  },
  {
    starts: 'irllrec train --synthetic --model irllrec --out model.safetensors',
    env: 'sh',
    subs: [
      ['irllrec train --synthetic --model irllrec --out model.safetensors', 'irllrec train --synthetic --model irllrec --out model.safetensors --epochs 1', ONE_EPOCH],
      ['--data data/movielens --model irllrec --epochs 30', '--data data/synthetic --model irllrec --epochs 1', `${SYNTHETIC}; ${ONE_EPOCH}`],
      ['--data data/amazon --model irllrec --preset reference --patience 0 --eval-every 1', '--data data/synthetic --model irllrec --preset reference --patience 0 --eval-every 1 --epochs 1', `${SYNTHETIC}; ${ONE_EPOCH}`],
      [
        'irllrec train --data DIR --model irllrec --checkpoint runs/a [--resume]',
        'irllrec train --data DIR --model irllrec --checkpoint runs/a --epochs 1 && irllrec train --data DIR --model irllrec --checkpoint runs/a --epochs 1 --resume',
        `both forms of [--resume], the second continuing the first; ${ONE_EPOCH}`,
      ],
      ['--budget 3600', '--budget 3600 --trials 1 --epochs 1 --space space.json', 'one trial of one epoch instead of 12 of up to 30, in a space of intWeight alone (space.json)'],
      ['DIR', 'data/synthetic', SYNTHETIC],
      ['m.safetensors', 'model.safetensors', MODEL],
      ['[--per-user u.tsv]', '--per-user u.tsv', 'the optional flag, given'],
      ['--user A3SGXH7AUHU8GW', '--user 7', SYNTHETIC_IDS],
    ],
    check: async (app, out) => {
      // Every command ran and did its work: the files they name exist and hold what they say.
      expect((await readFile(join(app, 'recs.tsv'), 'utf8')).trimEnd().split('\n')).toHaveLength(1 + 600 * 100);
      expect((await readFile(join(app, 'u.tsv'), 'utf8')).split('\n').length).toBeGreaterThan(100);
      expect(JSON.parse(await readFile(join(app, 'best.json'), 'utf8'))).toMatchObject({ model: 'irllrec', epochs: 1, intWeight: expect.any(Number) });
      await stat(join(app, 'runs/a/checkpoint.safetensors'));
      await stat(join(app, 'runs/study/trials.md'));
      const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
      expect(out.stdout.trimEnd().split('\n').at(-1)).toBe(version);
      expect(out.stdout).toMatch(/"recall@20"/); // --json of the movielens line
      expect(out.stdout).toMatch(/^user\trank\titem\tscore\n7\t1\t/m);
    },
  },
  { starts: "// Node: a path, bytes or a URL (irllrec/node adds paths and file: URLs)\nimport { Recommender } from 'irllrec/node';", env: 'node' },
  { starts: "// Browser: bytes from fetch or a file input; a person's history never leaves the page\nimport { Recommender } from 'irllrec';", env: 'browser' },
  {
    starts: "const r = await rec.recommend('A3SGXH7AUHU8GW', { k: 20 });",
    env: 'node',
    prelude: "import { Recommender } from 'irllrec/node';\nconst rec = await Recommender.load('model.safetensors');\n",
    subs: [
      ["'A3SGXH7AUHU8GW'", "'7'", SYNTHETIC_IDS],
      ["'B00X4WHP5E'", "'12'", SYNTHETIC_IDS],
      ["'B01N5P9Z5T'", "'40'", SYNTHETIC_IDS],
    ],
  },
];

/** The block as run: each substitution, required to occur in the block as written, applied everywhere. */
function substituted(block: Block, plan: Plan): string {
  let code = block.code;
  for (const [from, to] of plan.subs ?? []) {
    expect(code.includes(from), `README.md:${block.line} no longer contains ${JSON.stringify(from)}: update the substitution in test/readme.test.ts`).toBe(true);
    code = code.split(from).join(to);
  }
  return code;
}

/** What a page gives the README's browser examples (see the header). */
const PAGE = `import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true });
const pageFetch = globalThis.fetch;
globalThis.fetch = (url, init) => pageFetch(new URL(url, process.env.PAGE_ORIGIN), init);
`;

const blocks = fencedBlocks(README);

describe("the README's examples, run as written", () => {
  const tmp = mkdtempSync(join(tmpdir(), 'irllrec-readme-'));
  const app = join(tmp, 'app');
  let server: Server;
  let origin = '';

  beforeAll(async () => {
    // The examples run the built package: a dist/ older than the sources would test something else.
    if (!existsSync(join(repo, 'dist/.stamp'))) throw new Error("dist/ is not built: run 'node .ci/build.mjs' (npm test does)");
    const stale = execFileSync('find', ['src', 'shaders', 'package.json', '-newer', 'dist/.stamp', '-print', '-quit'], { cwd: repo, encoding: 'utf8' }).trim();
    if (stale) throw new Error(`dist/ is older than ${stale}: run 'node .ci/build.mjs' (npm test does)`);
    mkdirSync(join(app, 'node_modules/.bin'), { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    symlinkSync(repo, join(app, 'node_modules/irllrec'), 'dir');
    symlinkSync(join(repo, 'node_modules/webgpu'), join(app, 'node_modules/webgpu'), 'dir');
    symlinkSync('../irllrec/dist/cli.js', join(app, 'node_modules/.bin/irllrec'));
    writeFileSync(join(app, 'page.mjs'), PAGE);
    const ds = syntheticDataset({ seed: 2023 });
    const dir = writeDatasetDir(join(app, 'data/synthetic'), { train: tsvOf(ds.train), val: tsvOf(ds.val), test: tsvOf(ds.test), meta: { users: ds.numUsers, items: ds.numItems } });
    const text = ds.text;
    for (const [file, m] of [['user_profile', text.userProfile], ['item_profile', text.itemProfile], ['user_intent', text.userIntent], ['item_intent', text.itemIntent]] as const) writeFileSync(join(dir, `${file}.npy`), writeNpy(m!));
    writeFileSync(join(app, 'ids.txt'), '# users to export\n7\n42\n');
    writeFileSync(join(app, 'space.json'), JSON.stringify({ intWeight: { type: 'float', low: 1e-4, high: 3e-2, log: true } }));
    writeFileSync(join(app, 'triples.tsv'), `${ds.train.users[0]}\t${ds.train.items[0]}\t${(ds.train.items[0] + 1) % ds.numItems}\n5\t6\t7\n`);
    server = createServer((req, res) => {
      readFile(join(app, normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))))
        .then((b) => res.end(b))
        .catch(() => res.writeHead(404).end());
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterAll(async () => {
    await new Promise((ok) => server?.close(ok));
    rmSync(tmp, { recursive: true, force: true }); // the links go, not their targets
  });

  it('every code block is run below or marked as not run, with a reason, just above its fence', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    const unplanned = blocks.filter((b) => b.notRun === null && !PLANS.some((p) => b.code.startsWith(p.starts)));
    expect(unplanned.map((b) => `README.md:${b.line} (${b.lang || 'no language'}): neither run by test/readme.test.ts nor marked '<!-- not run by test/readme.test.ts: REASON -->'`)).toEqual([]);
    for (const p of PLANS) {
      const matched = blocks.filter((b) => b.code.startsWith(p.starts));
      expect(matched.map((b) => b.line), `exactly one README block starts with ${JSON.stringify(p.starts)}`).toHaveLength(1);
      expect(matched[0].notRun, `README.md:${matched[0].line} is both run and marked as not run`).toBeNull();
    }
    for (const b of blocks.filter((x) => x.notRun !== null)) {
      expect(b.notRun!.length, `README.md:${b.line}: give a reason`).toBeGreaterThan(20);
      // A reason that names a test file names one that exists.
      for (const [f] of b.notRun!.matchAll(/test\/[\w/.-]+\.test\.ts/g)) expect(existsSync(join(repo, f)), `README.md:${b.line} names ${f}`).toBe(true);
    }
    // Few: the install (registry), the two PyTorch snippets and the folder map.
    expect(blocks.filter((b) => b.notRun !== null).length).toBeLessThanOrEqual(4);
  });

  for (const block of blocks) {
    const plan = PLANS.find((p) => block.code.startsWith(p.starts));
    if (!plan || block.notRun !== null) continue;
    it(`README.md:${block.line} (${block.lang}): ${block.code.split('\n')[0].slice(0, 70)}`, async () => {
      const code = substituted(block, plan);
      const env = { ...process.env, PATH: `${join(app, 'node_modules/.bin')}:${process.env.PATH}`, PAGE_ORIGIN: origin, PS4: '+ [${SECONDS}s] ' };
      const cwd = plan.cwd === 'repo' ? repo : app;
      let args: [string, string[]];
      if (plan.env === 'sh') {
        args = ['bash', ['-e', '-o', 'pipefail', '-x', '-c', code]];
      } else {
        const file = join(app, `readme-${block.line}.mjs`);
        writeFileSync(file, (plan.prelude ?? '') + (await transform(code, { loader: block.lang === 'ts' ? 'ts' : 'js', format: 'esm' })).code);
        args = [process.execPath, [...(plan.env === 'browser' ? ['--import', './page.mjs'] : []), file]];
      }
      const out = await run(args[0], args[1], { cwd, env, maxBuffer: 1 << 26 }).catch((e: { code: number; stderr: string }) => {
        throw new Error(`README.md:${block.line} failed (exit ${e.code}):\n${e.stderr.slice(-4000)}`);
      });
      // On the WebGPU adapter, as GPU tests are (a fallback to the CPU would say so on stderr).
      expect(out.stderr).not.toMatch(/using the CPU backend/);
      await plan.check?.(app, out);
    }, 600_000);
  }
});
