/**
 * `irllrec train --checkpoint DIR [--resume]`: the run's state is written atomically to
 * DIR/checkpoint.safetensors after every epoch (writeFileAtomic: a kill at any point leaves the previous
 * checkpoint or the new one, never a torn file), and `--resume` continues from it with the same options,
 * ending bit-identical to the uninterrupted run (same backend). The run's options are kept in DIR/run.json
 * and a resume with other options is refused (it would silently be another run). Without a checkpoint in
 * DIR, `--resume` starts the run from scratch, so the same command can be repeated after every interruption.
 */
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import type { ModelKind } from '../models/config.js';
import type { Backend } from '../ops/tensor.js';
import { resumeFrom } from '../train/checkpoint.js';
import type { FitOptions } from '../train/trainer.js';
import { writeFileAtomic } from './files.js';
import { checkOutputPath, readBoundedText } from './paths.js';
import { checkpointToFile, loadCheckpoint } from './serve.js';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
export const RUN_FILE = 'run.json';

/**
 * The `fit` options that checkpoint the run into `dir` (and, with `resume`, continue it from there), checked
 * before training: `dir` must be a writable directory; a checkpoint of another model kind or other data is
 * refused. Temporary files left by a killed writer are removed.
 */
export async function checkpointOptions(
  be: Backend,
  ds: Dataset,
  run: { model: ModelKind } & Record<string, unknown>,
  dir: string,
  resume: boolean,
): Promise<{ fit: Pick<FitOptions, 'init' | 'checkpoint'>; resumedAt: number | null }> {
  const kind = run.model;
  const path = join(dir, CHECKPOINT_FILE);
  await checkOutputPath(path, '--checkpoint');
  // `writeFileAtomic` names its temporary `${path}.tmp-<pid>-<random>`; a kill -9 leaves it behind.
  for (const f of await readdir(dir)) if (f.startsWith(`${CHECKPOINT_FILE}.tmp-`)) await unlink(join(dir, f)).catch(() => undefined);
  const hooks = checkpointToFile(path, { data: ds });
  const exists = (await readdir(dir)).includes(CHECKPOINT_FILE);
  // Options as JSON (undefined fields dropped), compared field by field on resume.
  const options = JSON.parse(JSON.stringify(run)) as Record<string, unknown>;
  if (!resume || !exists) {
    if (exists && !resume) throw new IrllrecError('io', `--checkpoint ${dir}: it already holds ${CHECKPOINT_FILE}; pass --resume to continue that run, or another directory`);
    await writeFileAtomic(join(dir, RUN_FILE), `${JSON.stringify(options, null, 1)}\n`);
    return { fit: { checkpoint: hooks }, resumedAt: null };
  }
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(await readBoundedText(join(dir, RUN_FILE), 1 << 20, 'run options')) as Record<string, unknown>;
  } catch (e) {
    throw new IrllrecError('format', `--resume ${dir}: cannot read the run's options from ${RUN_FILE} (${(e as Error).message})`);
  }
  const differ = [...new Set([...Object.keys(options), ...Object.keys(saved ?? {})])]
    .filter((k) => JSON.stringify(options[k]) !== JSON.stringify(saved?.[k]))
    .map((k) => `${k} ${JSON.stringify(options[k]) ?? '(unset)'} (the checkpointed run: ${JSON.stringify(saved?.[k]) ?? '(unset)'})`);
  if (differ.length) throw new IrllrecError('range', `--resume ${dir}: this run's options differ from the checkpointed run's, so it would not continue that run: ${differ.join('; ')}`);
  const c = await loadCheckpoint(path);
  if (c.config.kind !== kind) throw new IrllrecError('range', `--resume ${path}: the checkpoint is of a ${c.config.kind} run, this run trains ${kind}`);
  return { fit: resumeFrom(be, ds, c, hooks), resumedAt: c.trainer.epoch };
}
