/**
 * Element-wise kernels, one thread per element over a 1-D grid (`shaders/elementwise.wgsl`,
 * `shaders/elementwise_inplace.wgsl`, `shaders/check_finite.wgsl`): fills, axpy, scaling, the ssl
 * multiplicative noise x ⊙ (1 + ξ) (spec §4.6) and its backward, and a NaN/Inf detector.
 */
import checkFiniteWgsl from '../../shaders/check_finite.wgsl';
import elementwiseWgsl from '../../shaders/elementwise.wgsl';
import inplaceWgsl from '../../shaders/elementwise_inplace.wgsl';
import { IrllrecError } from '../errors.js';
import { Kernel, grid1d } from '../gpu/kernel.js';
import { type Backend, type FloatArray, type Tensor, asGpu, expectDtype, expectFinite, expectSameBackend, expectShape } from './tensor.js';

const binaryKernel = new Kernel({
  name: 'elementwise',
  code: elementwiseWgsl,
  storage: ['read', 'read', 'rw'],
  params: { n: 'u32', mode: 'u32', alpha: 'f32', beta: 'u32' },
});
const inplaceKernel = new Kernel({
  name: 'elementwise_inplace',
  code: inplaceWgsl,
  storage: ['rw'],
  params: { n: 'u32', mode: 'u32', value: 'f32' },
});
const checkFiniteKernel = new Kernel({
  name: 'check_finite',
  code: checkFiniteWgsl,
  storage: ['read', 'rw'],
  params: { n: 'u32' },
});
const WG = 256;
const MODE_AXPY = 0;
const MODE_MUL_ONE_PLUS = 1;
const MODE_FILL = 0;
const MODE_SCALE = 1;

function grid(be: Backend, n: number): [number, number, number] {
  return grid1d(Math.ceil(n / WG), asGpu(be).ctx.limits.maxComputeWorkgroupsPerDimension);
}

/** Validate an f32 operand with the same shape as `like`. */
function expectSameShape(op: string, name: string, t: Tensor, like: Tensor): void {
  expectShape(op, name, t, like.shape);
  expectDtype(op, name, t, 'f32');
}

/** Every element of t ← value. */
export function fill(be: Backend, t: Tensor, value: number): void {
  const op = 'fill';
  expectSameBackend(op, be, t);
  expectDtype(op, 't', t, 'f32');
  expectFinite(op, 'value', value);
  if (be.kind === 'cpu') {
    fillCpu(t.f, value);
    return;
  }
  asGpu(be).recorder.dispatch(inplaceKernel, [t.buffer], { n: t.size, mode: MODE_FILL, value }, grid(be, t.size), { WG });
}

/** x ← alpha·x. */
export function scaleInPlace(be: Backend, x: Tensor, alpha: number): void {
  const op = 'scaleInPlace';
  expectSameBackend(op, be, x);
  expectDtype(op, 'x', x, 'f32');
  expectFinite(op, 'alpha', alpha);
  if (be.kind === 'cpu') {
    scaleInPlaceCpu(x.f, alpha);
    return;
  }
  asGpu(be).recorder.dispatch(inplaceKernel, [x.buffer], { n: x.size, mode: MODE_SCALE, value: alpha }, grid(be, x.size), { WG });
}

export function scaleInPlaceCpu(x: FloatArray, alpha: number): void {
  for (let i = 0; i < x.length; i++) x[i] *= alpha;
}

function axpyOp(op: string, be: Backend, alpha: number, x: Tensor, y: Tensor): void {
  expectSameBackend(op, be, x, y);
  expectDtype(op, 'x', x, 'f32');
  expectSameShape(op, 'y', y, x);
  expectFinite(op, 'alpha', alpha);
  if (x === y) throw new IrllrecError('range', `${op}: x and y must be different tensors (use scaleInPlace)`);
  if (be.kind === 'cpu') {
    axpyCpu(alpha, x.f, y.f);
    return;
  }
  asGpu(be).recorder.dispatch(binaryKernel, [x.buffer, x.buffer, y.buffer], { n: x.size, mode: MODE_AXPY, alpha, beta: 1 }, grid(be, x.size), { WG });
}

/** y ← y + alpha·x (same shape). */
export function axpy(be: Backend, alpha: number, x: Tensor, y: Tensor): void {
  axpyOp('axpy', be, alpha, x, y);
}

/** y ← y + x (same shape). */
export function addInto(be: Backend, x: Tensor, y: Tensor): void {
  axpyOp('addInto', be, 1, x, y);
}

/** CPU twin of `elementwise.wgsl` mode 0 (axpy; addInto is alpha = 1). */
export function axpyCpu(alpha: number, x: ArrayLike<number>, y: FloatArray): void {
  for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
}

/** CPU twin of addInto. */
export function addIntoCpu(x: ArrayLike<number>, y: FloatArray): void {
  axpyCpu(1, x, y);
}

/**
 * y (+)= x ⊙ (1 + noise): the ssl multiplicative noise Xs = Z ⊙ (1 + Ξ) (spec §4.6), and, with x the
 * upstream gradient and accumulate, its backward ∂/∂Z += ∂/∂Xs ⊙ (1 + Ξ).
 */
export function mulOnePlus(be: Backend, x: Tensor, noise: Tensor, y: Tensor, opts: { accumulate?: boolean } = {}): void {
  const op = 'mulOnePlus';
  expectSameBackend(op, be, x, noise, y);
  expectDtype(op, 'x', x, 'f32');
  expectSameShape(op, 'noise', noise, x);
  expectSameShape(op, 'y', y, x);
  if (y === x || y === noise) throw new IrllrecError('range', `${op}: y must be a different tensor from x and noise`);
  const accumulate = opts.accumulate ?? false;
  if (be.kind === 'cpu') {
    mulOnePlusCpu(x.f, noise.f, y.f, accumulate);
    return;
  }
  asGpu(be).recorder.dispatch(
    binaryKernel,
    [x.buffer, noise.buffer, y.buffer],
    { n: x.size, mode: MODE_MUL_ONE_PLUS, alpha: 0, beta: accumulate ? 1 : 0 },
    grid(be, x.size),
    { WG },
  );
}

/** CPU twin of `elementwise.wgsl` mode 1. */
export function mulOnePlusCpu(x: ArrayLike<number>, noise: ArrayLike<number>, y: FloatArray, accumulate: boolean): void {
  for (let i = 0; i < y.length; i++) {
    const v = x[i] * (1 + noise[i]);
    y[i] = accumulate ? y[i] + v : v;
  }
}

/**
 * flag[0] ← 1 if any element of x is NaN or ±Inf; otherwise flag is left unchanged (zero it first).
 * flag: u32 tensor with at least one element.
 */
export function checkFinite(be: Backend, x: Tensor, flag: Tensor): void {
  const op = 'checkFinite';
  expectSameBackend(op, be, x, flag);
  expectDtype(op, 'x', x, 'f32');
  expectDtype(op, 'flag', flag, 'u32');
  if (flag.size < 1) throw new IrllrecError('shape', `${op}: flag ('${flag.label}') must have at least one element`);
  if (be.kind === 'cpu') {
    checkFiniteCpu(x.f, flag.u);
    return;
  }
  asGpu(be).recorder.dispatch(checkFiniteKernel, [x.buffer, flag.buffer], { n: x.size }, grid(be, x.size), { WG });
}

/** CPU twin of `check_finite.wgsl`. */
export function checkFiniteCpu(x: ArrayLike<number>, flag: Uint32Array): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      flag[0] = 1;
      return;
    }
  }
}

/** CPU twin of fill. */
export function fillCpu(t: FloatArray, value: number): void {
  t.fill(value);
}
