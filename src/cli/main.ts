// The command line: `lm-proxy report …` reads ledgers (SPEC §11, src/report/); anything
// else reads argv and the environment, prints help, the version or configuration errors
// (exit 2), starts the proxy, and shuts it down gracefully on SIGTERM or SIGINT (exit 0).
// Everything else lives in app.ts and below.

import { ListenError, startApp } from './app.ts';
import { formatListenAddress, parseConfig, renderHelp, type LogFormat } from '../config/config.ts';
import { LedgerOpenError, openLedger, type Ledger } from '../recording/ledger.ts';
import { openPriceBook, type PriceBook } from './price-book.ts';
import { createLogger } from '../recording/logger.ts';
import { VERSION } from '../config/version.ts';
import { runReport } from '../report/report-command.ts';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'report') {
    process.exitCode = await runReport(argv.slice(1), process);
    return;
  }
  const outcome = parseConfig(argv, process.env);
  if (outcome.kind === 'help') {
    process.stdout.write(renderHelp(VERSION));
    return;
  }
  if (outcome.kind === 'version') {
    process.stdout.write(VERSION + '\n');
    return;
  }
  if (outcome.kind === 'error') {
    exitWithUsageErrors(outcome.errors, outcome.logFormat);
    return;
  }

  const config = outcome.config;
  const logger = createLogger(config.logFormat, process.stdout, process.stderr);
  let ledger: Ledger | null = null;
  if (config.usageLog !== null) {
    try {
      // Opened before anything starts: a ledger that cannot be written is a bad value (SPEC §8).
      ledger = openLedger(config.usageLog, (message) => logger.error(message));
    } catch (err) {
      if (!(err instanceof LedgerOpenError)) throw err;
      exitWithUsageErrors([err.message], config.logFormat);
      return;
    }
  }
  let prices: PriceBook | null = null;
  if (config.pricesFile !== null) {
    const opened = openPriceBook(config.pricesFile);
    if (!opened.ok) {
      exitWithUsageErrors([`lm-proxy: invalid PRICES_FILE ${JSON.stringify(config.pricesFile)}: ${opened.problem}`], config.logFormat);
      return;
    }
    prices = opened.book;
    logger.info('Prices loaded:', { file: config.pricesFile, entries: opened.load.entries, priced: opened.load.priced, skipped: opened.load.skipped });
  }
  logger.info('Starting lm-proxy...', config.logFormat === 'json' ? { version: VERSION } : undefined);
  logger.info('Proxy configured:', { upstream: config.upstream.href, listen: formatListenAddress(config.listen) });

  let app;
  try {
    app = await startApp(config, logger, { ledger, prices });
  } catch (err) {
    if (err instanceof ListenError) {
      logger.error(err.message);
      logger.flush();
      process.exitCode = 1;
      return;
    }
    throw err;
  }
  logger.info(`Listening on ${app.address}`);
  if (app.metricsAddress !== null) logger.info(`Metrics on ${app.metricsAddress}`);

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal means "now": exit without waiting for the grace period.
      logger.warn(`${signal} again: exiting at once`);
      logger.flush();
      process.exit(130);
    }
    stopping = true;
    logger.info(`${signal} received: shutting down`, { grace_ms: config.shutdownGraceMs });
    app.stop().then(
      ({ cut }) => {
        if (cut > 0) logger.warn(`Shutdown grace period over: cut ${cut} connection${cut === 1 ? '' : 's'} still in flight`);
        logger.info('Stopped');
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error('shutdown failed', { error: err instanceof Error ? err.message : String(err) });
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const book = prices;
  if (book !== null) {
    // SPEC §9: SIGHUP reads the price file again; a bad file keeps the table in use.
    process.on('SIGHUP', () => {
      const read = book.reload();
      if (read.ok) logger.info('Prices reloaded:', { file: config.pricesFile, entries: read.entries, priced: read.priced, skipped: read.skipped });
      else logger.error(`Prices not reloaded: PRICES_FILE ${JSON.stringify(config.pricesFile)}: ${read.problem}; the previous table stays in use`);
    });
  }
}

/** Bad values: one stderr line each (JSON in json format), exit 2 (SPEC §2). */
function exitWithUsageErrors(lines: readonly string[], format: LogFormat): void {
  // One line each, whatever they quote (a price file's JSON.parse message quotes its bytes).
  for (const line of lines.map((text) => text.replace(/\r/g, '\\r').replace(/\n/g, '\\n'))) {
    process.stderr.write(
      format === 'json' ? JSON.stringify({ level: 'error', time: new Date().toISOString(), msg: line }) + '\n' : line + '\n',
    );
  }
  process.exitCode = 2;
}

main().catch((err: unknown) => {
  const message = `lm-proxy: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  // SPEC §8: with LOG_FORMAT=json every stderr line is JSON, this one too.
  const json = (process.argv.includes('--log-format=json') || process.env.LOG_FORMAT === 'json') && !process.argv.includes('--log-format=text');
  process.stderr.write(json ? JSON.stringify({ level: 'error', time: new Date().toISOString(), msg: message }) + '\n' : message + '\n');
  process.exit(1);
});
