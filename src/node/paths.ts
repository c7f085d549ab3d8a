/**
 * Paths from the user: bounded reads of regular files only, output paths checked before the work that
 * produces them, and text echoed from files made safe for a terminal. Every failure is an
 * IrllrecError('io' or 'limit') naming the path as the user gave it.
 */
import { constants } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { IrllrecError } from '../errors.js';

/** Whatever `maxBytes` a caller gives, text files over this are refused (a JS string holds at most ~2^29 characters). */
export const MAX_TEXT_FILE_BYTES = 512 * 1024 * 1024;

function ioError(path: string, what: string, e: unknown): IrllrecError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
  return new IrllrecError('io', `${path}: cannot read the ${what} (${why})`, { cause: e });
}

/**
 * Read a file that must be a regular file of at most `maxBytes` bytes. The file is opened without blocking
 * (a FIFO does not hang the open) and checked through its handle (no swap between the check and the read):
 * a directory, FIFO, socket or device is an 'io' error, a larger file a 'limit' error, both naming the path.
 */
export async function readBounded(path: string, maxBytes: number, what: string): Promise<Uint8Array> {
  if (path === '') throw new IrllrecError('io', `empty path given for the ${what}`);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw ioError(path, what, e);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
      throw new IrllrecError('io', `${path}: the ${what} must be a regular file, this is ${kind}`);
    }
    if (st.size > maxBytes) throw new IrllrecError('limit', `${path}: the ${what} has ${st.size} bytes, more than maxBytes = ${maxBytes}`);
    const out = new Uint8Array(st.size);
    let at = 0;
    while (at < out.length) {
      const { bytesRead } = await handle.read(out, at, out.length - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    // A file that shrank while being read is reported, not returned torn.
    if (at !== out.length) throw new IrllrecError('io', `${path}: the ${what} changed while being read (${at} of ${st.size} bytes)`);
    return out;
  } catch (e) {
    throw e instanceof IrllrecError ? e : ioError(path, what, e);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** `readBounded` decoded as UTF-8 text (invalid UTF-8 is a 'data' error naming the path). */
export async function readBoundedText(path: string, maxBytes: number, what: string): Promise<string> {
  const bytes = await readBounded(path, Math.min(maxBytes, MAX_TEXT_FILE_BYTES), what);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new IrllrecError('data', `${path}: the ${what} is not valid UTF-8 text`);
  }
}

/**
 * Check that `path` can be written before any work that produces it: not empty, not a directory, its
 * directory exists and is writable. `flag` names the option in the error (e.g. '--out').
 */
export async function checkOutputPath(path: string, flag: string): Promise<void> {
  if (path === '') throw new IrllrecError('io', `${flag}: empty path`);
  const existing = await stat(path).catch(() => null);
  if (existing?.isDirectory()) throw new IrllrecError('io', `${flag} ${path}: is a directory, expected a file path`);
  const dir = dirname(resolve(path));
  const st = await stat(dir).catch(() => null);
  if (!st) throw new IrllrecError('io', `${flag} ${path}: the directory ${dir} does not exist`);
  if (!st.isDirectory()) throw new IrllrecError('io', `${flag} ${path}: ${dir} is not a directory`);
  try {
    await access(dir, constants.W_OK);
    if (existing) await access(path, constants.W_OK);
  } catch {
    throw new IrllrecError('io', `${flag} ${path}: not writable (permission denied)`);
  }
}

/**
 * Text from files (ids, names, error messages quoting them) made safe to print: C0/C1 control characters,
 * DEL and the bidirectional overrides are shown as \xNN / \uNNNN escapes instead of being sent to the
 * terminal (where ESC sequences could move the cursor, rewrite lines or set the window title). Tab and
 * newline are kept when `keepLayout` (our own messages), escaped otherwise.
 */
export function terminalSafe(text: string, keepLayout = false): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (ch) => {
    if (keepLayout && (ch === '\n' || ch === '\t')) return ch;
    const c = ch.charCodeAt(0);
    return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
  });
}

/**
 * `JSON.stringify` for a terminal: JSON already escapes C0 controls, and this also escapes DEL, the C1
 * controls (U+009B is a CSI in UTF-8 terminals) and the bidirectional overrides as \uXXXX — still the same
 * JSON value for any parser.
 */
export function terminalSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
