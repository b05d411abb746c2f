// A tiny `lm-proxy report` for tests/report/report-command.test.ts to spawn: the CLI's wiring
// is not this folder's, and one real process is enough to see stdin, stdout and exit codes.

import { runReport } from '../../src/report/report-command.ts';

process.exitCode = await runReport(process.argv.slice(2), process);
