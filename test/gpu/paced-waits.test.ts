import { afterAll, describe, expect, it } from 'vitest';
import { GpuContext, WaitPacer } from '../../src/gpu/device.js';
import { gpu } from '../helpers.js';

/** A pacer on a fake clock: sleeps and work advance the clock; returns the sleeps it asked for. */
function fakePacer() {
  let clock = 0;
  const sleeps: number[] = [];
  const pacer = new WaitPacer({ now: () => clock, sleep: async (ms) => void (sleeps.push(ms), (clock += ms)) });
  /** A wait whose work finishes `workMs` after the submit (the sleep counts towards it). */
  const wait = (site: string, workMs: number) => {
    const t0 = clock;
    return pacer.wait(site, async () => {
      clock = Math.max(clock, t0 + workMs);
      return site;
    });
  };
  return { sleeps, wait };
}

// Dawn's Node binding polls on the main thread while a map is pending; a paced context sleeps through most of a
// long wait before it starts polling (src/gpu/device.ts).
describe('paced GPU waits', () => {
  afterAll(async () => (await gpu()).destroy());

  it('sleeps 0.85 of the recent waits at the same site, settles near the work time, and follows it down', async () => {
    const { sleeps, wait } = fakePacer();
    expect(await wait('step', 100)).toBe('step');
    expect(sleeps).toEqual([]); // nothing known yet
    await wait('step', 100);
    expect(sleeps).toEqual([85]);
    await wait('step', 100);
    expect(sleeps[1]).toBeCloseTo(85); // the wait was 100 again: polled only for the last 15
    await wait('other', 100);
    expect(sleeps.length).toBe(2); // sites are separate
    // The work got short: the sleeps shrink by the factor each time, and a short wait is not paced at all.
    for (let k = 0; k < 30; k++) await wait('step', 0);
    expect(sleeps[2]).toBeCloseTo(85);
    expect(sleeps[3]).toBeCloseTo(0.85 * 85);
    expect(sleeps.at(-1)!).toBeGreaterThanOrEqual(2 * 0.85);
    expect(sleeps.length).toBeLessThan(32);
    const n = sleeps.length;
    await wait('step', 0);
    expect(sleeps.length).toBe(n);
  });

  it('one long outlier (a suspended process) does not make the next waits sleep long', async () => {
    const { sleeps, wait } = fakePacer();
    await wait('step', 100);
    await wait('step', 100);
    await wait('step', 600_000);
    await wait('step', 100);
    expect(sleeps.slice(-1)[0]).toBeCloseTo(85);
    // Work that really got longer is followed once it is the shorter of the last three.
    for (let k = 0; k < 3; k++) await wait('step', 1000);
    await wait('step', 1000);
    expect(sleeps.slice(-1)[0]).toBeCloseTo(850);
  });

  it('an unpaced context starts a wait at once; readbacks through the (paced) test backend are unchanged', async () => {
    const be = await gpu();
    const unpaced = GpuContext.fromDevice(be.ctx.device, undefined, { pacedWaits: false });
    let started = false;
    const p = unpaced.waitFor('x', async () => void (started = true));
    expect(started).toBe(true);
    await p;
    const t = be.tensor([1, 2, 3, 5, 8], [5]);
    for (let k = 0; k < 3; k++) expect([...(await be.read(t))]).toEqual([1, 2, 3, 5, 8]);
    t.dispose();
  });
});
