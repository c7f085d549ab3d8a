import { describe, expect, it } from 'vitest';
import { MetricAccumulator } from '../../src/train/metrics.js';

describe('Recall@K and NDCG@K (spec §8)', () => {
  it('equal a hand-computed example', () => {
    const acc = new MetricAccumulator([1, 2, 3]);
    // User A: truth {2, 7}; ranking 7, 1, 2 → hits at ranks 1 and 3.
    acc.add([7, 1, 2], [2, 7]);
    // User B: truth {5}; ranking 3, 5, 9 → hit at rank 2.
    acc.add([3, 5, 9], [5]);
    const m = acc.result();
    const l = (r: number) => 1 / Math.log2(r + 1);
    // Recall@1: A 1/2, B 0 → 0.25. Recall@2: A 1/2, B 1 → 0.75. Recall@3: A 1, B 1 → 1.
    expect(m['recall@1']).toBeCloseTo(0.25, 12);
    expect(m['recall@2']).toBeCloseTo(0.75, 12);
    expect(m['recall@3']).toBeCloseTo(1, 12);
    // NDCG@1: A 1/1, B 0 → 0.5.  NDCG@2: A l(1)/(l(1)+l(2)), B l(2)/l(1).  NDCG@3: A (l(1)+l(3))/(l(1)+l(2)), B l(2)/l(1).
    expect(m['ndcg@1']).toBeCloseTo(0.5, 12);
    expect(m['ndcg@2']).toBeCloseTo((l(1) / (l(1) + l(2)) + l(2) / l(1)) / 2, 12);
    expect(m['ndcg@3']).toBeCloseTo(((l(1) + l(3)) / (l(1) + l(2)) + l(2) / l(1)) / 2, 12);
    expect(acc.users).toBe(2);
  });

  it('skips users without ground truth and caps the ideal DCG at min(K, |T_u|)', () => {
    const acc = new MetricAccumulator([2]);
    acc.add([1, 2], []);
    acc.add([1, 2], [1, 2, 3, 4]);
    expect(acc.users).toBe(1);
    expect(acc.result()['ndcg@2']).toBeCloseTo(1, 12);
    expect(acc.result()['recall@2']).toBeCloseTo(0.5, 12);
  });
});
