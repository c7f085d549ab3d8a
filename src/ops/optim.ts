/**
 * Optimiser kernels: Adam with the L2 gradient fused (`shaders/adam.wgsl`, spec §6 and §4.2) and the EMA
 * update of the ITM teacher (`shaders/ema.wgsl`, spec §4.7 step 1). Both are one thread per element.
 */
import adamWgsl from '../../shaders/adam.wgsl';
import emaWgsl from '../../shaders/ema.wgsl';
import { IrllrecError } from '../errors.js';
import { Kernel, grid1d } from '../gpu/kernel.js';
import { type Backend, type FloatArray, type Tensor, asGpu, expectDtype, expectFinite, expectSameBackend, expectShape } from './tensor.js';

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** Spec §6: lr = 1e-3, β1 = 0.9, β2 = 0.999, ε = 1e-8 (no weight decay, no AMSGrad). */
export const ADAM_DEFAULTS: AdamConfig = Object.freeze({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });

const adamKernel = new Kernel({
  name: 'adam',
  code: adamWgsl,
  storage: ['rw', 'read', 'rw', 'rw'],
  params: {
    n: 'u32',
    lr: 'f32',
    beta1: 'f32',
    beta2: 'f32',
    one_minus_beta1: 'f32',
    one_minus_beta2: 'f32',
    bias1: 'f32',
    bias2: 'f32',
    eps: 'f32',
    l2x2: 'f32',
  },
});
const emaKernel = new Kernel({
  name: 'ema',
  code: emaWgsl,
  storage: ['rw', 'read'],
  params: { n: 'u32', momentum: 'f32', one_minus_momentum: 'f32' },
});
const WG = 256;

function expectDistinctTensors(op: string, named: [string, Tensor][]): void {
  for (let i = 0; i < named.length; i++) {
    for (let j = i + 1; j < named.length; j++) {
      if (named[i][1] === named[j][1]) throw new IrllrecError('range', `${op}: ${named[i][0]} and ${named[j][0]} must be different tensors`);
    }
  }
}

/** Adam's scalar coefficients for step t (1-based), the bias corrections in float64. */
export interface AdamCoefficients {
  lr: number;
  beta1: number;
  beta2: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  /** 1 − β1^t */
  bias1: number;
  /** 1 − β2^t */
  bias2: number;
  eps: number;
  /** 2λ, the fused L2 gradient factor. */
  l2x2: number;
}

function adamCoefficients(op: string, opts: AdamConfig & { step: number; l2?: number }): AdamCoefficients {
  const { lr, beta1, beta2, eps, step } = opts;
  const l2 = opts.l2 ?? 0;
  expectFinite(op, 'lr', lr);
  expectFinite(op, 'eps', eps);
  expectFinite(op, 'l2', l2);
  for (const [name, b] of [['beta1', beta1], ['beta2', beta2]] as const) {
    if (!(b >= 0 && b < 1)) throw new IrllrecError('range', `${op}: ${name} must be in [0, 1), got ${b}`);
  }
  if (!(eps > 0)) throw new IrllrecError('range', `${op}: eps must be > 0, got ${eps}`);
  if (!Number.isInteger(step) || step < 1) throw new IrllrecError('range', `${op}: step must be an integer ≥ 1 (1-based), got ${step}`);
  return {
    lr,
    beta1,
    beta2,
    oneMinusBeta1: 1 - beta1,
    oneMinusBeta2: 1 - beta2,
    bias1: 1 - beta1 ** step,
    bias2: 1 - beta2 ** step,
    eps,
    l2x2: 2 * l2,
  };
}

/**
 * One Adam step at step number `step` (1-based), dense over the whole tensor:
 *   g' = grad + 2·l2·param;  m ← β1 m + (1−β1) g';  v ← β2 v + (1−β2) g'²;
 *   param ← param − lr·(m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps).
 * The bias corrections are computed on the host in float64 and passed as f32 parameters.
 */
export function adamStep(be: Backend, param: Tensor, grad: Tensor, m: Tensor, v: Tensor, opts: AdamConfig & { step: number; l2?: number }): void {
  const op = 'adamStep';
  expectSameBackend(op, be, param, grad, m, v);
  expectDtype(op, 'param', param, 'f32');
  for (const [name, t] of [['grad', grad], ['m', m], ['v', v]] as const) {
    expectShape(op, name, t, param.shape);
    expectDtype(op, name, t, 'f32');
  }
  expectDistinctTensors(op, [['param', param], ['grad', grad], ['m', m], ['v', v]]);
  const k = adamCoefficients(op, opts);
  if (be.kind === 'cpu') {
    adamStepCpu(param.f, grad.f, m.f, v.f, k);
    return;
  }
  const g = asGpu(be);
  const n = param.size;
  g.recorder.dispatch(
    adamKernel,
    [param.buffer, grad.buffer, m.buffer, v.buffer],
    {
      n,
      lr: k.lr,
      beta1: k.beta1,
      beta2: k.beta2,
      one_minus_beta1: k.oneMinusBeta1,
      one_minus_beta2: k.oneMinusBeta2,
      bias1: k.bias1,
      bias2: k.bias2,
      eps: k.eps,
      l2x2: k.l2x2,
    },
    grid1d(Math.ceil(n / WG), g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG },
  );
}

/** CPU twin of `adam.wgsl`. */
export function adamStepCpu(param: FloatArray, grad: ArrayLike<number>, m: FloatArray, v: FloatArray, k: AdamCoefficients): void {
  for (let i = 0; i < param.length; i++) {
    const g = grad[i] + k.l2x2 * param[i];
    const mi = k.beta1 * m[i] + k.oneMinusBeta1 * g;
    const vi = k.beta2 * v[i] + k.oneMinusBeta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] -= (k.lr * (mi / k.bias1)) / (Math.sqrt(vi / k.bias2) + k.eps);
  }
}

/** teacher ← momentum·teacher + (1−momentum)·student  (spec §4.7, μ = 0.999). */
export function emaUpdate(be: Backend, teacher: Tensor, student: Tensor, momentum: number): void {
  const op = 'emaUpdate';
  expectSameBackend(op, be, teacher, student);
  expectDtype(op, 'teacher', teacher, 'f32');
  expectShape(op, 'student', student, teacher.shape);
  expectDtype(op, 'student', student, 'f32');
  if (!(momentum >= 0 && momentum <= 1)) throw new IrllrecError('range', `${op}: momentum must be in [0, 1], got ${momentum}`);
  if (teacher === student) throw new IrllrecError('range', `${op}: teacher and student must be different tensors`);
  if (be.kind === 'cpu') {
    emaUpdateCpu(teacher.f, student.f, momentum);
    return;
  }
  const g = asGpu(be);
  const n = teacher.size;
  g.recorder.dispatch(
    emaKernel,
    [teacher.buffer, student.buffer],
    { n, momentum, one_minus_momentum: 1 - momentum },
    grid1d(Math.ceil(n / WG), g.ctx.limits.maxComputeWorkgroupsPerDimension),
    { WG },
  );
}

/** CPU twin of `ema.wgsl`. */
export function emaUpdateCpu(teacher: FloatArray, student: ArrayLike<number>, momentum: number): void {
  const rest = 1 - momentum;
  for (let i = 0; i < teacher.length; i++) teacher[i] = momentum * teacher[i] + rest * student[i];
}
