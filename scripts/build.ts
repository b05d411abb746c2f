// `npm run build`: bundles src/cli/main.ts into dist/lm-proxy.cjs, one CommonJS file that requires only
// `node:` modules (SPEC §1), with the package version inlined (src/config/version.ts).
// It refuses to write a bundle that pulls in anything else: a package from node_modules, a bare
// built-in name such as `fs`, or a leftover `import.meta` (empty in CJS output, research §2.3).

import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const ENTRY = join(ROOT, 'src', 'cli', 'main.ts');
export const BUNDLE_PATH = join(ROOT, 'dist', 'lm-proxy.cjs');
const SHEBANG = '#!/usr/bin/env node';

// src/config/version.ts reads package.json through import.meta in a branch that the version define removes;
// esbuild still warns about it while parsing, so that one warning (and only there) is expected.
const EXPECTED_WARNING = { id: 'empty-import-meta', file: 'src/config/version.ts' };

export async function packageVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** The esbuild options of the shipped bundle; tests/scripts/bundle.test.ts builds with these too. */
export function bundleOptions(version: string): esbuild.BuildOptions & { metafile: true; write: false } {
  return {
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    outfile: BUNDLE_PATH,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    banner: { js: SHEBANG },
    define: { __LM_PROXY_VERSION__: JSON.stringify(version) },
    // Folds `typeof "0.1.0" === 'string'` and drops the dead source-only branch of src/config/version.ts.
    // Identifiers and whitespace stay as written, so stack traces remain readable.
    minifySyntax: true,
    metafile: true,
    write: false,
    logLevel: 'silent',
  };
}

/** Every reason the bundle must not ship; empty when it is fine. */
export function bundleProblems(result: esbuild.BuildResult<{ metafile: true; write: false }>): string[] {
  const problems: string[] = [];
  for (const warning of result.warnings) {
    const file = warning.location?.file.replaceAll('\\', '/');
    if (warning.id === EXPECTED_WARNING.id && file === EXPECTED_WARNING.file) continue;
    problems.push(`esbuild warning [${warning.id}] ${file ?? ''}: ${warning.text}`);
  }
  for (const input of Object.keys(result.metafile.inputs)) {
    if (input.includes('node_modules')) problems.push(`bundles a dependency: ${input}`);
  }
  for (const output of Object.values(result.metafile.outputs)) {
    for (const imported of output.imports) {
      if (!imported.path.startsWith('node:')) {
        problems.push(`imports ${JSON.stringify(imported.path)} (${imported.kind}); only node: modules are allowed`);
      }
    }
  }
  const text = bundleText(result);
  for (const specifier of requiredSpecifiers(text)) {
    if (!specifier.startsWith('node:')) problems.push(`require(${JSON.stringify(specifier)}) in the output`);
  }
  if (/import\.meta|import_meta/.test(text)) problems.push('import.meta survives in the output (empty in CJS)');
  return problems;
}

/** The specifiers of every `require("…")` call with a literal argument. */
export function requiredSpecifiers(text: string): string[] {
  return [...text.matchAll(/\brequire\(\s*(["'`])([^"'`]+)\1\s*\)/g)].map((match) => match[2] ?? '');
}

export function bundleText(result: esbuild.BuildResult<{ write: false }>): string {
  const file = result.outputFiles[0];
  if (file === undefined) throw new Error('esbuild produced no output file');
  // An entry that starts with its own shebang would get a second one from the banner: keep one.
  return file.text.replace(`${SHEBANG}\n${SHEBANG}\n`, `${SHEBANG}\n`);
}

/** Builds, checks and writes dist/lm-proxy.cjs; throws with every problem found. */
export async function buildBundle(): Promise<{ path: string; bytes: number; version: string }> {
  const version = await packageVersion();
  const result = await esbuild.build(bundleOptions(version));
  const problems = bundleProblems(result);
  if (problems.length > 0) {
    throw new Error(`refusing to write ${relative(ROOT, BUNDLE_PATH)}:\n  ${problems.join('\n  ')}`);
  }
  const text = bundleText(result);
  await mkdir(dirname(BUNDLE_PATH), { recursive: true });
  await writeFile(BUNDLE_PATH, text);
  await chmod(BUNDLE_PATH, 0o755);
  return { path: BUNDLE_PATH, bytes: Buffer.byteLength(text), version };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${bytes} B (${(bytes / 1024).toFixed(1)} KiB)`;
  return `${bytes} B (${(bytes / 1024 / 1024).toFixed(1)} MiB)`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const built = await buildBundle();
    console.log(`built ${relative(ROOT, built.path)} v${built.version}: ${formatBytes(built.bytes)}`);
  } catch (error) {
    // esbuild's own errors (a syntax error, a missing import) carry their messages in `errors`.
    console.error(`build failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
