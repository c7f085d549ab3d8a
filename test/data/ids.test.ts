import { describe, expect, it } from 'vitest';
import { IdMap } from '../../src/data/ids.js';
import { IrllrecError } from '../../src/errors.js';

describe('IdMap (original ids ↔ dense indices)', () => {
  it('translates both ways with a list of original ids; numbers stand for their decimal string', () => {
    const m = new IdMap('item', 4, ['B00X', '42', 'z', '7']);
    expect(m.index('B00X')).toBe(0);
    expect(m.index('42')).toBe(1);
    expect(m.index(42)).toBe(1);
    expect(m.index(7)).toBe(3);
    expect(m.id(2)).toBe('z');
    expect(m.ids([3, 0])).toEqual(['7', 'B00X']);
    expect(m.has('z')).toBe(true);
    expect(m.has('Z')).toBe(false);
  });

  it('without a list, the ids are the indices written in decimal', () => {
    const m = new IdMap('user', 12);
    expect(m.index('11')).toBe(11);
    expect(m.index(3)).toBe(3);
    expect(m.id(5)).toBe('5');
    for (const bad of ['12', '-1', '03', '1.5', '', ' 1', 'x']) expect(() => m.index(bad), bad).toThrow(IrllrecError);
    expect(m.has('12')).toBe(false);
  });

  it('names the unknown id, the argument and the id space in its error', () => {
    const m = new IdMap('user', 3, ['a', 'b', 'c']);
    expect(() => m.index('d', 'recommend: user at position 2')).toThrow(/recommend: user at position 2: unknown user id 'd' \(3 users, e\.g\. 'a'\)/);
    expect(() => m.index(0)).toThrow(/unknown user id '0'/);
    expect(() => m.id(3)).toThrow(/user index 3 is out of range \(0…2\)/);
  });

  it('refuses lists of the wrong length and repeated ids', () => {
    expect(() => new IdMap('item', 3, ['a', 'b'])).toThrow(/2 ids for 3 items/);
    expect(() => new IdMap('item', 3, ['a', 'b', 'a'])).toThrow(/'a' names both 0 and 2/);
  });
});
