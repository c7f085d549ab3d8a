/**
 * Deterministic sum reductions into a loss vector (`shaders/reduce_sum.wgsl`): `out[slot] += scale·Σ x`
 * and `out[slot] += scale·Σ x²` (the L2 regulariser value, spec §4.2). Two passes on the GPU (per-workgroup
 * partial sums, then one workgroup folds the partials), no atomics, so the result is reproducible.
 */
import reduceWgsl from '../../shaders/reduce_sum.wgsl';
import { IrllrecError } from '../errors.js';
import { Kernel, grid1d } from '../gpu/kernel.js';
import { type Backend, type FloatArray, type Tensor, type WebGpuBackend, asGpu, expectDtype, expectFinite, expectSameBackend } from './tensor.js';

const PARAMS = { n: 'u32', square: 'u32', slot: 'u32', chunk: 'u32', scale: 'f32' } as const;
const partialKernel = new Kernel({ name: 'reduce_sum.partial', code: reduceWgsl, entryPoint: 'partial', storage: ['read', 'rw'], params: PARAMS });
const finishKernel = new Kernel({ name: 'reduce_sum.finish', code: reduceWgsl, entryPoint: 'finish', storage: ['read', 'rw'], params: PARAMS });
const WG = 256;
/** Elements per workgroup in the partial pass (16 per thread). */
const CHUNK = WG * 16;

/** Check that `slot` indexes the f32 loss vector `out`. */
function expectSlot(op: string, out: Tensor, slot: number): void {
  expectDtype(op, 'out', out, 'f32');
  if (!Number.isInteger(slot) || slot < 0 || slot >= out.size) {
    throw new IrllrecError('range', `${op}: slot ${slot} is outside the loss vector '${out.label}' (${out.size} entries)`);
  }
}

/**
 * Record `out[slot] += scale·Σ_{i<n} x_i` (or of x_i² with `square`) on the GPU, reading the first `n`
 * floats of `x`. Temporary partial sums come from the buffer pool and go back to it at once (later
 * recorded work runs after this). Internal helper shared with the ITM loss.
 */
export function recordReduceSum(g: WebGpuBackend, x: GPUBuffer, n: number, out: GPUBuffer, slot: number, scale: number, square: boolean): void {
  if (n === 0) return;
  const groups = Math.ceil(n / CHUNK);
  const sq = square ? 1 : 0;
  if (groups === 1) {
    g.recorder.dispatch(finishKernel, [x, out], { n, square: sq, slot, chunk: CHUNK, scale }, [1, 1, 1], { WG });
    return;
  }
  const partials = g.pool.acquire(groups * 4, 'reduce_sum.partials');
  g.recorder.dispatch(partialKernel, [x, partials], { n, square: sq, slot: 0, chunk: CHUNK, scale: 1 }, grid1d(groups, g.ctx.limits.maxComputeWorkgroupsPerDimension), { WG });
  g.recorder.dispatch(finishKernel, [partials, out], { n: groups, square: 0, slot, chunk: CHUNK, scale }, [1, 1, 1], { WG });
  g.pool.release(partials);
}

function reduceOp(op: string, square: boolean, be: Backend, x: Tensor, out: Tensor, slot: number, scale: number): void {
  expectSameBackend(op, be, x, out);
  expectDtype(op, 'x', x, 'f32');
  expectSlot(op, out, slot);
  expectFinite(op, 'scale', scale);
  if (x === out) throw new IrllrecError('range', `${op}: x and out must be different tensors`);
  if (be.kind === 'cpu') {
    reduceSumCpu(x.f, out.f, slot, scale, square);
    return;
  }
  const g = asGpu(be);
  recordReduceSum(g, x.buffer, x.size, out.buffer, slot, scale, square);
}

/** out[slot] += scale·Σ x  (two-pass tree reduction; deterministic; x any length incl. 0). */
export function reduceSum(be: Backend, x: Tensor, out: Tensor, slot: number, opts: { scale?: number } = {}): void {
  reduceOp('reduceSum', false, be, x, out, slot, opts.scale ?? 1);
}

/** out[slot] += scale·Σ x²  (the L2 regulariser value, spec §4.2). */
export function sumSquares(be: Backend, x: Tensor, out: Tensor, slot: number, opts: { scale?: number } = {}): void {
  reduceOp('sumSquares', true, be, x, out, slot, opts.scale ?? 1);
}

/** CPU twin of `reduce_sum.wgsl`: out[slot] += scale·Σ x (or Σ x²), accumulated in float64. */
export function reduceSumCpu(x: ArrayLike<number>, out: FloatArray, slot: number, scale: number, square: boolean): void {
  let s = 0;
  if (square) for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  else for (let i = 0; i < x.length; i++) s += x[i];
  out[slot] += scale * s;
}
