import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CLI = 'dist/cli.js';
const WARNING = /artificially reduced/;

// Dawn writes these warnings from native code on drivers with huge dynamic-buffer limits (lavapipe, as here and
// in CI, where the test below checks both ways); bin.ts filters them out of the CLI's stderr unless --verbose.
describe('Dawn limit warnings', () => {
  it('the CLI prints neither warning, and shows them with --verbose where Dawn prints them', async () => {
    const probe = "import('webgpu').then(async ({ create, globals }) => { Object.assign(globalThis, globals); await create([]).requestAdapter(); })";
    const dawnWarns = WARNING.test((await run(process.execPath, ['--input-type=module', '-e', probe])).stderr);
    if (process.env.CI) expect(dawnWarns, 'CI runs on lavapipe, whose limits make Dawn warn').toBe(true);
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first`);
    const args = ['train', '--synthetic', '--model', 'lightgcn', '--epochs', '1', '--max-steps', '2', '--backend', 'webgpu'];
    const quiet = await run(process.execPath, [CLI, ...args]);
    expect(quiet.stderr).not.toMatch(WARNING);
    expect(quiet.stderr).toMatch(/epoch 0/); // the rest of stderr still comes through
    const verbose = await run(process.execPath, [CLI, ...args, '--verbose']);
    expect(verbose.stderr.match(/^Warning: maxDynamic\w+ artificially reduced/gm)?.length ?? 0).toBe(dawnWarns ? 2 : 0);
  });
});
