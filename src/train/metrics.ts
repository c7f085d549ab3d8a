/**
 * Ranking metrics over the users with at least one ground-truth item (means over those users). For a user
 * with ground truth T (|T| ≥ 1), ranked list r_1, r_2, … and rel_j = 1 when r_j ∈ T:
 *
 * - Recall@K = hits@K / |T| (the reference's, spec §8), hits@K = Σ_{j≤K} rel_j;
 * - NDCG@K = Σ_{j≤K} rel_j / log2(j+1) divided by Σ_{j=1}^{min(K,|T|)} 1/log2(j+1) (the reference's);
 * - Precision@K = hits@K / K;
 * - Hit@K = 1 when hits@K > 0, else 0 (hit rate);
 * - MRR@K = 1 / (rank of the first hit) when it is within K, else 0;
 * - MAP@K = (1 / min(|T|, K)) · Σ_{j≤K} P@j · rel_j (the mean of the average precisions).
 */
import { IrllrecError } from '../errors.js';

export type Metrics = Record<string, number>;

/** The metrics `MetricAccumulator` computes; keys of its results are `<name>@<K>`. */
export const METRIC_NAMES = ['recall', 'ndcg', 'precision', 'hit', 'mrr', 'map'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
/** The reference's metrics, the default. */
export const DEFAULT_METRICS: readonly MetricName[] = ['recall', 'ndcg'];

/** Metric keys: `recall@5`, `ndcg@5`, … (per K, the metrics in the order given). */
export function metricKeys(ks: readonly number[], metrics: readonly MetricName[] = DEFAULT_METRICS): string[] {
  return ks.flatMap((k) => metrics.map((m) => `${m}@${k}`));
}

/** Throws unless `metrics` is a non-empty list of known metric names without repeats. */
export function checkMetrics(metrics: readonly string[], where = 'metrics'): asserts metrics is readonly MetricName[] {
  if (metrics.length === 0) throw new IrllrecError('range', `${where}: at least one metric is needed (${METRIC_NAMES.join(', ')})`);
  for (const m of metrics) {
    if (!(METRIC_NAMES as readonly string[]).includes(m)) throw new IrllrecError('range', `${where}: unknown metric '${m}' (allowed: ${METRIC_NAMES.join(', ')})`);
  }
  if (new Set(metrics).size !== metrics.length) throw new IrllrecError('range', `${where}: a metric is listed twice in ${metrics.join(', ')}`);
}

/**
 * Accumulates per-user metrics from ranked lists. `ranked` holds the item ids in rank order (at least max(ks)
 * of them; a shorter list counts as misses past its end); `truth` is the user's ground-truth set (sorted
 * ascending, for binary search).
 */
export class MetricAccumulator {
  readonly ks: readonly number[];
  readonly metrics: readonly MetricName[];
  /** sums[ki][mi]: the sum over users of metric mi at cut-off ks[ki]. */
  private sums: Float64Array[];
  users = 0;

  constructor(ks: readonly number[] = [5, 10, 20], metrics: readonly MetricName[] = DEFAULT_METRICS) {
    if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) throw new IrllrecError('range', `metrics: cut-offs must be positive integers, got [${ks.join(', ')}]`);
    checkMetrics(metrics);
    this.ks = [...new Set(ks)].sort((a, b) => a - b);
    this.metrics = [...metrics];
    this.sums = this.ks.map(() => new Float64Array(this.metrics.length));
  }

  /**
   * Adds one user; returns its metrics (keys as `result()`'s), or null for a user without ground truth (not
   * counted).
   */
  add(ranked: ArrayLike<number>, truth: ArrayLike<number>): Metrics | null {
    const nTrue = truth.length;
    if (nTrue === 0) return null;
    const user: Metrics = {};
    const kmax = this.ks[this.ks.length - 1];
    let hits = 0;
    let dcg = 0;
    let idcg = 0;
    let firstHit = 0;
    let apSum = 0;
    let ki = 0;
    for (let r = 1; r <= kmax; r++) {
      if (r <= nTrue) idcg += 1 / Math.log2(r + 1);
      if (r <= ranked.length && contains(truth, ranked[r - 1])) {
        hits++;
        dcg += 1 / Math.log2(r + 1);
        apSum += hits / r;
        if (firstHit === 0) firstHit = r;
      }
      for (; ki < this.ks.length && this.ks[ki] === r; ki++) {
        const s = this.sums[ki];
        this.metrics.forEach((m, mi) => {
          const v = m === 'recall' ? hits / nTrue : m === 'ndcg' ? dcg / idcg : m === 'precision' ? hits / r : m === 'hit' ? (hits > 0 ? 1 : 0) : m === 'mrr' ? (firstHit ? 1 / firstHit : 0) : apSum / Math.min(nTrue, r);
          s[mi] += v;
          user[`${m}@${r}`] = v;
        });
      }
    }
    this.users++;
    return user;
  }

  /** Means over the users added (0 when none): keys `<metric>@<K>`, per K in increasing order. */
  result(): Metrics {
    const out: Metrics = {};
    this.ks.forEach((k, ki) => {
      this.metrics.forEach((m, mi) => {
        out[`${m}@${k}`] = this.users ? this.sums[ki][mi] / this.users : 0;
      });
    });
    return out;
  }
}

function contains(sorted: ArrayLike<number>, x: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid];
    if (v === x) return true;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
