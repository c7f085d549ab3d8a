/**
 * Class 9 of issue 12: the demo server (demo/serve.mjs) serves only regular files inside its folder. Planted
 * symbolic links that leave it (to a file or a directory), encoded `..` traversal, a FIFO and a non-loopback
 * host are refused; links that stay inside, directories (index.html) and plain files are served.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without type declarations
import { startServer } from '../../demo/serve.mjs';

const top = mkdtempSync(join(tmpdir(), 'irllrec-demo-serve-'));
const root = join(top, 'site');
const outside = join(top, 'secret');
let server: Server;
let url: string;

beforeAll(async () => {
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'index.html'), '<p>home</p>');
  writeFileSync(join(root, 'sub', 'index.html'), '<p>sub</p>');
  writeFileSync(join(root, 'model.safetensors'), 'bytes');
  writeFileSync(join(outside, 'key.txt'), 'SECRET');
  symlinkSync(join(outside, 'key.txt'), join(root, 'leak.txt')); // a file outside
  symlinkSync(outside, join(root, 'out')); // a directory outside
  symlinkSync(join(root, 'model.safetensors'), join(root, 'alias.safetensors')); // stays inside
  execFileSync('mkfifo', [join(root, 'pipe')]);
  ({ server, url } = await startServer({ root, port: 0 }));
});
afterAll(() => server?.close());

async function get(path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url + path, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.text() };
}

describe('demo server', () => {
  it('serves regular files and index.html inside its folder, also through links that stay inside', async () => {
    expect(await get('')).toEqual({ status: 200, body: '<p>home</p>' });
    expect(await get('sub/')).toEqual({ status: 200, body: '<p>sub</p>' });
    expect(await get('alias.safetensors')).toEqual({ status: 200, body: 'bytes' });
  });

  it('refuses planted symlinks that leave the folder, encoded traversal, a FIFO and bad escapes, without hanging', async () => {
    for (const path of ['leak.txt', 'out/key.txt', 'out/', '..%2fsecret%2fkey.txt', 'sub/..%2f..%2fsecret%2fkey.txt', 'pipe']) {
      const r = await get(path);
      expect(r.status, path).toBe(403);
      expect(r.body).not.toContain('SECRET');
    }
    // '%2e%2e' is resolved by the URL parser itself: it names /secret/key.txt inside the folder, which does not exist.
    expect(await get('%2e%2e/secret/key.txt')).toEqual({ status: 404, body: 'not found' });
    expect((await get('%E0%A4%A')).status).toBe(400);
    expect((await get('missing.js')).status).toBe(404);
  });

  it('binds to loopback only', async () => {
    await expect(startServer({ root, port: 0, host: '0.0.0.0' })).rejects.toThrow(/host must be a loopback address/);
    expect((server.address() as { address: string }).address).toBe('127.0.0.1');
  });
});
