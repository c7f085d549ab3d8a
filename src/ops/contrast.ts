/**
 * The cross-view contrastive loss L_cl of SGL and SimGCL (backbones spec §3.4): for each term, the anchors
 * are view-1 rows of the batch ids (repeats kept), the positive of anchor b is the same node's view-2 row,
 * and the candidates are ALL view-2 rows of the anchors' side (users or items), the positive among them:
 *
 *   out[slot] += scale · Σ_terms Φ(X¹[r], X²[r], X²_side; τ)            (Φ: src/ops/losses.ts `infoNce`)
 *
 * The gradients add into g1 (batch rows only: scatter-add over repeated anchors) and g2 (the positives'
 * scatter-add and every candidate row of each side the terms touch). It composes existing kernels (gather,
 * the tiled InfoNCE, scatter-add, copies), so its CPU twin is the same composition on the CPU backend; the
 * B×|side| logits are never stored.
 */
import { IrllrecError } from '../errors.js';
import { addInto } from './elementwise.js';
import { type RowGroups, gatherRows, scatterAddRows } from './gather.js';
import { infoNce } from './losses.js';
import { type Backend, type Tensor, expectDtype, expectSameBackend, expectShape } from './tensor.js';

/** One term of L_cl: the anchors' node ids (grouped; each must lie in the block of `side`) and the side their candidates come from. */
export interface CrossViewTerm {
  groups: RowGroups;
  side: 'users' | 'items';
}

export interface CrossViewOptions {
  /** Temperature τ_cl. */
  tau: number;
  /** Multiplies the loss and the gradients (the model uses w_cl / B). */
  scale: number;
  /** ∂/∂X¹ [N×d], added into. */
  g1?: Tensor | null;
  /** ∂/∂X² [N×d], added into. */
  g2?: Tensor | null;
}

/** L_cl over `terms` for views X¹, X² [N×d] whose first `numUsers` rows are users (see the module comment). */
export function crossViewInfoNce(be: Backend, x1: Tensor, x2: Tensor, numUsers: number, terms: readonly CrossViewTerm[], out: Tensor, slot: number, opts: CrossViewOptions): void {
  const op = 'crossViewInfoNce';
  const { g1 = null, g2 = null } = opts;
  expectSameBackend(op, be, x1, x2, out, g1, g2);
  expectShape(op, 'x1', x1, [null, null]);
  const [n, d] = x1.shape;
  expectShape(op, 'x2', x2, [n, d]);
  for (const [name, t] of [['x1', x1], ['x2', x2], ['g1', g1], ['g2', g2]] as const) {
    if (!t) continue;
    expectShape(op, name, t, [n, d]);
    expectDtype(op, name, t, 'f32');
  }
  if (!Number.isInteger(numUsers) || numUsers < 0 || numUsers > n) throw new IrllrecError('range', `${op}: numUsers must be an integer in [0, ${n}], got ${numUsers}`);
  if (g1 && (g1 === g2 || g1 === x1 || g1 === x2)) throw new IrllrecError('range', `${op}: g1 must differ from g2, x1 and x2`);
  if (g2 && (g2 === x1 || g2 === x2)) throw new IrllrecError('range', `${op}: g2 must differ from x1 and x2`);
  const range = (side: CrossViewTerm['side']) => (side === 'users' ? { start: 0, rows: numUsers } : { start: numUsers, rows: n - numUsers });
  for (const [k, t] of terms.entries()) {
    if (t.groups.rows !== n) throw new IrllrecError('shape', `${op}: term ${k}'s ids index ${t.groups.rows} rows, the views have ${n}`);
    if (range(t.side).rows === 0) throw new IrllrecError('shape', `${op}: term ${k} contrasts ${t.side} but there are none`);
  }
  const temps: Tensor[] = [];
  const tmp = (shape: number[], label: string) => {
    const t = be.zeros(shape, 'f32', label);
    temps.push(t);
    return t;
  };
  const gFull = g2 ? tmp([n, d], 'cl.gC') : null;
  for (const side of ['users', 'items'] as const) {
    const mine = terms.filter((t) => t.side === side);
    if (mine.length === 0) continue;
    const { start, rows } = range(side);
    const cand = tmp([rows, d], `cl.cand_${side}`);
    be.copyRange(x2, start * d, cand, 0, rows * d);
    const gC = g2 ? tmp([rows, d], `cl.gC_${side}`) : null;
    for (const t of mine) {
      const B = t.groups.batch;
      const a = tmp([B, d], 'cl.a');
      const p = tmp([B, d], 'cl.p');
      gatherRows(be, x1, t.groups.ids, a);
      gatherRows(be, x2, t.groups.ids, p);
      const gA = g1 ? tmp([B, d], 'cl.gA') : null;
      const gP = g2 ? tmp([B, d], 'cl.gP') : null;
      // Fresh zeroed gradients and the side's shared gC: accumulating is writing for gA, gP and adds the terms' gC.
      infoNce(be, a, p, cand, out, slot, { tau: opts.tau, scale: opts.scale, gA, gP, gC, accumulate: true });
      if (g1 && gA) scatterAddRows(be, gA, t.groups, g1);
      if (g2 && gP) scatterAddRows(be, gP, t.groups, g2);
    }
    if (gFull && gC) be.copyRange(gC, 0, gFull, start * d, rows * d);
  }
  if (g2 && gFull) addInto(be, gFull, g2);
  for (const t of temps) t.dispose();
}
