// `npm run sea`: dist/lm-proxy, a single executable that runs without Node installed (SPEC §1),
// made with Node's Single Executable Applications support from the bundle of scripts/build.ts.
// Node 20–25.4: blob from `--experimental-sea-config`, injected with the locally installed postject
// (never npx from the network); Node >= 25.5: `node --build-sea` does both. Recipe and pitfalls:
// research/style-and-ecosystem.md §2 (same node for blob and binary, CJS main, no shebang, no strip).

import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, copyFile, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildBundle, formatBytes, ROOT } from './build.ts';

const DIST = join(ROOT, 'dist');
export const SEA_PATH = join(DIST, process.platform === 'win32' ? 'lm-proxy.exe' : 'lm-proxy');
const SEA_MAIN = join(DIST, 'sea-main.cjs');
const SEA_CONFIG = join(DIST, 'sea-config.json');
const SEA_BLOB = join(DIST, 'sea-prep.blob');
// The fuse postject flips from :0 to :1 so node looks for the injected blob (SEA docs).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
// postject prints this several times on Linux; it is harmless (nodejs/postject#83, research §2.1).
const HARMLESS_POSTJECT_WARNING = /Can't find string offset for section name '\.note(\.\d+)?'/;

// Off: the code cache bought nothing measurable. Launch -> `Listening on` (scripts/bench/startup.ts,
// runs interleaved, Node 20.20.2 linux-x64, a busy 2-CPU machine), 101 KB bundle, 40 runs: median
// 164.6 ms without vs 164.5 ms with, min 103.6 vs 99.4 ms; `--version` CPU time (hyperfine, 60 runs):
// 116.8 vs 109.0 ms user. It has costs: "Code cache data rejected" on small scripts or V8 flag
// changes, no `import()`, no cross-platform builds (research §2.2). Measure again: `--code-cache=on`.
const DEFAULT_USE_CODE_CACHE = false;

/** `node --build-sea` exists from Node 25.5.0 on. */
export function supportsBuildSea(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 25 || (major === 25 && minor >= 5);
}

export async function buildSea(options: { useCodeCache?: boolean } = {}): Promise<{ path: string; bytes: number }> {
  const useCodeCache = options.useCodeCache ?? DEFAULT_USE_CODE_CACHE;
  const bundle = await buildBundle();
  // The embedded main is compiled as a function body, where a shebang line is a syntax error.
  const text = await readFile(bundle.path, 'utf8');
  await writeFile(SEA_MAIN, text.startsWith('#!') ? text.slice(text.indexOf('\n') + 1) : text);

  const buildSeaInNode = supportsBuildSea();
  // Paths relative to the repo (node resolves them against the working folder, which run() sets).
  const config = {
    main: relative(ROOT, SEA_MAIN),
    output: relative(ROOT, buildSeaInNode ? SEA_PATH : SEA_BLOB),
    disableExperimentalSEAWarning: true,
    useCodeCache,
    useSnapshot: false,
  };
  await writeFile(SEA_CONFIG, `${JSON.stringify(config, null, 2)}\n`);
  await rm(SEA_PATH, { force: true }); // replacing a running binary in place fails with ETXTBSY

  if (buildSeaInNode) {
    run(process.execPath, ['--build-sea', SEA_CONFIG]);
  } else {
    // The blob must come from the same node binary it is injected into: both are process.execPath.
    run(process.execPath, ['--experimental-sea-config', SEA_CONFIG]);
    await copyFile(process.execPath, SEA_PATH);
    await chmod(SEA_PATH, 0o755); // node may be installed read-only; postject must write to the copy
    if (process.platform === 'darwin') run('codesign', ['--remove-signature', SEA_PATH]);
    inject(SEA_PATH, SEA_BLOB);
  }
  if (process.platform === 'darwin') run('codesign', ['--sign', '-', '--force', SEA_PATH]);
  await chmod(SEA_PATH, 0o755);
  // Deliberately no `strip`: a stripped SEA segfaulted on --version (research §2.1).

  const reported = execFileSync(SEA_PATH, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  if (!reported.includes(bundle.version)) {
    throw new Error(`${SEA_PATH} --version printed ${JSON.stringify(reported)}, expected ${bundle.version}`);
  }
  return { path: SEA_PATH, bytes: (await stat(SEA_PATH)).size };
}

/** Runs the locally installed postject CLI with the current node, keeping its output minus the known noise. */
function inject(executable: string, blob: string): void {
  const cli = createRequire(import.meta.url).resolve('postject/dist/cli.js');
  const args = [cli, executable, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE];
  if (process.platform === 'darwin') args.push('--macho-segment-name', 'NODE_SEA');
  const output = run(process.execPath, args, { quiet: true });
  const kept = output.split('\n').filter((line) => line.trim() !== '' && !HARMLESS_POSTJECT_WARNING.test(line));
  if (kept.length > 0) console.log(kept.join('\n'));
}

/** Runs a command to completion; returns its stdout and stderr, or throws with both. */
function run(command: string, args: string[], options: { quiet?: boolean } = {}): string {
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.error !== undefined || result.status !== 0) {
    const why = result.error?.message ?? `exit status ${String(result.status ?? result.signal)}`;
    throw new Error(`${command} ${args.join(' ')} failed (${why}):\n${output}`);
  }
  if (options.quiet !== true && output.trim() !== '') console.log(output.trim());
  return output;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { 'code-cache': { type: 'string' } } });
  const choice = values['code-cache'];
  if (choice !== undefined && choice !== 'on' && choice !== 'off') {
    console.error(`--code-cache: expected on or off, got ${JSON.stringify(choice)}`);
    process.exit(2);
  }
  try {
    const built = await buildSea(choice === undefined ? {} : { useCodeCache: choice === 'on' });
    console.log(`built ${relative(ROOT, built.path)} (node ${process.version}): ${formatBytes(built.bytes)}`);
  } catch (error) {
    console.error(`sea failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
