/**
 * Counter-based random kernels (`shaders/random.wgsl` prepended to `random_normal.wgsl`,
 * `dropout_values.wgsl` and `sign_noise.wgsl`): standard normal noise for ssl (spec §4.6), the edge-dropout
 * mask of Â's non-zeros (spec §1.7; SGL's augmented views, backbones spec §3.2) and SimGCL's signed uniform
 * noise (backbones spec §3.3). They compute the same integer hashes as `hashUniform`/`hashNormal` in
 * src/util/random.ts, so both backends draw the same numbers (normals to ~1e-6: f32 log/cos).
 */
import dropoutWgsl from '../../shaders/dropout_values.wgsl';
import hashWgsl from '../../shaders/random.wgsl';
import normalWgsl from '../../shaders/random_normal.wgsl';
import signNoiseWgsl from '../../shaders/sign_noise.wgsl';
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
const signNoiseKernel = new Kernel({
  name: 'sign_noise',
  code: `${hashWgsl}\n${signNoiseWgsl}`,
  storage: ['rw'],
  params: { rows: 'u32', d: 'u32', seed_hash: 'u32', eps: 'f32' },
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

/**
 * SimGCL's noise, in place on a freshly propagated layer H [rows, d] (backbones spec §3.3):
 * H[r, c] += eps · R[r, c] / max(‖R[r, ·]‖, 1e-12) · sign(H[r, c]) with R[r, c] = hashUniform(seed, r·d + c).
 * One seed per (step, view, layer) keys the draws by (row, column), so both backends add the same noise
 * (to f32 rounding of the norm) and nothing is stored for the backward.
 */
export function addSignNoise(be: Backend, h: Tensor, seed: number, eps: number): void {
  const op = 'addSignNoise';
  expectSameBackend(op, be, h);
  expectShape(op, 'h', h, [null, null]);
  expectDtype(op, 'h', h, 'f32');
  expectSeed(op, seed);
  if (!(Number.isFinite(eps) && eps >= 0)) throw new IrllrecError('range', `${op}: eps must be a finite number ≥ 0, got ${eps}`);
  const [rows, d] = h.shape;
  // The counter r·d + c is a u32 in the kernel.
  if (h.size > 0xffffffff) throw new IrllrecError('limit', `${op}: ${rows}×${d} = ${h.size} elements exceed the noise counter's 2^32`);
  if (eps === 0 || h.size === 0) return;
  if (be.kind === 'cpu') {
    addSignNoiseCpu(h.f, rows, d, seed, eps);
    return;
  }
  const g = asGpu(be);
  g.recorder.dispatch(
    signNoiseKernel,
    [h.buffer],
    { rows, d, seed_hash: hashU32(seed), eps },
    grid1d(Math.ceil(rows / 64), g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG: 64 },
  );
}

/** CPU twin of `sign_noise.wgsl`. */
export function addSignNoiseCpu(h: FloatArray, rows: number, d: number, seed: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    let sq = 0;
    for (let c = 0; c < d; c++) sq += hashUniform(seed, r * d + c) ** 2;
    const k = eps / Math.max(Math.sqrt(sq), 1e-12);
    for (let c = 0; c < d; c++) h[r * d + c] += k * hashUniform(seed, r * d + c) * Math.sign(h[r * d + c]);
  }
}
