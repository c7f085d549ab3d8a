/**
 * Counter-based random kernels (`shaders/random.wgsl` prepended to `random_normal.wgsl` and
 * `dropout_values.wgsl`): standard normal noise for ssl (spec §4.6) and the edge-dropout mask of Â's
 * non-zeros (spec §1.7). They compute the same integer hashes as `hashUniform`/`hashNormal` in
 * src/util/random.ts, so both backends draw the same numbers (normals to ~1e-6: f32 log/cos).
 */
import dropoutWgsl from '../../shaders/dropout_values.wgsl';
import hashWgsl from '../../shaders/random.wgsl';
import normalWgsl from '../../shaders/random_normal.wgsl';
import { IrllrecError } from '../errors.js';
import { Kernel, grid1d } from '../gpu/kernel.js';
import { hashNormal, hashU32, hashUniform } from '../util/random.js';
import { type Backend, type FloatArray, type Tensor, asGpu, expectDtype, expectSameBackend, expectShape } from './tensor.js';

const normalKernel = new Kernel({
  name: 'random_normal',
  code: `${hashWgsl}\n${normalWgsl}`,
  storage: ['rw'],
  params: { n: 'u32', seed_hash: 'u32' },
});
const dropoutKernel = new Kernel({
  name: 'dropout_values',
  code: `${hashWgsl}\n${dropoutWgsl}`,
  storage: ['read', 'rw'],
  params: { n: 'u32', seed_hash: 'u32', threshold: 'u32' },
});
const WG = 256;
const TWO_POW_24 = 16777216;

function expectSeed(op: string, seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new IrllrecError('range', `${op}: seed must be an integer in [0, 2^32), got ${seed}`);
}

/** out[i] = hashNormal(seed, i): standard normals, identical (to f32 rounding) on both backends. */
export function randomNormal(be: Backend, out: Tensor, seed: number): void {
  const op = 'randomNormal';
  expectSameBackend(op, be, out);
  expectDtype(op, 'out', out, 'f32');
  expectSeed(op, seed);
  if (be.kind === 'cpu') {
    randomNormalCpu(out.f, seed);
    return;
  }
  const g = asGpu(be);
  g.recorder.dispatch(
    normalKernel,
    [out.buffer],
    { n: out.size, seed_hash: hashU32(seed) },
    grid1d(Math.ceil(out.size / WG), g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG },
  );
}

/** CPU twin of `random_normal.wgsl`. */
export function randomNormalCpu(out: FloatArray, seed: number): void {
  for (let i = 0; i < out.length; i++) out[i] = hashNormal(seed, i);
}

/**
 * out[e] = values[e] if hashUniform(seed, e) < keepRate else 0 (no rescaling, spec §1.7). The comparison
 * is made on the 24 hash bits against ceil(keepRate·2^24), which is exactly equivalent, so the masks of
 * the two backends agree bit for bit.
 */
export function dropoutValues(be: Backend, values: Tensor, out: Tensor, seed: number, keepRate: number): void {
  const op = 'dropoutValues';
  expectSameBackend(op, be, values, out);
  expectDtype(op, 'values', values, 'f32');
  expectShape(op, 'out', out, values.shape);
  expectDtype(op, 'out', out, 'f32');
  expectSeed(op, seed);
  if (!(keepRate >= 0 && keepRate <= 1)) throw new IrllrecError('range', `${op}: keepRate must be in [0, 1], got ${keepRate}`);
  if (values === out) throw new IrllrecError('range', `${op}: values and out must be different tensors`);
  if (be.kind === 'cpu') {
    dropoutValuesCpu(values.f, out.f, seed, keepRate);
    return;
  }
  const g = asGpu(be);
  g.recorder.dispatch(
    dropoutKernel,
    [values.buffer, out.buffer],
    { n: values.size, seed_hash: hashU32(seed), threshold: Math.ceil(keepRate * TWO_POW_24) },
    grid1d(Math.ceil(values.size / WG), g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG },
  );
}

/** CPU twin of `dropout_values.wgsl`. */
export function dropoutValuesCpu(values: ArrayLike<number>, out: FloatArray, seed: number, keepRate: number): void {
  for (let e = 0; e < values.length; e++) out[e] = hashUniform(seed, e) < keepRate ? values[e] : 0;
}
