/**
 * The library's early stopping (src/train/trainer.ts: validation Recall@20 after epochs 0, E, 2E, …; a strictly
 * better value resets the patience; `patience` evaluations without improvement stop) replayed on a run that
 * validated after every epoch. Evaluation does not touch the trainer's random stream, so the replay picks the same
 * best epoch as a run trained with that protocol (tested in test/train/replay.test.ts).
 */
export interface Protocol {
  name: string;
  /** Validation every `every` epochs. */
  every: number;
  /** Evaluations without improvement that stop the run (> 0). */
  patience: number;
  maxEpochs: number;
}

/** The best and the stopping epoch under `p`; null while the log is too short to tell. */
export function replay(val: readonly (number | undefined)[], p: Protocol): { bestEpoch: number; stopEpoch: number } | null {
  let best = -Infinity;
  let bestEpoch = -1;
  let waited = 0;
  for (let e = 0; e < p.maxEpochs; e += p.every) {
    const v = val[e];
    if (v === undefined) return null;
    if (v > best) {
      best = v;
      bestEpoch = e;
      waited = 0;
    } else if (++waited >= p.patience) return { bestEpoch, stopEpoch: e };
  }
  return val.length >= p.maxEpochs ? { bestEpoch, stopEpoch: p.maxEpochs - 1 } : null;
}
