/**
 * irllrec: IRLLRec and its ladder (LightGCN, RLMRec-Con) trained and served on WebGPU.
 * The core entry is browser-safe: it imports no Node module.
 */
export * from './errors.js';
export { createBackend, type CreateBackendOptions } from './backend.js';
export { GpuContext, describeAdapter, type DeviceLimits, type GpuContextOptions, type AdapterDescription } from './gpu/device.js';
export { Kernel, Recorder, grid1d } from './gpu/kernel.js';
export { BufferPool, type PoolStats } from './gpu/pool.js';
export * from './ops/index.js';
export { Rng, hashU32, hashUniform, hashNormal } from './util/random.js';
