/** Executable entry of the `irllrec` command (bundled to dist/cli.js). */
import { main } from './cli.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`irllrec: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
