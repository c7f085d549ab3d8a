/**
 * Interaction files → `Dataset`: parsing `user item [rating] [timestamp]` text, mapping ids to dense ids,
 * sorting and deduplicating each split (spec §1.1: training is binarised, entries in ascending (user, item)
 * order), seeded per-user splits, and whole dataset directories given as named file contents.
 * Browser-safe: no Node imports (Node file reading is in src/node/files.ts).
 */
import { IrllrecError } from '../errors.js';
import { parseNpy } from '../io/npy.js';
import { Rng } from '../util/random.js';
import type { Dataset, Interactions, Matrix, TextEmbeddings } from './types.js';

/** Parsed rows of one file, ids still as strings. `lines[k]` is the 1-based line number of row k. */
interface ParsedRows {
  users: string[];
  items: string[];
  ratings?: Float64Array;
  timestamps?: Float64Array;
  lines: Uint32Array;
  source: string;
}

const NUMBER_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DENSE_ID_RE = /^\d{1,10}$/;
/** Largest id usable as a dense id: counts must still fit a u32. */
const MAX_DENSE_ID = 0xfffffffe;
/**
 * How far a declared count (meta.json's `users` / `items`, `numUsers` / `numItems`) may exceed the ids the
 * files use: 2 × their span + 1024. Ids without interactions are legitimate (cold users and items), but the
 * count sizes the graph, the embedding tables and every node-indexed buffer, so a meta.json claiming 2^32 − 1
 * users over a handful of pairs would otherwise commit gigabytes before any other check could run.
 */
export function maxDeclaredCount(usedSpan: number): number {
  return 2 * usedSpan + 1024;
}
/** Header words accepted for the user and item columns even when the ids themselves are strings. */
const USER_HEADER_RE = /^(?:user|users|user_?id|uid|u|reviewer_?id|customer_?id)$/i;
const ITEM_HEADER_RE = /^(?:item|items|item_?id|iid|i|movie|movie_?id|product|product_?id|asin|business|business_?id|book|book_?id|isbn)$/i;

function dataError(source: string, line: number, message: string): IrllrecError {
  return new IrllrecError('data', `${source} line ${line}: ${message}`);
}

/** Splits a line into trimmed fields with the file's separator; CSV fields wrapped in "…" lose the quotes. */
function splitFields(line: string, sep: 'tab' | 'comma' | 'space'): string[] {
  if (sep === 'space') return line.trim().split(/\s+/);
  const raw = line.split(sep === 'tab' ? '\t' : ',');
  const out = new Array<string>(raw.length);
  for (let f = 0; f < raw.length; f++) {
    let s = raw[f].trim();
    if (sep === 'comma' && s.length >= 2 && s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1);
    out[f] = s;
  }
  return out;
}

/**
 * A first line is a header when its first two fields are recognised column names (`userId movieId`), which
 * also covers files whose ids are all strings, or when it holds no digit at all and some column is
 * non-numeric in it but numeric in the next data line (e.g. `user,item,rating` over `1,31,2.5`, or
 * `user item` over `alice 5`). A first line with digits is data: ids such as ISBNs (`043936213X`) are
 * non-numeric among numeric ones, and dropping such a row as a "header" would lose it silently.
 */
function looksLikeHeader(first: string[], second: string[] | undefined): boolean {
  if (first.length >= 2 && USER_HEADER_RE.test(first[0]) && ITEM_HEADER_RE.test(first[1])) return true;
  if (!second || first.some((f) => /\d/.test(f))) return false;
  const n = Math.min(first.length, second.length);
  for (let f = 0; f < n; f++) if (!NUMBER_RE.test(first[f]) && NUMBER_RE.test(second[f])) return true;
  return false;
}

function parseRows(text: string, source: string): ParsedRows {
  const rawLines = text.split('\n');
  // Indices of non-blank lines; a trailing \r (CRLF files) is not part of the content.
  const content: string[] = [];
  const lineNo: number[] = [];
  for (let l = 0; l < rawLines.length; l++) {
    let s = rawLines[l];
    if (s.endsWith('\r')) s = s.slice(0, -1);
    if (s.trim() === '') continue;
    content.push(s);
    lineNo.push(l + 1);
  }
  if (content.length === 0) return { users: [], items: [], lines: new Uint32Array(0), source };

  const sep: 'tab' | 'comma' | 'space' = content[0].includes('\t') ? 'tab' : content[0].includes(',') ? 'comma' : 'space';
  let start = 0;
  const first = splitFields(content[0], sep);
  if (looksLikeHeader(first, content.length > 1 ? splitFields(content[1], sep) : undefined)) start = 1;

  const count = content.length - start;
  const users = new Array<string>(count);
  const items = new Array<string>(count);
  const lines = new Uint32Array(count);
  let width = 0;
  let ratings: Float64Array | undefined;
  let timestamps: Float64Array | undefined;
  for (let k = 0; k < count; k++) {
    const line = lineNo[start + k];
    const fields = splitFields(content[start + k], sep);
    if (k === 0) {
      width = fields.length;
      if (width < 2 || width > 4) {
        throw dataError(source, line, `expected 2 to 4 fields (user item [rating] [timestamp]), found ${fields.length}`);
      }
      if (width >= 3) ratings = new Float64Array(count);
      if (width === 4) timestamps = new Float64Array(count);
    } else if (fields.length !== width) {
      throw dataError(source, line, `expected ${width} fields like line ${lineNo[start]}, found ${fields.length}`);
    }
    if (fields[0] === '') throw dataError(source, line, 'empty user id');
    if (fields[1] === '') throw dataError(source, line, 'empty item id');
    users[k] = fields[0];
    items[k] = fields[1];
    lines[k] = line;
    if (ratings) {
      if (!NUMBER_RE.test(fields[2])) throw dataError(source, line, `rating '${fields[2]}' is not a number`);
      ratings[k] = Number(fields[2]);
    }
    if (timestamps) {
      if (!NUMBER_RE.test(fields[3])) throw dataError(source, line, `timestamp '${fields[3]}' is not a number`);
      timestamps[k] = Number(fields[3]);
    }
  }
  return { users, items, ratings, timestamps, lines, source };
}

/**
 * Parse `user item [rating] [timestamp]` lines, separated by tabs, commas or spaces (the first data line
 * decides). An optional header line is detected (see `looksLikeHeader`); blank lines and trailing \r are
 * ignored. Every line must have the same number of fields. Errors name the source, the line and the
 * problem. Ids are returned as the strings found.
 */
export function parseInteractionText(
  text: string,
  source = 'interactions',
): { users: string[]; items: string[]; ratings?: Float64Array; timestamps?: Float64Array } {
  const p = parseRows(text, source);
  const out: { users: string[]; items: string[]; ratings?: Float64Array; timestamps?: Float64Array } = { users: p.users, items: p.items };
  if (p.ratings) out.ratings = p.ratings;
  if (p.timestamps) out.timestamps = p.timestamps;
  return out;
}

/** Keeps only rows with rating ≥ minRating (positives), as e.g. MovieLens ratings ≥ 3.5. */
function filterRating(p: ParsedRows, minRating: number | undefined): ParsedRows {
  if (minRating === undefined) return p;
  if (!Number.isFinite(minRating)) throw new IrllrecError('range', `minRating must be a finite number, got ${minRating}`);
  if (!p.ratings) throw new IrllrecError('data', `${p.source}: minRating = ${minRating} was given but the file has no rating column`);
  const keep: number[] = [];
  for (let k = 0; k < p.users.length; k++) if (p.ratings[k] >= minRating) keep.push(k);
  const pick = <T>(a: T[]) => keep.map((k) => a[k]);
  const pickF = (a: Float64Array | undefined) => (a ? Float64Array.from(keep, (k) => a[k]) : undefined);
  return {
    users: pick(p.users),
    items: pick(p.items),
    ratings: pickF(p.ratings),
    timestamps: pickF(p.timestamps),
    lines: Uint32Array.from(keep, (k) => p.lines[k]),
    source: p.source,
  };
}

/**
 * Maps one side's ids (users or items) over all splits to dense ids. All ids non-negative integers → used
 * as they are (count = `fixedCount ?? max + 1`), unless they are so sparse (max + 1 > 2·distinct + 1024,
 * no fixedCount) that a dense table would be mostly empty: then, as with string ids, ids are numbered in
 * order of first appearance over the splits in the order given, and the originals are returned as `names`.
 */
function resolveIds(
  kind: 'user' | 'item',
  splits: { ids: string[]; lines: Uint32Array; source: string }[],
  fixedCount: number | undefined,
  countName: string = kind === 'user' ? 'numUsers' : 'numItems',
): { dense: Uint32Array[]; count: number; names?: string[] } {
  if (fixedCount !== undefined && (!Number.isInteger(fixedCount) || fixedCount < 0 || fixedCount > MAX_DENSE_ID + 1)) {
    throw new IrllrecError('range', `${countName} must be a non-negative integer, got ${fixedCount}`);
  }
  let allNumeric = true;
  let max = -1;
  const distinct = new Set<number>();
  for (const s of splits) {
    for (const id of s.ids) {
      if (!DENSE_ID_RE.test(id) || Number(id) > MAX_DENSE_ID) {
        allNumeric = false;
        break;
      }
      const v = Number(id);
      if (v > max) max = v;
      distinct.add(v);
    }
    if (!allNumeric) break;
  }
  if (fixedCount !== undefined) {
    // The span the files use: max id + 1 for dense ids, else (at most) the number of distinct strings.
    let used = allNumeric ? max + 1 : 0;
    if (!allNumeric) {
      const seen = new Set<string>();
      for (const s of splits) for (const id of s.ids) seen.add(id);
      used = seen.size;
    }
    if (fixedCount > maxDeclaredCount(used)) {
      throw new IrllrecError(
        'limit',
        `${countName} = ${fixedCount} is over the limit of ${maxDeclaredCount(used)} for these files (2 × the ${used} ${kind} ids they use + 1024): a declared count may add ${kind}s without interactions, not size the model by itself`,
      );
    }
  }

  if (allNumeric && (fixedCount !== undefined || max + 1 <= 2 * distinct.size + 1024)) {
    const count = fixedCount ?? max + 1;
    const dense = splits.map((s) => {
      const out = new Uint32Array(s.ids.length);
      for (let k = 0; k < s.ids.length; k++) {
        const v = Number(s.ids[k]);
        if (v >= count) {
          throw new IrllrecError('range', `${s.source} line ${s.lines[k]}: ${kind} id ${v} is out of range (${countName} = ${count})`);
        }
        out[k] = v;
      }
      return out;
    });
    return { dense, count };
  }

  // String (or sparse numeric) ids: first appearance order. Numeric ids are keyed by value so "007" = "7".
  const map = new Map<string, number>();
  const names: string[] = [];
  const dense = splits.map((s) => {
    const out = new Uint32Array(s.ids.length);
    for (let k = 0; k < s.ids.length; k++) {
      const key = allNumeric ? String(Number(s.ids[k])) : s.ids[k];
      let d = map.get(key);
      if (d === undefined) {
        d = names.length;
        if (fixedCount !== undefined && d >= fixedCount) {
          throw new IrllrecError(
            'range',
            `${s.source} line ${s.lines[k]}: ${kind} '${s.ids[k]}' is distinct ${kind} number ${d + 1}, more than ${countName} = ${fixedCount}`,
          );
        }
        map.set(key, d);
        names.push(key);
      }
      out[k] = d;
    }
    return out;
  });
  return { dense, count: fixedCount ?? names.length, names };
}

/**
 * Sorts pairs by (user, item) and removes duplicates: a counting sort over users, then each user's item
 * segment sorted numerically. O(count + numUsers + Σ d·log d).
 */
export function sortDedup(numUsers: number, inter: Interactions): { inter: Interactions; duplicates: number } {
  const n = inter.users.length;
  // A declared user count (meta.json's `users`, up to 2^32 − 1) can dwarf the pairs: then a comparison
  // sort, O(n log n) time and O(n) memory, instead of a counting table of numUsers + 1 entries.
  if (numUsers > 2 * n + 1024) return sortDedupSparse(inter);
  const rowPtr = new Uint32Array(numUsers + 1);
  for (let k = 0; k < n; k++) rowPtr[inter.users[k] + 1]++;
  for (let u = 0; u < numUsers; u++) rowPtr[u + 1] += rowPtr[u];
  const fill = rowPtr.slice(0, numUsers);
  const items = new Uint32Array(n);
  for (let k = 0; k < n; k++) items[fill[inter.users[k]]++] = inter.items[k];
  const outUsers = new Uint32Array(n);
  const outItems = new Uint32Array(n);
  let w = 0;
  for (let u = 0; u < numUsers; u++) {
    const seg = items.subarray(rowPtr[u], rowPtr[u + 1]);
    seg.sort();
    for (let p = 0; p < seg.length; p++) {
      if (p > 0 && seg[p] === seg[p - 1]) continue;
      outUsers[w] = u;
      outItems[w] = seg[p];
      w++;
    }
  }
  return { inter: { users: outUsers.slice(0, w), items: outItems.slice(0, w) }, duplicates: n - w };
}

/** `sortDedup` by a comparison sort of the pair indices (memory O(pairs), whatever the id range). */
function sortDedupSparse(inter: Interactions): { inter: Interactions; duplicates: number } {
  const { users, items } = inter;
  const n = users.length;
  const sorted = Array.from({ length: n }, (_, k) => k).sort((a, b) => users[a] - users[b] || items[a] - items[b]);
  const outUsers = new Uint32Array(n);
  const outItems = new Uint32Array(n);
  let w = 0;
  for (const k of sorted) {
    if (w > 0 && outUsers[w - 1] === users[k] && outItems[w - 1] === items[k]) continue;
    outUsers[w] = users[k];
    outItems[w] = items[k];
    w++;
  }
  return { inter: { users: outUsers.slice(0, w), items: outItems.slice(0, w) }, duplicates: n - w };
}

/**
 * Membership test over ids < `count`: a byte table when `count` is within a small factor of the ids given,
 * else a Set (a declared count can be ~2^32, which a table of that size would not survive).
 */
function idSet(ids: Uint32Array, count: number): (id: number) => boolean {
  if (count <= 2 * ids.length + 1024) {
    const table = new Uint8Array(count);
    for (let k = 0; k < ids.length; k++) table[ids[k]] = 1;
    return (id) => table[id] === 1;
  }
  const set = new Set(ids);
  return (id) => set.has(id);
}

/** Number of pairs of `inter` that are also pairs of `ref` (both sorted by (user, item), deduplicated). */
function countCommonPairs(ref: Interactions, inter: Interactions): number {
  let a = 0;
  let common = 0;
  for (let k = 0; k < inter.users.length; k++) {
    const u = inter.users[k];
    const i = inter.items[k];
    while (a < ref.users.length && (ref.users[a] < u || (ref.users[a] === u && ref.items[a] < i))) a++;
    if (a < ref.users.length && ref.users[a] === u && ref.items[a] === i) common++;
  }
  return common;
}

/** Accepted-but-notable facts about the splits (library code never prints; callers may). */
function splitWarnings(ds: Pick<Dataset, 'numUsers' | 'numItems' | 'train' | 'val' | 'test'>, warnings: string[]): void {
  const inTrainItem = idSet(ds.train.items, ds.numItems);
  const inTrainUser = idSet(ds.train.users, ds.numUsers);
  for (const [name, split] of [['val', ds.val], ['test', ds.test]] as const) {
    let unseenItem = 0;
    let unseenUser = 0;
    for (let k = 0; k < split.items.length; k++) {
      if (!inTrainItem(split.items[k])) unseenItem++;
      if (!inTrainUser(split.users[k])) unseenUser++;
    }
    if (unseenItem > 0) warnings.push(`${name}: ${unseenItem} pairs have an item with no training interaction`);
    if (unseenUser > 0) warnings.push(`${name}: ${unseenUser} pairs have a user with no training interaction`);
    const common = countCommonPairs(ds.train, split);
    if (common > 0) warnings.push(`${name}: ${common} pairs also occur in train`);
  }
}

interface BuildOptions {
  name?: string;
  numUsers?: number;
  numItems?: number;
  /** How errors name the declared counts (default numUsers / numItems). */
  countNames?: { user: string; item: string };
  minRating?: number;
}

function datasetFromParsed(parsed: { train: ParsedRows; val?: ParsedRows; test?: ParsedRows }, opts: BuildOptions): Dataset {
  const splits = [parsed.train, parsed.val, parsed.test]
    .filter((p): p is ParsedRows => p !== undefined)
    .map((p) => filterRating(p, opts.minRating));
  if (splits[0].users.length === 0) throw new IrllrecError('data', `${parsed.train.source}: the training split has no interactions`);
  const users = resolveIds('user', splits.map((s) => ({ ids: s.users, lines: s.lines, source: s.source })), opts.numUsers, opts.countNames?.user);
  const items = resolveIds('item', splits.map((s) => ({ ids: s.items, lines: s.lines, source: s.source })), opts.numItems, opts.countNames?.item);
  const warnings: string[] = [];
  const empty: Interactions = { users: new Uint32Array(0), items: new Uint32Array(0) };
  const result: Interactions[] = [];
  let s = 0;
  for (const [label, p] of [['train', parsed.train], ['val', parsed.val], ['test', parsed.test]] as const) {
    if (!p) {
      result.push(empty);
      continue;
    }
    const { inter, duplicates } = sortDedup(users.count, { users: users.dense[s], items: items.dense[s] });
    if (duplicates > 0) warnings.push(`${label}: ${duplicates} duplicate pairs removed`);
    result.push(inter);
    s++;
  }
  const ds: Dataset = {
    name: opts.name ?? 'dataset',
    numUsers: users.count,
    numItems: items.count,
    train: result[0],
    val: result[1],
    test: result[2],
    text: {},
  };
  if (users.names) ds.userIds = users.names;
  if (items.names) ds.itemIds = items.names;
  splitWarnings(ds, warnings);
  if (warnings.length > 0) ds.warnings = warnings;
  return ds;
}

/**
 * Build a Dataset from split texts. Dense-id rule and string-id mapping: see `resolveIds` (string ids are
 * numbered in order of first appearance in train, then val, then test, and kept in userIds/itemIds). Each
 * split is sorted by (user, item) and deduplicated. Ids ≥ numUsers/numItems are errors naming the line;
 * val/test items absent from train are allowed and reported in `warnings`.
 */
export function datasetFromSplits(
  splits: { train: string; val?: string; test?: string },
  opts: { name?: string; numUsers?: number; numItems?: number; minRating?: number } = {},
): Dataset {
  return datasetFromParsed(
    {
      train: parseRows(splits.train, 'train'),
      val: splits.val === undefined ? undefined : parseRows(splits.val, 'val'),
      test: splits.test === undefined ? undefined : parseRows(splits.test, 'test'),
    },
    opts,
  );
}

/**
 * Seeded per-user random split of one interaction file (e.g. val 0.2, test 0.2). Users in dense-id order;
 * each user's distinct items, sorted by item id, are shuffled by Fisher–Yates with one `Rng(seed)` stream;
 * the first round(val·n) go to val, the next round(test·n) to test, the rest (at least one) to train.
 * With `dropUnseen` (default true) val/test pairs whose item has no training interaction are dropped, so
 * every evaluated item is in the training graph (as in the shared datasets); the count is in `warnings`.
 */
export function splitInteractions(
  text: string,
  opts: { seed: number; val: number; test: number; name?: string; minRating?: number; dropUnseen?: boolean; source?: string },
): Dataset {
  const { seed, val, test } = opts;
  if (!Number.isInteger(seed)) throw new IrllrecError('range', `splitInteractions: seed must be an integer, got ${seed}`);
  for (const [k, v] of [['val', val], ['test', test]] as const) {
    if (!Number.isFinite(v) || v < 0 || v >= 1) throw new IrllrecError('range', `splitInteractions: ${k} must be in [0, 1), got ${v}`);
  }
  if (val + test >= 1) throw new IrllrecError('range', `splitInteractions: val + test must be < 1, got ${val + test}`);
  const p = filterRating(parseRows(text, opts.source ?? opts.name ?? 'interactions'), opts.minRating);
  if (p.users.length === 0) throw new IrllrecError('data', `${p.source}: no interactions`);
  const users = resolveIds('user', [{ ids: p.users, lines: p.lines, source: p.source }], undefined);
  const items = resolveIds('item', [{ ids: p.items, lines: p.lines, source: p.source }], undefined);
  const numUsers = users.count;
  const numItems = items.count;
  const warnings: string[] = [];
  const { inter: all, duplicates } = sortDedup(numUsers, { users: users.dense[0], items: items.dense[0] });
  if (duplicates > 0) warnings.push(`${duplicates} duplicate pairs removed`);

  const rng = new Rng(seed);
  const parts = { train: [[], []] as number[][], val: [[], []] as number[][], test: [[], []] as number[][] };
  let k = 0;
  while (k < all.users.length) {
    const u = all.users[k];
    let end = k;
    while (end < all.users.length && all.users[end] === u) end++;
    const mine = rng.shuffle(all.items.slice(k, end));
    const n = mine.length;
    const nVal = Math.min(Math.round(val * n), n - 1);
    const nTest = Math.min(Math.round(test * n), n - 1 - nVal);
    for (let p2 = 0; p2 < n; p2++) {
      const part = p2 < nVal ? parts.val : p2 < nVal + nTest ? parts.test : parts.train;
      part[0].push(u);
      part[1].push(mine[p2]);
    }
    k = end;
  }
  if (opts.dropUnseen ?? true) {
    const seen = new Uint8Array(numItems);
    for (const i of parts.train[1]) seen[i] = 1;
    for (const name of ['val', 'test'] as const) {
      const [us, is] = parts[name];
      const keepU: number[] = [];
      const keepI: number[] = [];
      for (let q = 0; q < us.length; q++) {
        if (seen[is[q]]) {
          keepU.push(us[q]);
          keepI.push(is[q]);
        }
      }
      if (keepU.length < us.length) warnings.push(`${name}: ${us.length - keepU.length} pairs dropped (item has no training interaction)`);
      parts[name] = [keepU, keepI];
    }
  }
  const finish = (part: number[][]) => sortDedup(numUsers, { users: Uint32Array.from(part[0]), items: Uint32Array.from(part[1]) }).inter;
  const ds: Dataset = {
    name: opts.name ?? 'dataset',
    numUsers,
    numItems,
    train: finish(parts.train),
    val: finish(parts.val),
    test: finish(parts.test),
    text: {},
  };
  if (users.names) ds.userIds = users.names;
  if (items.names) ds.itemIds = items.names;
  splitWarnings(ds, warnings);
  if (warnings.length > 0) ds.warnings = warnings;
  return ds;
}

const EMBEDDING_FILES: { file: string; key: keyof TextEmbeddings; side: 'user' | 'item' }[] = [
  { file: 'user_profile.npy', key: 'userProfile', side: 'user' },
  { file: 'item_profile.npy', key: 'itemProfile', side: 'item' },
  { file: 'user_intent.npy', key: 'userIntent', side: 'user' },
  { file: 'item_intent.npy', key: 'itemIntent', side: 'item' },
];

function decodeText(file: string, content: string | Uint8Array): string {
  if (typeof content === 'string') return content;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    throw new IrllrecError('data', `${file}: not valid UTF-8 text`);
  }
}

/** meta.json's `users` / `items`: positive integers when present. */
function metaCount(meta: Record<string, unknown>, key: 'users' | 'items'): number | undefined {
  const v = meta[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_DENSE_ID + 1) {
    throw new IrllrecError('data', `meta.json: '${key}' must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * A dataset directory from named file contents (browser file inputs and Node share this). Keys:
 * 'train.tsv' (required), 'val.tsv', 'test.tsv', 'meta.json' (its `users`/`items` fix numUsers/numItems,
 * its `name` the default name), 'user_profile.npy', 'item_profile.npy', 'user_intent.npy',
 * 'item_intent.npy'. Other keys are ignored. Embedding row counts must equal numUsers / numItems.
 * The embedding matrices may share memory with the .npy bytes given (`parseNpy` with `share`).
 */
export function datasetFromFiles(files: Record<string, string | Uint8Array>, opts: { name?: string } = {}): Dataset {
  const train = files['train.tsv'];
  if (train === undefined) throw new IrllrecError('data', `datasetFromFiles: 'train.tsv' is missing (files given: ${Object.keys(files).join(', ') || 'none'})`);
  let meta: Record<string, unknown> = {};
  if (files['meta.json'] !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(decodeText('meta.json', files['meta.json']));
    } catch (e) {
      if (e instanceof IrllrecError) throw e;
      throw new IrllrecError('data', `meta.json: not valid JSON (${(e as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new IrllrecError('data', 'meta.json: expected a JSON object');
    meta = parsed as Record<string, unknown>;
  }
  const name = opts.name ?? (typeof meta.name === 'string' ? meta.name : 'dataset');
  const read = (file: string) => (files[file] === undefined ? undefined : parseRows(decodeText(file, files[file]), file));
  const ds = datasetFromParsed(
    { train: parseRows(decodeText('train.tsv', train), 'train.tsv'), val: read('val.tsv'), test: read('test.tsv') },
    { name, numUsers: metaCount(meta, 'users'), numItems: metaCount(meta, 'items'), countNames: { user: "meta.json 'users'", item: "meta.json 'items'" } },
  );
  const warnings = ds.warnings ?? [];
  for (const split of ['train', 'val', 'test'] as const) {
    const expected = meta[split];
    if (typeof expected === 'number' && files[`${split}.tsv`] !== undefined && expected !== ds[split].users.length) {
      warnings.push(`${split}.tsv: ${ds[split].users.length} distinct pairs, meta.json says ${expected}`);
    }
  }
  const text: TextEmbeddings = {};
  for (const { file, key, side } of EMBEDDING_FILES) {
    const content = files[file];
    if (content === undefined) continue;
    if (typeof content === 'string') throw new IrllrecError('data', `${file}: must be given as bytes (Uint8Array), got a string`);
    // The tables are views of the file bytes when their layout allows (no second copy of a 100 MB table).
    const m: Matrix = parseNpy(content, file, { share: true });
    const expected = side === 'user' ? ds.numUsers : ds.numItems;
    if (m.rows !== expected) {
      throw new IrllrecError(
        'shape',
        `${file}: ${m.rows} rows found, ${expected} expected (one per ${side}: ${side === 'user' ? 'numUsers' : 'numItems'} = ${expected})`,
      );
    }
    text[key] = m;
  }
  ds.text = text;
  if (warnings.length > 0) ds.warnings = warnings;
  return ds;
}
