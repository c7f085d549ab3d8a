import { describe, expect, it } from 'vitest';
import { IrllrecError } from '../../src/errors.js';
import { METRIC_NAMES, MetricAccumulator, type MetricName, metricKeys } from '../../src/train/metrics.js';
import { Rng } from '../../src/util/random.js';

/** Each metric of one user straight from its definition, recomputed from scratch for every K. */
function reference(m: MetricName, ranked: number[], truth: Set<number>, K: number): number {
  const top = ranked.slice(0, K);
  const rel = top.map((x) => (truth.has(x) ? 1 : 0));
  const hits = rel.reduce((a: number, b) => a + b, 0);
  switch (m) {
    case 'recall':
      return hits / truth.size;
    case 'precision':
      return hits / K;
    case 'hit':
      return hits > 0 ? 1 : 0;
    case 'mrr': {
      const first = rel.indexOf(1);
      return first < 0 ? 0 : 1 / (first + 1);
    }
    case 'ndcg': {
      const dcg = rel.reduce((a: number, r, j) => a + r / Math.log2(j + 2), 0);
      let idcg = 0;
      for (let j = 0; j < Math.min(K, truth.size); j++) idcg += 1 / Math.log2(j + 2);
      return dcg / idcg;
    }
    case 'map': {
      let s = 0;
      rel.forEach((r, j) => {
        if (r) s += rel.slice(0, j + 1).reduce((a: number, b) => a + b, 0) / (j + 1);
      });
      return s / Math.min(truth.size, K);
    }
  }
}

describe('ranking metrics against a brute-force reference', () => {
  it('agree on random rankings for every metric and K (users without truth skipped, short lists)', () => {
    const rng = new Rng(11);
    const ks = [1, 3, 10, 50, 120];
    const acc = new MetricAccumulator(ks, METRIC_NAMES);
    const sums = new Map<string, number>();
    let users = 0;
    for (let u = 0; u < 300; u++) {
      const nItems = 40 + rng.int(200);
      const perm = Array.from({ length: nItems }, (_, i) => i);
      for (let i = nItems - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [perm[i], perm[j]] = [perm[j], perm[i]];
      }
      const truth = new Set(perm.filter(() => rng.next() < 0.1));
      if (u % 17 === 0) truth.clear();
      // Most lists hold max(K) items; some are shorter (padding removed): the rest are misses.
      const ranked = perm.slice(0, u % 5 === 0 ? 30 : 120);
      const own = acc.add(ranked, [...truth].sort((a, b) => a - b));
      if (truth.size === 0) {
        expect(own).toBeNull();
        continue;
      }
      users++;
      expect(Object.keys(own!)).toEqual(metricKeys(ks, METRIC_NAMES));
      for (const K of ks) {
        for (const m of METRIC_NAMES) {
          const v = reference(m, ranked, truth, K);
          expect(own![`${m}@${K}`], `user ${u} ${m}@${K}`).toBeCloseTo(v, 12);
          sums.set(`${m}@${K}`, (sums.get(`${m}@${K}`) ?? 0) + v);
        }
      }
    }
    const res = acc.result();
    expect(acc.users).toBe(users);
    expect(Object.keys(res)).toEqual(metricKeys(ks, METRIC_NAMES));
    for (const key of Object.keys(res)) expect(res[key], key).toBeCloseTo(sums.get(key)! / users, 12);
    // Not degenerate: the metrics differ from each other and from 0.
    expect(new Set(Object.values(res).map((v) => v.toFixed(6))).size).toBeGreaterThan(20);
  });

  it('equal a hand-computed example for precision, hit, MRR and MAP', () => {
    const acc = new MetricAccumulator([3], ['precision', 'hit', 'mrr', 'map']);
    acc.add([7, 1, 2], [2, 7]); // hits at 1 and 3: P 2/3, hit 1, RR 1, AP (1/1 + 2/3) / 2
    acc.add([3, 5, 9], [5]); // hit at 2: P 1/3, hit 1, RR 1/2, AP (1/2) / 1
    acc.add([3, 4, 6], [8]); // no hit
    const m = acc.result();
    expect(m['precision@3']).toBeCloseTo((2 / 3 + 1 / 3 + 0) / 3, 12);
    expect(m['hit@3']).toBeCloseTo(2 / 3, 12);
    expect(m['mrr@3']).toBeCloseTo((1 + 0.5 + 0) / 3, 12);
    expect(m['map@3']).toBeCloseTo(((1 + 2 / 3) / 2 + 0.5 + 0) / 3, 12);
  });

  it('refuses unknown metrics, repeats and bad cut-offs', () => {
    expect(() => new MetricAccumulator([10], ['recall', 'auc' as MetricName])).toThrow(/unknown metric 'auc'.*recall, ndcg, precision, hit, mrr, map/);
    expect(() => new MetricAccumulator([10], ['hit', 'hit'])).toThrow(IrllrecError);
    expect(() => new MetricAccumulator([0])).toThrow(/positive integers/);
    expect(() => new MetricAccumulator([])).toThrow(/positive integers/);
  });
});
