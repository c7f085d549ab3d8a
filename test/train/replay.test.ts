import { afterAll, describe, expect, it } from 'vitest';
import { replay } from '../../bench/protocol.js';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { fit } from '../../src/train/trainer.js';
import { gpu } from '../helpers.js';

// bench/converged.ts trains once with validation after every epoch and replays the library's early stopping on the
// log; that is only sound if evaluating does not change training, which this checks against a run trained with
// the protocol itself.
describe('early stopping replayed on a per-epoch log (bench/protocol.ts)', () => {
  afterAll(async () => (await gpu()).destroy());

  it('picks the best and stopping epoch, and the same validation values, of a run trained with that protocol', async () => {
    const ds = syntheticDataset({ seed: 3, numUsers: 120, numItems: 150, numIntents: 6, textDim: 16, interactionsPerUser: 10 });
    const g = await gpu();
    const common = { model: 'lightgcn' as const, epochs: 40, batchSize: 256, lr: 2e-2, seed: 7 };
    const every = await fit(g, ds, { ...common, evalEvery: 1, patience: 0 });
    const val = every.history.map((h) => h.val!['recall@20']);
    expect(val.length).toBe(40);
    const protocol = { name: 'p', every: 3, patience: 2, maxEpochs: 40 };
    const ruled = await fit(g, ds, { ...common, evalEvery: protocol.every, patience: protocol.patience });
    expect(ruled.stoppedEarly).toBe(true);
    const sel = replay(val, protocol);
    expect(sel).toEqual({ bestEpoch: ruled.bestEpoch, stopEpoch: ruled.history[ruled.history.length - 1].epoch });
    for (const h of ruled.history.filter((x) => x.val)) expect(h.val!['recall@20'], `epoch ${h.epoch}`).toBe(val[h.epoch]);
    // A log that ends before the rule fires gives no answer.
    expect(replay(val.slice(0, sel!.stopEpoch), protocol)).toBeNull();
    every.model.dispose();
    ruled.model.dispose();
  }, 120_000);
});
