/**
 * Ranking metrics exactly as the reference computes them (spec §8): Recall@K = hits / |T_u|;
 * NDCG@K = Σ_{r≤K} rel_r / log2(r+1) divided by Σ_{r=1}^{min(K,|T_u|)} 1/log2(r+1); means over the users
 * with at least one ground-truth item.
 */
export type Metrics = Record<string, number>;

/** Metric keys: `recall@5`, `ndcg@5`, …. */
export function metricKeys(ks: readonly number[]): string[] {
  return ks.flatMap((k) => [`recall@${k}`, `ndcg@${k}`]);
}

/**
 * Accumulates per-user metrics from ranked lists. `ranked` holds at least max(ks) item ids in rank order;
 * `truth` is the user's ground-truth set (sorted ascending, for binary search).
 */
export class MetricAccumulator {
  readonly ks: readonly number[];
  private sums: number[];
  users = 0;

  constructor(ks: readonly number[] = [5, 10, 20]) {
    this.ks = [...ks].sort((a, b) => a - b);
    this.sums = new Array(this.ks.length * 2).fill(0);
  }

  add(ranked: ArrayLike<number>, truth: ArrayLike<number>): void {
    const nTrue = truth.length;
    if (nTrue === 0) return;
    const kmax = this.ks[this.ks.length - 1];
    let hits = 0;
    let dcg = 0;
    let ki = 0;
    for (let r = 1; r <= kmax; r++) {
      if (r <= ranked.length && contains(truth, ranked[r - 1])) {
        hits++;
        dcg += 1 / Math.log2(r + 1);
      }
      while (ki < this.ks.length && this.ks[ki] === r) {
        let idcg = 0;
        for (let j = 1; j <= Math.min(r, nTrue); j++) idcg += 1 / Math.log2(j + 1);
        this.sums[2 * ki] += hits / nTrue;
        this.sums[2 * ki + 1] += dcg / idcg;
        ki++;
      }
    }
    this.users++;
  }

  result(): Metrics {
    const out: Metrics = {};
    this.ks.forEach((k, i) => {
      out[`recall@${k}`] = this.users ? this.sums[2 * i] / this.users : 0;
      out[`ndcg@${k}`] = this.users ? this.sums[2 * i + 1] / this.users : 0;
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
