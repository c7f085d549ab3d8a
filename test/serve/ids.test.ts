import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/data/graph.js';
import type { Interactions } from '../../src/data/types.js';
import { IrllrecError } from '../../src/errors.js';
import { serializeModel } from '../../src/io/modelfile.js';
import { modelConfig } from '../../src/models/config.js';
import { RecModel } from '../../src/models/model.js';
import { Recommender } from '../../src/serve/recommender.js';
import { Rng } from '../../src/util/random.js';
import { cpu } from '../helpers.js';

// Original ids as the data files might have them: users 'u<n>' in a shuffled order, items numeric strings
// that are NOT their dense indices (so that an id read as an index gives a different, checkable answer).
const NU = 23;
const NI = 41;
const USER_IDS = Array.from({ length: NU }, (_, u) => `u${(u * 7) % NU}`);
const ITEM_IDS = Array.from({ length: NI }, (_, i) => String(1000 - 3 * i));

function makeTrain(): Interactions {
  const r = new Rng(3);
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < NU; u++) {
    const s = new Set<number>();
    while (s.size < 4) s.add(r.int(NI));
    for (const i of [...s].sort((a, b) => a - b)) {
      users.push(u);
      items.push(i);
    }
  }
  return { users: Uint32Array.from(users), items: Uint32Array.from(items) };
}
const TRAIN = makeTrain();

async function load(withIds: boolean): Promise<Recommender> {
  const be = cpu('f32');
  const r = new Rng(8);
  const text = (rows: number, cols: number) => ({ rows, cols, data: Float32Array.from({ length: rows * cols }, () => r.uniform(-1, 1)) });
  const data = { numUsers: NU, numItems: NI, graph: buildGraph({ numUsers: NU, numItems: NI, train: TRAIN }), text: { userProfile: text(NU, 6), itemProfile: text(NI, 6), userIntent: text(NU, 5), itemIntent: text(NI, 5) } };
  const m = RecModel.create(be, modelConfig('irllrec', 'default', { embeddingDim: 8, numIntents: 4, layers: 2 }), data, { seed: 4 });
  const bytes = await serializeModel(m, withIds ? { train: TRAIN, userIds: USER_IDS, itemIds: ITEM_IDS } : { train: TRAIN });
  m.dispose();
  return Recommender.load(bytes, { backend: be });
}

async function rejects(p: Promise<unknown>, message: RegExp): Promise<void> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e, 'expected an error').toBeInstanceOf(IrllrecError);
  expect((e as Error).message).toMatch(message);
}

describe('Recommender with original ids (strings) next to dense indices (numbers)', () => {
  it('recommend, similarItems, similarUsers: a string is an original id; results carry both kinds of id', async () => {
    const rec = await load(true);
    const u = 5;
    const byIndex = await rec.recommend(u, { k: 7 });
    const byId = await rec.recommend(USER_IDS[u], { k: 7 });
    expect(Array.from(byId.ids)).toEqual(Array.from(byIndex.ids));
    expect(byId.originalIds).toEqual(Array.from(byIndex.ids, (i) => ITEM_IDS[i]));
    // lists mix both kinds
    const [a, b] = await rec.recommend([USER_IDS[2], 9], { k: 3 });
    expect(Array.from(a.ids)).toEqual(Array.from((await rec.recommend(2, { k: 3 })).ids));
    expect(Array.from(b.ids)).toEqual(Array.from((await rec.recommend(9, { k: 3 })).ids));
    // a filter by original ids
    const allowed = [ITEM_IDS[1], ITEM_IDS[4], ITEM_IDS[30]];
    const f = await rec.recommend(USER_IDS[u], { k: 5, filter: allowed, excludeSeen: false });
    expect([...f.originalIds].sort()).toEqual([...allowed].sort());
    const pred = await rec.recommend(u, { k: 5, filter: (_i, id) => allowed.includes(id), excludeSeen: false });
    expect(pred.originalIds).toEqual(f.originalIds);
    const si = await rec.similarItems(ITEM_IDS[6], 4);
    expect(Array.from(si.ids)).toEqual(Array.from((await rec.similarItems(6, 4)).ids));
    expect(si.originalIds).toEqual(Array.from(si.ids, (i) => ITEM_IDS[i]));
    expect(si.ids).not.toContain(6);
    const su = await rec.similarUsers(USER_IDS[3], 4);
    expect(su.originalIds).toEqual(Array.from(su.ids, (i) => USER_IDS[i]));
    expect(Array.from(su.ids)).toEqual(Array.from((await rec.similarUsers(3, 4)).ids));
    expect(rec.users.index(USER_IDS[11])).toBe(11);
    expect(rec.items.id(2)).toBe(ITEM_IDS[2]);
    rec.dispose();
  });

  it('explain and personalize take original ids and name items both ways', async () => {
    const rec = await load(true);
    const e = await rec.explain(USER_IDS[4], ITEM_IDS[10], { becauseOf: 3 });
    const same = await rec.explain(4, 10, { becauseOf: 3 });
    expect(e.item).toBe(10);
    expect(e.itemId).toBe(ITEM_IDS[10]);
    expect(e.score).toBe(same.score);
    expect(e.becauseOf.length).toBeGreaterThan(0);
    for (const b of e.becauseOf) expect(b.itemId).toBe(ITEM_IDS[b.item]);
    expect(e.intents.length).toBeGreaterThan(0);
    for (const c of e.intents) expect(c.exampleIds).toEqual(Array.from(c.examples, (i) => ITEM_IDS[i]));
    const p1 = await rec.personalize({ items: [ITEM_IDS[3], ITEM_IDS[8], 20] });
    const p2 = await rec.personalize({ items: [3, 8, 20] });
    expect(Array.from(p1.items)).toEqual([3, 8, 20]);
    expect(Array.from(p1.vector)).toEqual(Array.from(p2.vector));
    rec.dispose();
  });

  it('unknown ids are errors naming the id and the argument', async () => {
    const rec = await load(true);
    await rejects(rec.recommend('nobody'), /recommend: user: unknown user id 'nobody' \(23 users/);
    await rejects(rec.recommend([USER_IDS[0], 'x9']), /user at position 1: unknown user id 'x9'/);
    await rejects(rec.similarItems('5'), /similarItems: item: unknown item id '5'/);
    await rejects(rec.explain(0, ['nope']), /explain: item at position 0: unknown item id 'nope'/);
    await rejects(rec.recommend(0, { filter: ['zz'] }), /filter item: unknown item id 'zz'/);
    await rejects(rec.personalize({ items: ['q'] }), /personalize: item at position 0: unknown item id 'q'/);
    await rejects(rec.recommend(NU), /not a user index \(0…22\)/);
    rec.dispose();
  });

  it('without original ids, a string is the decimal index (and never an array of characters)', async () => {
    const rec = await load(false);
    const r = await rec.recommend('12', { k: 4 });
    expect(Array.from(r.ids)).toEqual(Array.from((await rec.recommend(12, { k: 4 })).ids));
    expect(r.originalIds).toEqual(Array.from(r.ids, String));
    await rejects(rec.recommend('23'), /unknown user id '23'/);
    rec.dispose();
  });

  it('ids of the wrong length are refused before any table is built', async () => {
    const be = cpu('f32');
    const m = RecModel.create(be, modelConfig('lightgcn', 'default', { embeddingDim: 8, layers: 1 }), { numUsers: NU, numItems: NI, graph: buildGraph({ numUsers: NU, numItems: NI, train: TRAIN }) }, { seed: 4 });
    await rejects(Recommender.fromModel(m, { interactions: TRAIN, itemIds: ITEM_IDS.slice(1) }), /40 ids for 41 items/);
    m.dispose();
  });
});
