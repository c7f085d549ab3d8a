// Regenerates demo/screenshot.png for the README: builds and serves the demo, trains LightGCN and IRLLRec in
// headless Chromium (WebGPU), picks a few items for the personal profile, and captures the page as a
// palette PNG (demo/png.mjs) under 300 KB.
//   node demo/screenshot.mjs [irllrecEpochs=3] [lightgcnEpochs=10]      (npm run demo:screenshot)
// On a software adapter IRLLRec takes several seconds per step: a few minutes in all.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, serveDemo } from './browser.mjs';
import { buildDemo, demoDir } from './build.mjs';
import { quantizePng } from './png.mjs';

const irllrecEpochs = Number(process.argv[2] ?? 3);
const lightgcnEpochs = Number(process.argv[3] ?? 10);
const out = join(demoDir, 'screenshot.png');
const MAX_BYTES = 300_000;
await buildDemo();
const server = await serveDemo();
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  const t0 = Date.now();
  // Both models on one page: LightGCN first (the baseline curve), then IRLLRec.
  await page.goto(`${server.url}?model=lightgcn&epochs=${lightgcnEpochs}&user=3`, { waitUntil: 'load' });
  await page.waitForFunction(() => document.body.dataset.state === 'idle');
  await page.click('#train-btn');
  await page.waitForSelector('[data-testid=result-row][data-model=lightgcn]', { timeout: 600_000 });
  await page.uncheck('#model-lightgcn');
  await page.check('#model-irllrec');
  await page.fill('#epochs', String(irllrecEpochs));
  await page.click('#train-btn');
  await page.waitForSelector('[data-testid=result-row][data-model=irllrec]', { timeout: 1_800_000 });
  await page.waitForFunction(() => document.body.dataset.state === 'idle');
  console.log(`trained in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  for (const n of [0, 5, 11]) {
    const before = await page.getAttribute('#personal-list', 'data-version');
    await page.click(`#catalogue [data-testid=catalogue-item] >> nth=${n}`);
    await page.waitForFunction((v) => document.querySelector('#personal-list')?.getAttribute('data-version') !== v, before, { timeout: 120_000 });
  }
  await page.waitForSelector('[data-testid=personal-item]');
  await page.waitForTimeout(300);
  const shot = await page.screenshot({ fullPage: true });
  let png = quantizePng(shot, 256);
  if (png.length > MAX_BYTES) png = quantizePng(shot, 96);
  writeFileSync(out, png);
  console.log(`${out}: ${(png.length / 1024).toFixed(0)} KiB (screenshot ${(shot.length / 1024).toFixed(0)} KiB)`);
  if (png.length > MAX_BYTES) console.warn(`screenshot: over ${MAX_BYTES / 1000} kB; the README image should stay small`);
} finally {
  await browser.close();
  server.stop();
}
