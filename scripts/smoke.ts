// CI smoke test of the built artifacts (SPEC §1): dist/lm-proxy.cjs run with node, and the SEA
// dist/lm-proxy run with no `node` on PATH. Each is copied alone into a fresh empty folder and run
// from there with a bare environment: --version, --help, `report` on a gzip ledger, one proxied chat with its [USAGE] line,
// and a clean exit on SIGTERM. Loopback only. Run after `npm run build && npm run sea`:
//   node --import tsx scripts/smoke.ts [--allow-missing-sea]

import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { BUNDLE_PATH, packageVersion, ROOT } from './build.ts';
import { expectedChatUsage, FAKE_MODEL, fakeReply, startFakeUpstream, type FakeUpstream } from './fake-upstream.ts';
import { freePort, parseUsageLine, postJson, PROXY_ENV_VARS, startProxy } from './proxy-harness.ts';
import { SEA_PATH } from './sea.ts';

const RUN_TIMEOUT_MS = 15_000;
const USAGE_LINE_TIMEOUT_MS = 5_000; // the line follows the response at once; waiting longer only delays a failure
const FLAG_OF: Record<(typeof PROXY_ENV_VARS)[number], string> = {
  UPSTREAM_URL: '--upstream',
  LISTEN_ADDR: '--listen',
  USAGE_LOG: '--usage-log',
  LOG_FORMAT: '--log-format',
  METRICS_ADDR: '--metrics',
  INJECT_STREAM_USAGE: '--inject-stream-usage',
  UPSTREAM_TIMEOUT_MS: '--upstream-timeout',
  SHUTDOWN_GRACE_MS: '--shutdown-grace',
};

interface Artifact {
  readonly label: string;
  readonly source: string;
  /** How to run the copy: the command and the arguments before the proxy's own. */
  readonly launch: (copy: string) => { command: string; prefix: string[] };
}

let failures = 0;

function check(ok: boolean, what: string, detail = ''): boolean {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}${!ok && detail !== '' ? `\n       ${detail.replaceAll('\n', '\n       ')}` : ''}`);
  if (!ok) failures += 1;
  return ok;
}

async function smokeArtifact(artifact: Artifact, version: string, upstream: FakeUpstream): Promise<void> {
  console.log(`\n${artifact.label}`);
  const folder = await mkdtemp(join(tmpdir(), 'lm-proxy-smoke-'));
  const emptyBin = await mkdtemp(join(tmpdir(), 'lm-proxy-smoke-path-'));
  try {
    const copy = join(folder, basename(artifact.source));
    await copyFile(artifact.source, copy); // copyFile keeps the executable bit
    const { command, prefix } = artifact.launch(copy);
    // A bare environment: no node on PATH, no NODE_OPTIONS, none of SPEC §2's variables.
    const env: NodeJS.ProcessEnv = { PATH: emptyBin };
    if (process.platform === 'win32' && process.env['SystemRoot'] !== undefined) env['SystemRoot'] = process.env['SystemRoot'];
    const runOnce = (args: string[]) =>
      spawnSync(command, [...prefix, ...args], { cwd: folder, env, encoding: 'utf8', timeout: RUN_TIMEOUT_MS });

    const versionRun = runOnce(['--version']);
    const firstLine = versionRun.stdout?.trim().split('\n')[0] ?? '';
    check(
      versionRun.status === 0 && new RegExp(`(^|[\\s v])${version.replaceAll('.', '\\.')}$`).test(firstLine),
      `--version prints ${version}`,
      `exit ${String(versionRun.status ?? versionRun.error?.message)}, stdout ${JSON.stringify(versionRun.stdout)}, stderr ${JSON.stringify(versionRun.stderr)}`,
    );

    const helpRun = runOnce(['--help']);
    const missing = Object.entries(FLAG_OF)
      .flat()
      .filter((word) => !(helpRun.stdout ?? '').includes(word));
    check(
      helpRun.status === 0 && missing.length === 0,
      '--help exits 0 and prints the configuration table',
      `exit ${String(helpRun.status ?? helpRun.error?.message)}; missing from stdout: ${missing.join(' ') || 'nothing'}; stderr ${JSON.stringify(helpRun.stderr)}`,
    );

    // SPEC §11: `report` is a subcommand of the same artifact; a gzip ledger, judged by its bytes.
    const ledgerLines = ['gpt-4o', 'gpt-4o', 'o3-mini'].map((model, i) =>
      JSON.stringify({ time: `2026-03-0${i + 1}T12:00:00Z`, model, prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, complete: true, cost: 0.5 }));
    await writeFile(join(folder, 'usage.jsonl.gz'), gzipSync(`${ledgerLines.join('\n')}\n`));
    const reportRun = runOnce(['report', '--by', 'model', '--format', 'json', 'usage.jsonl.gz']);
    let reportTotal: { requests?: number; total_tokens?: number; cost?: number } = {};
    try {
      reportTotal = (JSON.parse(reportRun.stdout ?? '') as { total: typeof reportTotal }).total;
    } catch {
      // reported below
    }
    check(
      reportRun.status === 0 && reportTotal.requests === 3 && reportTotal.total_tokens === 45 && reportTotal.cost === 1.5,
      'report reads a gzip ledger: 3 requests, 45 tokens, $1.5',
      `exit ${String(reportRun.status ?? reportRun.error?.message)}, stdout ${JSON.stringify(reportRun.stdout?.slice(0, 300))}, stderr ${JSON.stringify(reportRun.stderr)}`,
    );

    const listen = `127.0.0.1:${await freePort()}`;
    const args = [...prefix, '--upstream', upstream.url, '--listen', listen];
    let proxy;
    try {
      proxy = await startProxy(command, args, { cwd: folder, env, timeoutMs: RUN_TIMEOUT_MS });
    } catch (error) {
      check(false, `starts and prints "Listening on" (--listen ${listen})`, String(error));
      return;
    }
    check(true, `starts and prints "Listening on ${proxy.listening}"`);
    try {
      const chat = { model: FAKE_MODEL, messages: [{ role: 'user', content: 'count these five words' }] };
      const expected = expectedChatUsage(chat);
      const mark = proxy.lines.length;
      const response = await postJson(`http://${listen}/v1/chat/completions`, chat, RUN_TIMEOUT_MS);
      check(
        response.status === 200 && response.text.includes(fakeReply(chat)),
        'proxies a chat completion to the fake upstream',
        `status ${response.status}, body ${response.text.slice(0, 300)}`,
      );
      const line = await proxy.waitForLine(/^\[USAGE\] /, USAGE_LINE_TIMEOUT_MS, mark).catch((error: unknown) => String(error));
      const seen = parseUsageLine(line);
      check(
        seen !== null &&
          seen.prompt_tokens === expected.prompt_tokens &&
          seen.completion_tokens === expected.completion_tokens &&
          seen.total_tokens === expected.total_tokens,
        `prints [USAGE] prompt_tokens=${expected.prompt_tokens} completion_tokens=${expected.completion_tokens} total_tokens=${expected.total_tokens}`,
        line,
      );
    } catch (error) {
      check(false, 'proxies a chat completion to the fake upstream', String(error));
    } finally {
      const code = await proxy.stop();
      check(code === 0, 'exits 0 on SIGTERM', `exit code ${String(code)}; stderr ${JSON.stringify(proxy.stderr())}`);
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
    await rm(emptyBin, { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'allow-missing-sea': { type: 'boolean', default: false } } });
  const version = await packageVersion();
  const artifacts: Artifact[] = [
    {
      label: `${relative(ROOT, BUNDLE_PATH)} (node ${process.version})`,
      source: BUNDLE_PATH,
      launch: (copy) => ({ command: process.execPath, prefix: [copy] }),
    },
  ];
  if (await exists(SEA_PATH)) {
    artifacts.push({
      label: `${relative(ROOT, SEA_PATH)} (single executable, no node on PATH)`,
      source: SEA_PATH,
      launch: (copy) => ({ command: copy, prefix: [] }),
    });
  } else if (values['allow-missing-sea']) {
    console.log(`skipping the SEA: ${relative(ROOT, SEA_PATH)} does not exist and --allow-missing-sea was given`);
  } else {
    check(false, `${relative(ROOT, SEA_PATH)} exists`, 'run `npm run sea` first, or pass --allow-missing-sea');
  }
  if (!(await exists(BUNDLE_PATH))) {
    check(false, `${relative(ROOT, BUNDLE_PATH)} exists`, 'run `npm run build` first');
    return;
  }

  const upstream = await startFakeUpstream();
  try {
    for (const artifact of artifacts) await smokeArtifact(artifact, version, upstream);
  } finally {
    await upstream.close();
  }
}

try {
  await main();
} catch (error) {
  check(false, 'smoke test ran to the end', error instanceof Error ? (error.stack ?? error.message) : String(error));
}
console.log(failures === 0 ? '\nsmoke: all checks passed' : `\nsmoke: ${failures} check(s) failed`);
process.exitCode = failures === 0 ? 0 : 1;
