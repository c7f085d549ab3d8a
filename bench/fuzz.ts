// Loader fuzzing at scale: `node bench/run.mjs bench/fuzz.ts --cases 10000 [--seed N]` (npm run fuzz).
// Prints, per loader, how many mutated inputs loaded (valid) and how many were refused with a typed
// IrllrecError (by code), the slowest case and the largest arrayBuffers growth; exits 1 on any failure
// (another exception type, a case over 2 s, or an allocation the input size does not justify). Then the
// structure-aware targets (test/reliability/fuzz-use.ts), whose edited model files, checkpoints and datasets
// go on to Recommender.load / fit for one step / recommend, with the process's peak RSS.
import { fuzzTarget, fuzzTargets } from '../test/reliability/fuzz.js';
import { fuzzUse, useTargets } from '../test/reliability/fuzz-use.js';

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const v = Number(process.argv[at + 1]);
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer, got ${process.argv[at + 1]}`);
  return v;
}

const cases = arg('cases', 10_000);
const seed = arg('seed', 1);
let failed = 0;
console.log(`fuzz: ${cases} cases per loader, seed ${seed}`);
console.log('| loader | cases | valid | typed error (by code) | failures | slowest case | max arrayBuffers growth | total |');
console.log('|---|---:|---:|---|---:|---:|---:|---:|');
for (const target of await fuzzTargets()) {
  const r = fuzzTarget(target, cases, seed);
  failed += r.failures.length;
  const codes = Object.entries(r.codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
  console.log(
    `| ${r.target} | ${r.cases} | ${r.valid} | ${r.typed} (${codes}) | ${r.failures.length} | ${r.maxCaseMs.toFixed(1)} ms | ${(r.maxGrowth / 1024).toFixed(0)} KiB | ${(r.totalMs / 1000).toFixed(1)} s |`,
  );
  for (const f of r.failures.slice(0, 5)) console.log(`  FAIL case ${f.caseIndex} [${f.mutations.join(' + ')}] (${f.input.length} bytes): ${f.problem}`);
}
console.log('');
console.log('| structure-aware target (used end to end) | cases | correct result | typed error (by code) | failures | slowest case | max arrayBuffers growth | peak RSS | total |');
console.log('|---|---:|---:|---|---:|---:|---:|---:|---:|');
for (const target of await useTargets()) {
  const r = await fuzzUse(target, cases, seed);
  failed += r.failures.length;
  const codes = Object.entries(r.codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
  console.log(
    `| ${r.target} | ${r.cases} | ${r.valid} | ${r.typed} (${codes}) | ${r.failures.length} | ${r.maxCaseMs.toFixed(1)} ms | ${(r.maxGrowth / 1024).toFixed(0)} KiB | ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB | ${(r.totalMs / 1000).toFixed(1)} s |`,
  );
  for (const f of r.failures.slice(0, 5)) console.log(`  FAIL case ${f.caseIndex} [${f.mutations.join(' + ')}]: ${f.problem}`);
}
if (failed > 0) {
  console.log(`${failed} failing cases`);
  process.exitCode = 1;
}
