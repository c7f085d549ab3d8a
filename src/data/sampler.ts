/**
 * Training examples per epoch (spec §1.3, §1.4): one uniform negative per training pair, redrawn while it is
 * a training pair of the same user; and a fresh random permutation of the pairs cut into mini-batches.
 * All randomness comes from the caller's `Rng`, so a seed reproduces an epoch exactly. Browser-safe.
 */
import { IrllrecError } from '../errors.js';
import type { Rng } from '../util/random.js';
import type { Interactions } from './types.js';

/** Whether `item` is in the ascending list colIdx[lo … hi−1]. */
function containsSorted(colIdx: Uint32Array, lo: number, hi: number, item: number): boolean {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = colIdx[mid];
    if (v === item) return true;
    if (v < item) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

/**
 * For each training pair k (in train's order), one negative j_k uniform over [0, numItems), redrawn until
 * (u_k, j_k) is not a training pair (binary search in the user's sorted items from `userItemCsr`).
 * Validation and test items may be drawn. A user who has every item has no negative: an error naming them.
 */
export function sampleNegatives(
  rng: Rng,
  numItems: number,
  train: Interactions,
  userItems: { rowPtr: Uint32Array; colIdx: Uint32Array },
): Uint32Array {
  if (!Number.isInteger(numItems) || numItems < 1) throw new IrllrecError('range', `sampleNegatives: numItems must be a positive integer, got ${numItems}`);
  const numUsers = userItems.rowPtr.length - 1;
  const count = train.users.length;
  const out = new Uint32Array(count);
  for (let k = 0; k < count; k++) {
    const u = train.users[k];
    if (u >= numUsers) throw new IrllrecError('range', `sampleNegatives: pair ${k} has user ${u} but userItems covers ${numUsers} users`);
    const lo = userItems.rowPtr[u];
    const hi = userItems.rowPtr[u + 1];
    // userItems holds distinct in-range items, so hi − lo = numItems means the user has every item.
    if (hi - lo >= numItems) throw new IrllrecError('data', `sampleNegatives: user ${u} interacted with all ${numItems} items, so no negative item exists`);
    let j: number;
    do j = rng.int(numItems);
    while (containsSorted(userItems.colIdx, lo, hi, j));
    out[k] = j;
  }
  return out;
}

/**
 * A fresh uniform permutation of 0 … count−1 (Fisher–Yates with `rng`) cut into consecutive chunks of
 * batchSize; the last, shorter chunk is kept. Each chunk is its own array.
 */
export function epochBatches(rng: Rng, count: number, batchSize: number): Uint32Array[] {
  if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) throw new IrllrecError('range', `epochBatches: count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new IrllrecError('range', `epochBatches: batchSize must be a positive integer, got ${batchSize}`);
  const perm = new Uint32Array(count);
  for (let k = 0; k < count; k++) perm[k] = k;
  rng.shuffle(perm);
  const batches: Uint32Array[] = [];
  for (let start = 0; start < count; start += batchSize) batches.push(perm.slice(start, Math.min(start + batchSize, count)));
  return batches;
}
