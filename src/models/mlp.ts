/**
 * The text towers: `f(x) = LeakyReLU_0.01(x·W1ᵀ + b1)·W2ᵀ + b2` (spec §2), with PyTorch's Linear layout
 * (`W` is [out, in]) so that parameter files map one-to-one onto the reference's `mlp.0.weight`, ….
 * The input is a constant (LLM embeddings), so the backward produces parameter gradients only (§5.1).
 * The input may be stored as packed f16 (`PackedF16Matrix`, `textPrecision: 'f16'`): it is only ever an
 * operand of `matmul` (H = X·W1ᵀ forward, ∂W1 = gHᵀ·X backward), which reads it directly.
 */
import { type MatmulOperand, leakyRelu, leakyReluBackward, matmul, sumRows } from '../ops/dense.js';
import type { Backend, Tensor } from '../ops/tensor.js';
import type { Rng } from '../util/random.js';

export const LEAKY_SLOPE = 0.01;

/** Hidden width of a tower: floor((d_in + d)/2) (spec §1.8). */
export function hiddenWidth(inputDim: number, outputDim: number): number {
  return Math.floor((inputDim + outputDim) / 2);
}

export interface MlpTensors {
  w1: Tensor; // [h, din]
  b1: Tensor; // [h]
  w2: Tensor; // [d, h]
  b2: Tensor; // [d]
}

/** Forward caches kept for the backward: H (pre-activation) and A (activation). */
export interface MlpCache {
  h: Tensor; // [R, hidden]
  a: Tensor; // [R, hidden]
}

export function mlpShapes(inputDim: number, outputDim: number): Record<keyof MlpTensors, number[]> {
  const h = hiddenWidth(inputDim, outputDim);
  return { w1: [h, inputDim], b1: [h], w2: [outputDim, h], b2: [outputDim] };
}

/** Xavier-uniform weights U(±√(6/(fan_in+fan_out))) and PyTorch-default biases U(±1/√fan_in). */
export function initMlp(rng: Rng, inputDim: number, outputDim: number): Record<keyof MlpTensors, Float32Array> {
  const s = mlpShapes(inputDim, outputDim);
  const h = s.w1[0];
  return {
    w1: xavier(rng, h, inputDim),
    b1: uniform(rng, h, 1 / Math.sqrt(inputDim)),
    w2: xavier(rng, outputDim, h),
    b2: uniform(rng, outputDim, 1 / Math.sqrt(h)),
  };
}

export function xavier(rng: Rng, rows: number, cols: number): Float32Array {
  return uniform(rng, rows * cols, Math.sqrt(6 / (rows + cols)));
}

export function uniform(rng: Rng, n: number, bound: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-bound, bound);
  return a;
}

/** out = f(x); fills `cache` (H, A) when given (training), else uses scratch it disposes. */
export function mlpForward(be: Backend, p: MlpTensors, x: MatmulOperand, out: Tensor, cache?: MlpCache): void {
  const hidden = p.w1.shape[0];
  const h = cache?.h ?? be.zeros([x.rows, hidden], 'f32', 'mlp.h');
  const a = cache?.a ?? be.zeros([x.rows, hidden], 'f32', 'mlp.a');
  matmul(be, x, p.w1, h, { transB: true, bias: p.b1 });
  leakyRelu(be, h, a, { slope: LEAKY_SLOPE });
  matmul(be, a, p.w2, out, { transB: true, bias: p.b2 });
  if (!cache) {
    h.dispose();
    a.dispose();
  }
}

/** Accumulate parameter gradients of f at input x given ∂L/∂out (spec §5.1). */
export function mlpBackward(be: Backend, p: MlpTensors, x: MatmulOperand, cache: MlpCache, gOut: Tensor, grads: MlpTensors): void {
  matmul(be, gOut, cache.a, grads.w2, { transA: true, accumulate: true }); // ∂W2 += gOᵀ·A
  sumRows(be, gOut, grads.b2, { accumulate: true }); // ∂b2 += Σ_rows gO
  // Separate gA and gH: WebGPU forbids binding one buffer as both read-only and writable in a dispatch.
  const gA = be.zeros(cache.h.shape, 'f32', 'mlp.gA');
  const gH = be.zeros(cache.h.shape, 'f32', 'mlp.gH');
  matmul(be, gOut, p.w2, gA); // gA = gO·W2
  leakyReluBackward(be, cache.h, gA, gH, { slope: LEAKY_SLOPE }); // gH = gA ⊙ (H > 0 ? 1 : 0.01)
  gA.dispose();
  matmul(be, gH, x, grads.w1, { transA: true, accumulate: true }); // ∂W1 += gHᵀ·X
  sumRows(be, gH, grads.b1, { accumulate: true }); // ∂b1 += Σ_rows gH
  gH.dispose();
}
