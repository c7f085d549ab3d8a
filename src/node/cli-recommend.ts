/**
 * `irllrec recommend`: the top-k items of one user (--user ID), of a list of users (--users FILE) or of every
 * user (--users all), by original ids, on the device in chunks of users (`recommendChunks`). Results go to
 * stdout (TSV `user<TAB>rank<TAB>item<TAB>score` after a header line, or JSON with --json) or, with
 * --out FILE, into FILE atomically as they are computed; progress and logs go to stderr.
 */
import { readFile } from 'node:fs/promises';
import { IdMap } from '../data/ids.js';
import type { Interactions } from '../data/types.js';
import { IrllrecError } from '../errors.js';
import type { RecModel } from '../models/model.js';
import { TOPK_MAX_K } from '../ops/topk.js';
import { recommendChunks } from '../serve/recommend.js';
import { type Progress, rateAndEta } from './cli-progress.js';
import { writeFileAtomic } from './files.js';
import { terminalSafe } from './paths.js';

export const RECOMMEND_TSV_HEADER = 'user\trank\titem\tscore\n';
/** Users per device chunk of a batch export (--chunk). */
export const DEFAULT_CHUNK_USERS = 1024;
/** The size above which a --users file is refused unread. */
const MAX_USERS_FILE_BYTES = 256 * 1024 * 1024;

/** What `recommend` was asked, checked before the model is loaded. */
export interface RecommendRequest {
  /** --user ID (one user) or --users FILE|all. */
  users: { one: string } | { file: string } | 'all';
  k: number;
  chunk: number;
  out: string | null;
}

export function recommendRequest(values: Record<string, unknown>): RecommendRequest {
  const one = values.user as string | undefined;
  const many = values.users as string | undefined;
  if ((one === undefined) === (many === undefined)) throw new IrllrecError('range', 'recommend: give either --user ID or --users FILE|all');
  const k = Number(values.k ?? 20);
  if (!/^\d+$/.test(String(values.k ?? 20)) || k < 1 || k > TOPK_MAX_K) throw new IrllrecError('range', `recommend: -k must be one integer in 1…${TOPK_MAX_K}, got '${values.k}'`);
  const chunk = Number(values.chunk ?? DEFAULT_CHUNK_USERS);
  if (!/^\d+$/.test(String(values.chunk ?? DEFAULT_CHUNK_USERS)) || chunk < 1) throw new IrllrecError('range', `recommend: --chunk must be a positive integer, got '${values.chunk}'`);
  const out = values.out === undefined ? null : String(values.out);
  if (out !== null && one !== undefined) throw new IrllrecError('range', 'recommend: --out goes with --users FILE|all (one user prints to stdout)');
  return { users: one !== undefined ? { one } : many === 'all' ? 'all' : { file: String(many) }, k, chunk, out };
}

/** Dense indices of the requested users; unknown ids are errors naming the file and line. */
async function requestedUsers(req: RecommendRequest, ids: IdMap): Promise<Uint32Array> {
  if (req.users === 'all') return Uint32Array.from({ length: ids.size }, (_, i) => i);
  if ('one' in req.users) return Uint32Array.of(ids.index(req.users.one, '--user'));
  const path = req.users.file;
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_USERS_FILE_BYTES) throw new IrllrecError('io', `--users ${path}: ${bytes.length} bytes, more than the ${MAX_USERS_FILE_BYTES} a user list may have`);
    text = bytes.toString('utf8');
  } catch (e) {
    if (e instanceof IrllrecError) throw e;
    throw new IrllrecError('io', `--users ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? "no such file (or give 'all')" : (e as Error).message}`);
  }
  const out: number[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const id = line.trim();
    if (id !== '' && !id.startsWith('#')) out.push(ids.index(id, `${path}:${i + 1}`));
  });
  if (out.length === 0) throw new IrllrecError('data', `--users ${path}: no user ids in the file`);
  return Uint32Array.from(out);
}

function score(x: number): string {
  return Number(x.toPrecision(7)).toString();
}

export interface RecommendIo {
  json: boolean;
  progress: Progress;
  /** Writes to stdout (resolves when the text is handed over). */
  stdout: (text: string) => Promise<void>;
}

/** Runs the request on a loaded model; returns the JSON result (printed by the caller with --json). */
export async function runRecommend(req: RecommendRequest, m: { model: RecModel; train: Interactions; userIds?: string[]; itemIds?: string[] }, io: RecommendIo): Promise<Record<string, unknown>> {
  const userIds = new IdMap('user', m.model.numUsers, m.userIds);
  const itemIds = new IdMap('item', m.model.numItems, m.itemIds);
  const users = await requestedUsers(req, userIds);
  const k = req.k;
  if (k > m.model.numItems) throw new IrllrecError('range', `recommend: -k ${k} exceeds the model's ${m.model.numItems} items`);
  const single = typeof req.users === 'object' && 'one' in req.users;
  // JSON objects go to stdout with --json and no --out (and make the return value of one user).
  const collect = req.out === null && (io.json || single);
  const t0 = Date.now();
  let done = 0;
  let rows = 0;
  const json: { user: string; items: { rank: number; item: string; index: number; score: number }[] }[] = [];
  // TSV text per chunk of users (or JSON objects collected), with progress after each chunk.
  async function* tsv(): AsyncGenerator<string> {
    yield RECOMMEND_TSV_HEADER;
    for await (const { start, results } of recommendChunks(m.model, m.train, users, { k, chunkUsers: req.chunk })) {
      let text = '';
      results.forEach((r, j) => {
        const uid = userIds.id(users[start + j]);
        const items = Array.from(r.ids, (id, t) => ({ rank: t + 1, item: itemIds.id(id), index: id, score: r.scores[t] }));
        if (collect) json.push({ user: uid, items });
        // On stdout (a terminal, maybe) ids from files are shown escaped, never executed; a file export keeps them as they are.
        const shown = (id: string) => (req.out === null ? terminalSafe(id) : id);
        for (const it of items) text += `${shown(uid)}\t${it.rank}\t${shown(it.item)}\t${score(it.score)}\n`;
        rows += items.length;
      });
      done += results.length;
      if (users.length > 1) io.progress.update(`recommend: ${done}/${users.length} users (${((100 * done) / users.length).toFixed(0)}%), ${rateAndEta(done, users.length, (Date.now() - t0) / 1000, 'users')}`);
      yield text;
    }
  }
  if (req.out !== null) {
    await writeFileAtomic(req.out, tsv());
    io.progress.log(`recommend: ${users.length} users, ${rows} rows → ${req.out} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    return { out: req.out, k, users: users.length, rows };
  }
  for await (const text of tsv()) if (!io.json) await io.stdout(text);
  if (users.length > 1) io.progress.log(`recommend: ${users.length} users, ${rows} rows in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return single ? { user: json[0].user, k, items: json[0].items } : { k, users: json };
}

/** Writes to stdout, waiting for the stream to drain when its buffer is full (large exports). */
export function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(text, (e) => (e ? reject(e) : undefined))) resolve();
    else process.stdout.once('drain', resolve);
  });
}
