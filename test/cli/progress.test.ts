import { describe, expect, it } from 'vitest';
import { Progress, duration, rateAndEta } from '../../src/node/cli-progress.js';

function capture(tty: boolean, quiet = false) {
  const out: string[] = [];
  let t = 0;
  const p = new Progress({ tty, quiet, everyMs: 1000, write: (s) => out.push(s), now: () => t });
  return { p, out, at: (ms: number) => (t = ms) };
}

describe('CLI progress lines', () => {
  it('on a terminal: the live line is redrawn in place and a log line replaces it', () => {
    const { p, out } = capture(true);
    p.update('step 1');
    p.update('step 2');
    p.log('epoch 0 done');
    p.log('next');
    expect(out).toEqual(['\r\x1b[2Kstep 1', '\r\x1b[2Kstep 2', '\r\x1b[2Kepoch 0 done\n', 'next\n']);
  });

  it('without a terminal: a plain line at most every everyMs, log lines always', () => {
    const { p, out, at } = capture(false);
    p.update('a');
    at(500);
    p.update('b');
    at(1000);
    p.update('c');
    p.log('L');
    at(1999);
    p.update('d');
    at(2000);
    p.update('e');
    expect(out).toEqual(['a\n', 'c\n', 'L\n', 'e\n']);
  });

  it('quiet prints nothing', () => {
    const { p, out } = capture(true, true);
    p.update('x');
    p.log('y');
    expect(out).toEqual([]);
  });

  it('formats rates and times left', () => {
    expect(duration(12.34)).toBe('12.3s');
    expect(duration(185)).toBe('3m05s');
    expect(duration(3725)).toBe('1h02m');
    expect(rateAndEta(50, 150, 10, 'steps')).toBe('5.0 steps/s, ETA 20.0s');
    expect(rateAndEta(3000, 4000, 2, 'users')).toBe('1500 users/s, ETA 0.7s');
    expect(rateAndEta(0, 10, 0, 'steps')).toBe('— steps/s');
  });
});
