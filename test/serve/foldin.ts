/**
 * Shared by the personalisation tests: hold users out of a dataset and compare their fold-in
 * recommendations with popularity. (Not a test file itself.)
 */
import { userItemCsr } from '../../src/data/graph.js';
import type { Dataset, Interactions } from '../../src/data/types.js';
import type { Recommender } from '../../src/serve/recommender.js';

/** Users with id % every === 0 lose every interaction: the model never sees them (they are new users). */
export function holdOut(full: Dataset, every: number): { data: Dataset; heldOut: number[] } {
  const keep = (u: number) => u % every !== 0;
  const filt = (s: Interactions): Interactions => {
    const idx: number[] = [];
    for (let k = 0; k < s.users.length; k++) if (keep(s.users[k])) idx.push(k);
    return { users: Uint32Array.from(idx, (k) => s.users[k]), items: Uint32Array.from(idx, (k) => s.items[k]) };
  };
  const heldOut: number[] = [];
  for (let u = 0; u < full.numUsers; u++) if (!keep(u)) heldOut.push(u);
  // No validation split: fit keeps the last parameters (no best-snapshot restore).
  const none = { users: new Uint32Array(0), items: new Uint32Array(0) };
  return { data: { ...full, train: filt(full.train), val: none, test: filt(full.test) }, heldOut };
}

/**
 * Mean Recall@20 on the held-out users' test items of (a) their personalised vectors, folded in from their
 * training items, and (b) popularity in the reduced training set; both exclude the users' training items.
 */
export async function foldInVersusPopularity(rec: Recommender, full: Dataset, data: Dataset, heldOut: number[]): Promise<{ personal: number; popularity: number; users: number }> {
  const train = userItemCsr(full.numUsers, full.numItems, full.train);
  const test = userItemCsr(full.numUsers, full.numItems, full.test);
  const pop = new Float64Array(full.numItems);
  for (const i of data.train.items) pop[i]++;
  const byPopularity = Array.from({ length: full.numItems }, (_, i) => i).sort((a, b) => pop[b] - pop[a] || a - b);
  let personal = 0;
  let popularity = 0;
  let users = 0;
  for (const u of heldOut) {
    const items = train.colIdx.subarray(train.rowPtr[u], train.rowPtr[u + 1]);
    const truth = new Set(test.colIdx.subarray(test.rowPtr[u], test.rowPtr[u + 1]));
    if (items.length === 0 || truth.size === 0) continue;
    const me = await rec.personalize({ items });
    const r = await rec.recommend(me, { k: 20 });
    me.dispose();
    personal += r.ids.filter((i) => truth.has(i)).length / truth.size;
    const own = new Set(items);
    popularity += byPopularity.filter((i) => !own.has(i)).slice(0, 20).filter((i) => truth.has(i)).length / truth.size;
    users++;
  }
  return { personal: personal / users, popularity: popularity / users, users };
}

