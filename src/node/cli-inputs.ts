/**
 * What the CLI checks about the meaning of its inputs (not only their syntax): users named by the model's
 * own ids, batch ids within the id space, an --init file that belongs to the run, and the dataset's
 * warnings shown to the user. Kept out of cli.ts so that the commands stay short.
 */
import type { Dataset } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import type { ModelFile } from '../io/modelfile.js';
import type { ModelKind } from '../models/config.js';
import { terminalSafe } from './paths.js';

/** The largest `loss --batch` file read (a batch of 10^7 triples is ~200 MB of text). */
export const MAX_BATCH_FILE_BYTES = 256 * 1024 * 1024;

/** Print every warning the dataset loader produced (stderr, one line each, escaped) and return them. */
export function reportDatasetWarnings(ds: Dataset, quiet: boolean): string[] {
  const warnings = ds.warnings ?? [];
  if (!quiet) for (const w of warnings) process.stderr.write(`irllrec: warning: ${terminalSafe(`${ds.name}: ${w}`)}\n`);
  return warnings;
}

/**
 * The dense index of `--user ARG`: with id maps (the dataset's or the file's), ARG must be one of those ids;
 * without them the ids are the dense indices themselves, so ARG must be a decimal integer below the count.
 * A digit string is never reinterpreted as a dense index when the model has its own ids.
 */
export function resolveUser(arg: string, numUsers: number, userIds: readonly string[] | undefined): number {
  if (arg === '') throw new IrllrecError('range', '--user ID is required');
  if (userIds) {
    const k = userIds.indexOf(arg);
    if (k < 0) throw new IrllrecError('range', `--user '${terminalSafe(arg)}' is not one of this model's ${numUsers} user ids (e.g. '${terminalSafe(userIds[0] ?? '')}')`);
    return k;
  }
  if (!/^\d+$/.test(arg) || Number(arg) >= numUsers) throw new IrllrecError('range', `--user '${terminalSafe(arg)}' is not a user of this model (ids 0 to ${numUsers - 1})`);
  return Number(arg);
}

/**
 * A `loss --batch` file: lines `user pos neg` of dense ids ('#' comments and blank lines skipped); every id
 * must be a decimal integer inside the model's id space (an id ≥ 2^32 would otherwise wrap in a u32 array).
 */
export function parseBatchFile(text: string, path: string, numUsers: number, numItems: number): { users: Uint32Array; pos: Uint32Array; neg: Uint32Array } {
  const users: number[] = [];
  const pos: number[] = [];
  const neg: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(/[\s,]+/).filter(Boolean);
    const where = `${terminalSafe(path)}:${i + 1}`;
    if (f.length < 3 || f.slice(0, 3).some((x) => !/^\d+$/.test(x))) throw new IrllrecError('data', `${where}: expected 'user pos neg' ids, got '${terminalSafe(line.slice(0, 200))}'`);
    const [u, p, n] = f.slice(0, 3).map(Number);
    if (u >= numUsers) throw new IrllrecError('range', `${where}: user id ${f[0]} is out of range (the model has ${numUsers} users)`);
    for (const [name, v, s] of [['positive', p, f[1]], ['negative', n, f[2]]] as const) {
      if (v >= numItems) throw new IrllrecError('range', `${where}: ${name} item id ${s} is out of range (the model has ${numItems} items)`);
    }
    users.push(u);
    pos.push(p);
    neg.push(n);
  }
  if (users.length === 0) throw new IrllrecError('data', `${terminalSafe(path)}: no 'user pos neg' lines`);
  return { users: Uint32Array.from(users), pos: Uint32Array.from(pos), neg: Uint32Array.from(neg) };
}

/**
 * The model kind of a run started from `--init FILE`: the file's kind unless --model (or the run
 * configuration) names another, which is an error rather than a silent switch; the file must also have been
 * trained on this dataset (same name when both are known, same user and item counts, same id maps).
 */
export function checkInit(file: ModelFile, path: string, requested: ModelKind | undefined, ds: Dataset): ModelKind {
  const kind = file.config.kind;
  if (requested !== undefined && requested !== kind) {
    throw new IrllrecError('range', `--init ${path}: the file holds a ${kind} model but --model asks for ${requested} (a model is never converted silently; omit --model to continue the file's ${kind})`);
  }
  if (file.datasetName !== undefined && file.datasetName !== ds.name) {
    throw new IrllrecError('data', `--init ${path}: the file was trained on dataset '${terminalSafe(file.datasetName)}', this run uses '${terminalSafe(ds.name)}'`);
  }
  if (file.numUsers !== ds.numUsers || file.numItems !== ds.numItems) {
    throw new IrllrecError('data', `--init ${path}: the file has ${file.numUsers} users / ${file.numItems} items, the dataset ${ds.numUsers} / ${ds.numItems}`);
  }
  for (const [side, a, b] of [['user', file.userIds, ds.userIds], ['item', file.itemIds, ds.itemIds]] as const) {
    if ((a === undefined) !== (b === undefined) || (a && b && a.some((id, k) => id !== b[k]))) {
      throw new IrllrecError('data', `--init ${path}: the file's ${side} ids differ from the dataset's (another id mapping)`);
    }
  }
  return kind;
}
