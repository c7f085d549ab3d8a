// Headless Chromium for the browser tests and the README screenshot: Debian's Chromium (installed by
// `.ci/setup-system.sh --browser`) driven by playwright-core, which never downloads a browser of its own.
// WebGPU needs --enable-unsafe-webgpu on Linux; headless Chromium then offers Dawn on SwiftShader (a
// software Vulkan device). --disable-gpu would remove the adapter, so it is not passed. Playwright starts
// every browser with a fresh temporary profile (its own --user-data-dir).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './build.mjs';

export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const chromiumArgs = [
  '--enable-unsafe-webgpu',
  '--no-sandbox', // CI runs as root, where Chromium's sandbox cannot start
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** Launch headless Chromium (see the module comment). */
export async function launchChromium() {
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: run \`bash .ci/setup-system.sh --browser\` or set CHROMIUM_PATH`);
  }
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
}

/**
 * Start `node demo/serve.mjs` on a free port (PORT=0) as a child process; resolves with its URL (read from
 * the line it prints) and a stop function. The demo must be built first.
 */
export function serveDemo({ timeoutMs = 20_000 } = {}) {
  const child = spawn(process.execPath, [join(repoRoot, 'demo', 'serve.mjs')], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      child.kill();
      fail(new Error(`demo server printed no URL within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (b) => {
      out += b;
      const m = /https?:\/\/127\.0\.0\.1:\d+\//.exec(out);
      if (m) {
        clearTimeout(timer);
        ok({ url: m[0], stop: () => child.kill() });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (b) => (out += b));
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`demo server exited with code ${code}:\n${out}`));
    });
  });
}
