// Preloaded into CLI child processes by hostile-cli.test.ts (`node --import`): reports the process's peak
// resident set size (kilobytes) on stderr as it exits, so a test can bound the memory a hostile input drove.
process.on('exit', () => process.stderr.write(`\nmaxrss-kb ${process.resourceUsage().maxRSS}\n`));
