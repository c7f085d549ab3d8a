/**
 * Progress on stderr for the CLI. On a terminal: one live line redrawn in place. Elsewhere (logs, CI, a
 * pipe): the live line is printed as a plain line at most every `everyMs` (default 5 s, or the environment
 * variable IRLLREC_PROGRESS_MS), so long runs show signs of life between epochs. Permanent lines (`log`) are
 * always printed. `quiet` prints nothing.
 */
export interface ProgressOptions {
  quiet?: boolean;
  /** Whether stderr is a terminal (default: process.stderr.isTTY). */
  tty?: boolean;
  everyMs?: number;
  write?: (text: string) => void;
  now?: () => number;
}

export const DEFAULT_PROGRESS_MS = 5000;

export class Progress {
  private readonly quiet: boolean;
  private readonly tty: boolean;
  private readonly everyMs: number;
  private readonly write: (text: string) => void;
  private readonly now: () => number;
  private lastPrinted = -Infinity;
  private live = false;

  constructor(opts: ProgressOptions = {}) {
    this.quiet = opts.quiet ?? false;
    this.tty = opts.tty ?? Boolean(process.stderr.isTTY);
    const env = Number(process.env.IRLLREC_PROGRESS_MS);
    this.everyMs = opts.everyMs ?? (env > 0 ? env : DEFAULT_PROGRESS_MS);
    this.write = opts.write ?? ((t) => process.stderr.write(t));
    this.now = opts.now ?? Date.now;
  }

  /** A transient status line. */
  update(line: string): void {
    if (this.quiet) return;
    if (this.tty) {
      this.write(`\r\x1b[2K${line}`);
      this.live = true;
      return;
    }
    const t = this.now();
    if (t - this.lastPrinted < this.everyMs) return;
    this.lastPrinted = t;
    this.write(`${line}\n`);
  }

  /** A permanent line (replaces the live line on a terminal). */
  log(line: string): void {
    if (this.quiet) return;
    this.write(`${this.live ? '\r\x1b[2K' : ''}${line}\n`);
    this.live = false;
  }
}

/** "1h02m", "3m05s", "12.3s". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Rate and time left for `done` of `total` units after `seconds` (units counted from this process's start):
 * "12.3 steps/s, ETA 1m05s".
 */
export function rateAndEta(done: number, total: number, seconds: number, unit: string): string {
  if (done <= 0 || seconds <= 0) return `— ${unit}/s`;
  const rate = done / seconds;
  const r = rate >= 100 ? rate.toFixed(0) : rate >= 1 ? rate.toFixed(1) : rate.toPrecision(2);
  return `${r} ${unit}/s, ETA ${duration(Math.max(0, total - done) / rate)}`;
}
