/**
 * Executable entry of the `irllrec` command (bundled to dist/cli.js).
 *
 * Dawn prints two "artificially reduced" limit warnings from native code (fprintf to file descriptor 2) when
 * it enumerates adapters on some drivers (lavapipe among them): JavaScript cannot intercept those writes. So,
 * unless --verbose is given, the command runs itself as a child whose stderr goes through a filter that drops
 * exactly those lines; the child is told whether the real stderr is a terminal (progress lines depend on it).
 */
import { spawn } from 'node:child_process';
import { main } from './cli.js';

const CHILD = 'IRLLREC_STDERR_FILTERED';
/** The lines Dawn writes on its own (see above); everything else passes through unchanged. */
const DAWN_LIMIT_WARNING = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced[^\n]*\n/gm;

function run(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`irllrec: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}

const argv = process.argv.slice(2);
const tty = process.env[CHILD];
if (tty !== undefined) {
  delete process.env[CHILD];
  if (tty) Object.assign(process.stderr, { isTTY: true, columns: Number(tty) });
  // The IPC channel closes when the parent dies, also by SIGKILL: the child must not outlive it (an orphan would
  // go on training and writing files after `kill -9` of the command).
  process.on('disconnect', () => process.exit(137));
  process.channel?.unref();
  run(argv);
} else if (argv.includes('--verbose')) {
  run(argv);
} else {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...argv], {
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, [CHILD]: process.stderr.isTTY ? String(process.stderr.columns || 80) : '' },
  });
  const stderr = child.stderr!;
  stderr.setEncoding('utf8');
  stderr.on('data', (text: string) => process.stderr.write(text.replace(DAWN_LIMIT_WARNING, '')));
  // Ctrl-C reaches both processes (one process group): the child handles it, the parent waits for its code.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('close', (code) => process.exit(code ?? 1));
}
