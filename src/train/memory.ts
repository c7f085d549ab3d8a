/**
 * A training run within a device-memory budget (`fit({ maxMemory })`, `irllrec train --max-memory`).
 *
 * The binding plans (src/models/plan.ts) list every buffer the run asks the pool for, so the bytes a run
 * needs are known before anything is allocated: the persistent tensors (graph, text tables, parameters,
 * gradients, Adam moments, teacher), fit's best-so-far snapshot, one training step's temporaries and one
 * evaluation chunk (the step's free buffers stay in the pool while evaluation runs).
 * Sizes are rounded to the pool's buckets and every temporary of a step is counted as if all were live at
 * once, so the estimate is an upper bound of the pool's high-water mark.
 *
 * Within the budget the plan picks, in order of speed: the towers' activations recomputed in blocks of
 * TOWER_BLOCK_BYTES, then in smaller blocks; evaluation chunks of up to 2048 users, halved until they fit.
 * Results are bit-identical whatever it picks. When even the leanest plan does not fit, `planTraining`
 * throws a 'limit' IrllrecError naming what the bytes are for. (Keeping the activations from the forward,
 * `TowerMemory.keepActivations`, saves the recomputation but holds one N×hidden table per tower at once; the
 * sum-of-temporaries estimate here cannot tell the two apart, so the plan never picks it.)
 */
import { IrllrecError } from '../errors.js';
import { bucketSize } from '../gpu/pool.js';
import {
  type ModelPlanInput,
  type PlannedBinding,
  TOWER_BLOCK_BYTES,
  type TowerMemory,
  planBindings,
  planEvaluate,
  planModel,
  planStep,
  towerMemory,
} from '../models/plan.js';

export interface TrainingMemoryPlan {
  towers: TowerMemory;
  /** Users per evaluation chunk. */
  usersPerChunk: number;
  /** Planned bytes: persistent tensors and snapshot, the step's temporaries, an evaluation chunk, and their sum. */
  bytes: { model: number; step: number; evaluate: number; total: number };
}

const MIB = 1024 * 1024;
const mib = (b: number) => `${(b / MIB).toFixed(1)} MiB`;

/** Bytes of a plan as the pool would allocate them (bucket-rounded). */
export function plannedBytes(plan: readonly PlannedBinding[]): number {
  return plan.reduce((s, b) => s + bucketSize(b.bytes), 0);
}

/** The persistent tensors of training plus fit's snapshot of every parameter and the teacher. */
function modelBytes(p: ModelPlanInput): number {
  const snapshot = planBindings(p, { batchSize: 1 }).filter((b) => b.phase === 'fit');
  return plannedBytes(planModel(p)) + plannedBytes(snapshot);
}

/**
 * The fastest-first search described above for a run on batches of `batchSize` whose evaluation ranks
 * top-`k` of `evalUsers` users (at most `usersPerChunk` per chunk), within `maxMemory` bytes of device
 * buffers (Infinity: no budget, the default blocks). Throws a 'limit' IrllrecError when nothing fits.
 */
export function planTraining(p: ModelPlanInput, o: { batchSize: number; k: number; evalUsers: number; usersPerChunk?: number; maxMemory?: number; where: string }): TrainingMemoryPlan {
  const budget = o.maxMemory ?? Infinity;
  if (!(budget > 0)) throw new IrllrecError('range', `${o.where}: maxMemory must be a positive number of bytes, got ${o.maxMemory}`);
  const d = p.config.embeddingDim;
  const model = modelBytes(p);
  const stepBytes = (towers: TowerMemory) => plannedBytes(planStep({ ...p, towers }, o.batchSize));
  // Evaluation: E_fin with its two propagation buffers, the item table and a chunk (the masked items of a
  // chunk are counted at one per user and item row, a bound for any split).
  const evalBytes = (rows: number) => plannedBytes(planEvaluate(p, rows, o.k, rows));
  const options: TowerMemory[] = [1, 4, 16, 64, 256].map((f) => towerMemory(p.profileDim, p.intentDim, d, TOWER_BLOCK_BYTES / f));
  const firstRows = Math.max(1, Math.min(o.usersPerChunk ?? 2048, Math.max(1, o.evalUsers)));
  // The evaluation chunk that fits beside `step` bytes of step temporaries (halved from the default), or null.
  const chunkFor = (step: number): number | null => {
    let rows = firstRows;
    while (rows > 1 && model + step + evalBytes(rows) > budget) rows = Math.ceil(rows / 2);
    return model + step + evalBytes(rows) <= budget ? rows : null;
  };
  const towers = options.find((t) => chunkFor(stepBytes(t)) !== null);
  if (!towers) {
    const step = stepBytes(options[options.length - 1]);
    throw new IrllrecError(
      'limit',
      `${o.where}: the run needs at least ${mib(model + step + evalBytes(1))} of device memory but maxMemory is ${mib(budget)}: ` +
        `${mib(model)} for the model (text tables, parameters, gradients, Adam moments, teacher, best-epoch snapshot), ` +
        `${mib(step)} for a training step with the leanest text towers, ${mib(evalBytes(1))} for evaluation. ` +
        `Try a smaller batchSize, textPrecision 'f16', a smaller embeddingDim, or a larger budget.`,
    );
  }
  const step = stepBytes(towers);
  const rows = chunkFor(step)!;
  const evaluate = evalBytes(rows);
  return { towers, usersPerChunk: rows, bytes: { model, step, evaluate, total: model + step + evaluate } };
}
