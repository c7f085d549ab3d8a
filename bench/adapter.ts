/**
 * Prints the WebGPU adapter this machine gives irllrec, for bench/gpu.sh: one line `SLUG<TAB>NAME`, where SLUG
 * (lower case, [a-z0-9-], at most 40 characters, cut before any parenthesis) names its results folder; the
 * adapter's details and limits go to stderr. Fails (exit 1) when there is no adapter.
 *
 *   node bench/run.mjs bench/adapter.ts
 */
import { createBackend } from '../src/node/index.js';
import type { WebGpuBackend } from '../src/ops/tensor.js';

const be = (await createBackend({ backend: 'webgpu' })) as WebGpuBackend;
const a = be.ctx.adapter;
const l = be.ctx.limits;
const slug =
  a.name
    .split('(')[0]
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)
    .replace(/^-+|-+$/g, '') || 'unknown-adapter';
process.stderr.write(
  `adapter: ${a.name}${a.isSoftware ? ' (software / CPU emulator)' : ''}; vendor '${a.vendor}', architecture '${a.architecture}', device '${a.device}'\n` +
    `limits: maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize}, maxBufferSize ${l.maxBufferSize}, features: ${[...be.device.features].join(', ') || 'none'}\n`,
);
process.stdout.write(`${slug}\t${a.name}\n`);
be.destroy();
