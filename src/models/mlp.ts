/**
 * The text towers: `f(x) = LeakyReLU_0.01(x·W1ᵀ + b1)·W2ᵀ + b2` (spec §2), with PyTorch's Linear layout
 * (`W` is [out, in]) so that parameter files map one-to-one onto the reference's `mlp.0.weight`, ….
 * The input is a constant (LLM embeddings), so the backward produces parameter gradients only (§5.1).
 * The input may be stored as packed f16 (`PackedF16Matrix`, `textPrecision: 'f16'`): it is only ever an
 * operand of `matmul` (H = X·W1ᵀ forward, ∂W1 = gHᵀ·X backward), which reads it directly.
 */
import { type MatmulOperand, PackedF16Matrix, leakyRelu, leakyReluBackward, matmul, sumRows } from '../ops/dense.js';
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

/**
 * How a tower pass holds its hidden activations. The hidden width is about half the text width, so H and A
 * for all N rows cost as much as the text table itself; in blocks of `blockRows` rows only one block's H, A
 * (and a copy of its input rows) exist at a time. Every row is computed by the same kernels on the same
 * values as in one pass over all rows, so blocking changes no bit of the results.
 */
export interface MlpOptions {
  /** Rows per block (default: all rows in one block). */
  blockRows?: number;
  /** Prefix of the pool labels of the block temporaries ('profile', 'intent', 'teacher'; default 'mlp'). */
  label?: string;
  /**
   * [rows, hidden]: the forward stores A = LeakyReLU(H) of every row here for the backward, which then
   * skips recomputing it (and overwrites it with ∂L/∂H). Without it the backward recomputes A.
   */
  activations?: Tensor;
}

/** The row blocks [start, end) of a pass over `rows` rows. */
function rowBlocks(rows: number, blockRows: number | undefined): [number, number][] {
  const size = Math.max(1, Math.min(rows, Math.floor(blockRows ?? rows)));
  const out: [number, number][] = [];
  for (let r = 0; r < rows; r += size) out.push([r, Math.min(rows, r + size)]);
  return out;
}

/** Rows [r0, r1) of x as a matrix of their own (x itself when they are all of its rows). */
function rowsOf(be: Backend, x: MatmulOperand, r0: number, r1: number, label: string): MatmulOperand {
  if (r0 === 0 && r1 === x.rows) return x;
  if (x instanceof PackedF16Matrix) {
    const w = x.words.shape[1];
    const words = be.zeros([r1 - r0, w], 'u32', `${label}.x`);
    be.copyRange(x.words, r0 * w, words, 0, (r1 - r0) * w);
    return new PackedF16Matrix(words, r1 - r0, x.cols);
  }
  const cols = x.shape[1];
  const block = be.zeros([r1 - r0, cols], 'f32', `${label}.x`);
  be.copyRange(x, r0 * cols, block, 0, (r1 - r0) * cols);
  return block;
}

/** A = LeakyReLU(x·W1ᵀ + b1) for the rows of x (H is scratch). */
function hiddenActivations(be: Backend, p: MlpTensors, x: MatmulOperand, a: Tensor, label: string): void {
  const h = be.zeros(a.shape, 'f32', `${label}.h`);
  matmul(be, x, p.w1, h, { transB: true, bias: p.b1 });
  leakyRelu(be, h, a, { slope: LEAKY_SLOPE });
  h.dispose();
}

/** Run `body` on each row block of x with the block's rows and [r0, r1); block temporaries are released. */
function eachBlock(be: Backend, x: MatmulOperand, opts: MlpOptions, body: (xb: MatmulOperand, r0: number, r1: number, label: string) => void): void {
  const label = opts.label ?? 'mlp';
  for (const [r0, r1] of rowBlocks(x.rows, opts.blockRows)) {
    const xb = rowsOf(be, x, r0, r1, label);
    body(xb, r0, r1, label);
    if (xb !== x) xb.dispose();
  }
}

/** out = f(x), in row blocks (see `MlpOptions`); with `opts.activations`, A of every row is kept there. */
export function mlpForward(be: Backend, p: MlpTensors, x: MatmulOperand, out: Tensor, opts: MlpOptions = {}): void {
  const hidden = p.w1.shape[0];
  const d = out.shape[1];
  eachBlock(be, x, opts, (xb, r0, r1, label) => {
    const whole = r1 - r0 === x.rows;
    const a = whole && opts.activations ? opts.activations : be.zeros([r1 - r0, hidden], 'f32', `${label}.a`);
    hiddenActivations(be, p, xb, a, label);
    const o = whole ? out : be.zeros([r1 - r0, d], 'f32', `${label}.out`);
    matmul(be, a, p.w2, o, { transB: true, bias: p.b2 });
    if (o !== out) {
      be.copyRange(o, 0, out, r0 * d, (r1 - r0) * d);
      o.dispose();
    }
    if (a !== opts.activations) {
      if (opts.activations) be.copyRange(a, 0, opts.activations, r0 * hidden, (r1 - r0) * hidden);
      a.dispose();
    }
  });
}

/**
 * Accumulate parameter gradients of f at input x given ∂L/∂out (spec §5.1). The sums over rows (∂W2 = gOᵀ·A,
 * ∂W1 = gHᵀ·X and the bias sums) are each one kernel over all rows, exactly as in an unblocked pass; what is
 * blocked is the row-wise work: A (recomputed unless `opts.activations` holds it) and gH = gA ⊙ LeakyReLU'(H),
 * both into one [rows, hidden] buffer. LeakyReLU'(H) is read from the sign of A, which is that of H (A = H
 * for H > 0, 0.01·H otherwise, and 0.01·H is never positive).
 */
export function mlpBackward(be: Backend, p: MlpTensors, x: MatmulOperand, gOut: Tensor, grads: MlpTensors, opts: MlpOptions = {}): void {
  const hidden = p.w1.shape[0];
  const d = gOut.shape[1];
  const rows = x.rows;
  const a = opts.activations ?? be.zeros([rows, hidden], 'f32', `${opts.label ?? 'mlp'}.A`);
  if (!opts.activations) {
    eachBlock(be, x, opts, (xb, r0, r1, label) => {
      if (r1 - r0 === rows) return hiddenActivations(be, p, xb, a, label);
      const ab = be.zeros([r1 - r0, hidden], 'f32', `${label}.a`);
      hiddenActivations(be, p, xb, ab, label);
      be.copyRange(ab, 0, a, r0 * hidden, (r1 - r0) * hidden);
      ab.dispose();
    });
  }
  matmul(be, gOut, a, grads.w2, { transA: true, accumulate: true }); // ∂W2 += gOᵀ·A
  sumRows(be, gOut, grads.b2, { accumulate: true }); // ∂b2 += Σ_rows gO
  // gH over the rows of A, block by block (gA and gH of a block share one buffer; A's rows are then spent).
  const label = opts.label ?? 'mlp';
  for (const [r0, r1] of rowBlocks(rows, opts.blockRows)) {
    const whole = r1 - r0 === rows;
    const go = whole ? gOut : be.zeros([r1 - r0, d], 'f32', `${label}.gO`);
    if (go !== gOut) be.copyRange(gOut, r0 * d, go, 0, (r1 - r0) * d);
    const ab = whole ? a : be.zeros([r1 - r0, hidden], 'f32', `${label}.aRows`);
    if (ab !== a) be.copyRange(a, r0 * hidden, ab, 0, (r1 - r0) * hidden);
    const g = be.zeros([r1 - r0, hidden], 'f32', `${label}.gH`);
    matmul(be, go, p.w2, g); // gA = gO·W2
    leakyReluBackward(be, ab, g, g, { slope: LEAKY_SLOPE }); // gH = gA ⊙ (A > 0 ? 1 : 0.01), in place
    be.copyRange(g, 0, a, r0 * hidden, (r1 - r0) * hidden);
    for (const t of [g, ...(go !== gOut ? [go] : []), ...(ab !== a ? [ab] : [])]) t.dispose();
  }
  matmul(be, a, x, grads.w1, { transA: true, accumulate: true }); // ∂W1 += gHᵀ·X
  sumRows(be, a, grads.b1, { accumulate: true }); // ∂b1 += Σ_rows gH
  if (a !== opts.activations) a.dispose();
}
