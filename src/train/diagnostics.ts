/**
 * Why does a model (not) learn? Per-term gradient norms on the shared embedding table E0 and the norms of the
 * views the alignment terms normalise, at the model's current parameters on one batch. Nothing is updated.
 * Used by bench/stall.ts to follow IRLLRec's reference-preset stall epoch by epoch (README, "Presets").
 */
import { type LossComponents, type LossName } from '../models/config.js';
import type { Batch, RecModel } from '../models/model.js';

export interface AlignmentDiagnostics {
  /** ‖∂L_term/∂E0‖_F for each term with a non-zero weight, and for the whole loss ('total'). */
  gradE0: Partial<Record<LossName | 'total', number>>;
  /** Mean L2 norm of the rows of E0, E_fin and (IRLLRec) Ȳ, the kd_int anchors before normalisation. */
  rowNorm: { e0: number; efin: number; ybar?: number };
  /** Frobenius norms of the intent prototypes Wu and Wi (IRLLRec). */
  prototypes?: { user: number; item: number };
  losses: LossComponents;
}

function frobenius(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

function meanRowNorm(a: ArrayLike<number>, cols: number): number {
  const rows = a.length / cols;
  let s = 0;
  for (let r = 0; r < rows; r++) {
    let q = 0;
    for (let c = 0; c < cols; c++) q += a[r * cols + c] ** 2;
    s += Math.sqrt(q);
  }
  return rows > 0 ? s / rows : 0;
}

/** The terms of `model`'s loss that have a non-zero weight. */
export function activeTerms(model: RecModel): LossName[] {
  const c = model.config;
  const p = model.parts;
  const terms: LossName[] = ['bpr'];
  if (c.reg > 0) terms.push('reg');
  if (p.profile && c.kdWeight > 0) terms.push('kd');
  if (p.intents && c.intWeight > 0) terms.push('kd_int');
  if (p.teacher && c.sslWeight > 0) terms.push('ssl');
  if (p.teacher && c.itmWeight > 0) terms.push('itm');
  if (p.backbone !== 'lightgcn' && c.clWeight > 0) terms.push('cl');
  return terms;
}

/** Diagnostics of `model` on `batch` (fixed `noiseSeed`, teacher not updated, parameters untouched). */
export async function alignmentDiagnostics(model: RecModel, batch: Batch, opts: { noiseSeed?: number } = {}): Promise<AlignmentDiagnostics> {
  const be = model.be;
  const d = model.config.embeddingDim;
  const noiseSeed = opts.noiseSeed ?? 1;
  const gradE0: AlignmentDiagnostics['gradE0'] = {};
  for (const term of activeTerms(model)) {
    await model.computeGradients(batch, { noiseSeed, terms: [term] });
    gradE0[term] = frobenius(await be.read(model.grads.get('E0')!));
  }
  const efin = be.zeros([model.n, d], 'f32', 'diag.efin');
  const ybar = model.parts.intents && model.config.intWeight > 0 ? be.zeros([model.n, d], 'f32', 'diag.ybar') : null;
  const losses = await model.computeGradients(batch, { noiseSeed, views: { efin, ybar: ybar ?? undefined } });
  const reads = [model.grads.get('E0')!, model.params.get('E0')!, efin, ...(ybar ? [ybar] : [])];
  const protos = model.parts.intents ? [model.params.get('user_intent')!, model.params.get('item_intent')!] : [];
  const [g, e0, fin, ...rest] = await be.readAll([...reads, ...protos]);
  gradE0.total = frobenius(g);
  const out: AlignmentDiagnostics = { gradE0, rowNorm: { e0: meanRowNorm(e0, d), efin: meanRowNorm(fin, d) }, losses };
  if (ybar) out.rowNorm.ybar = meanRowNorm(rest.shift()!, d);
  if (protos.length) out.prototypes = { user: frobenius(rest[0]), item: frobenius(rest[1]) };
  efin.dispose();
  ybar?.dispose();
  return out;
}
