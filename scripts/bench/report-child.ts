// The report as scenario-report.ts runs it: runReport on this process's argv and stdio, then one
// JSON line on stderr with what the process used (peak RSS, CPU), measured by the process itself.
// Bundled into .bench/ as CommonJS (no top-level await), the way dist/lm-proxy.cjs ships.

import { runReport } from '../../src/report/report-command.ts';

process.on('exit', () => {
  const usage = process.resourceUsage();
  process.stderr.write(`${JSON.stringify({ bench: { maxRssKb: usage.maxRSS, userMs: usage.userCPUTime / 1000, systemMs: usage.systemCPUTime / 1000 } })}\n`);
});

void runReport(process.argv.slice(2), process).then((code) => {
  process.exitCode = code;
});
