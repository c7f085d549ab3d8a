/**
 * Original ids ↔ dense indices. Loaders turn the ids of a data set's files (strings or numbers, any order,
 * with gaps) into dense indices 0…n−1 (`Dataset.userIds` / `itemIds` keep the originals, and model files
 * carry them); an `IdMap` translates both ways. Without a list of originals the ids are the dense indices
 * themselves, written in decimal ('0', '1', …). Browser-safe.
 */
import { IrllrecError } from '../errors.js';

/** An original user or item id: a string, or a number that stands for its decimal string. */
export type OriginalId = string | number;

const DECIMAL = /^(0|[1-9]\d*)$/;

export class IdMap {
  /** Number of users or items. */
  readonly size: number;
  /** 'user' or 'item': how errors name the ids. */
  readonly what: string;
  /** The original ids by dense index, or null when they are the indices themselves. */
  readonly list: readonly string[] | null;
  private readonly lookup: Map<string, number> | null = null;

  /** `ids[i]` is the original id of dense index i (length `size`, no repeats); omitted: ids are the indices. */
  constructor(what: string, size: number, ids?: readonly string[] | null) {
    if (!Number.isInteger(size) || size < 0) throw new IrllrecError('range', `${what} ids: size must be a non-negative integer, got ${size}`);
    if (ids && ids.length !== size) throw new IrllrecError('shape', `${what} ids: ${ids.length} ids for ${size} ${what}s`);
    this.what = what;
    this.size = size;
    this.list = ids ?? null;
    if (ids) {
      this.lookup = new Map();
      ids.forEach((id, i) => {
        if (typeof id !== 'string') throw new IrllrecError('data', `${what} ids: entry ${i} is a ${typeof id}, not a string`);
        if (this.lookup!.has(id)) throw new IrllrecError('data', `${what} ids: '${id}' names both ${this.lookup!.get(id)} and ${i}`);
        this.lookup!.set(id, i);
      });
    }
  }

  /** The dense index of an original id; an unknown id is an IrllrecError naming it (`where`: the argument). */
  index(id: OriginalId, where = this.what): number {
    const key = typeof id === 'number' ? (Number.isFinite(id) ? String(id) : '') : id;
    if (typeof key !== 'string') throw new IrllrecError('range', `${where}: expected a ${this.what} id (string or number), got ${typeof id}`);
    let i: number | undefined;
    if (this.lookup) i = this.lookup.get(key);
    else if (DECIMAL.test(key) && Number(key) < this.size) i = Number(key);
    if (i === undefined) throw new IrllrecError('range', `${where}: unknown ${this.what} id '${key}' (${this.size} ${this.what}s${this.list ? `, e.g. '${this.list[0]}'` : `, ids 0…${this.size - 1}`})`);
    return i;
  }

  /** Whether `id` is an original id of this map. */
  has(id: OriginalId): boolean {
    const key = String(id);
    return this.lookup ? this.lookup.has(key) : DECIMAL.test(key) && Number(key) < this.size;
  }

  /** The original id of a dense index. */
  id(index: number): string {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) throw new IrllrecError('range', `${this.what} index ${index} is out of range (0…${this.size - 1})`);
    return this.list ? this.list[index] : String(index);
  }

  /** Original ids of dense indices. */
  ids(indices: ArrayLike<number>): string[] {
    return Array.from(indices, (i) => this.id(i));
  }
}
