// The shape of src/ as docs/ARCHITECTURE.md states it, checked from the import lines:
// every module sits in a layer folder, folders import only the folders the codemap allows
// (so the folder graph has no cycle), the modules called pure import no socket or file
// module (directly or through another module), and no source file outgrows 450 lines.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(ROOT, 'src');

/** What each folder may import, lowest layers first (docs/ARCHITECTURE.md, "Codemap"). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  shared: [],
  config: ['shared'],
  usage: ['shared'],
  injection: ['shared', 'usage'],
  pricing: ['shared'],
  proxy: ['shared', 'config', 'injection'],
  recording: ['shared', 'config', 'pricing'],
  report: ['shared', 'pricing'],
  dashboard: ['shared', 'report'],
  websocket: ['shared', 'usage'],
  cli: ['shared', 'config', 'usage', 'injection', 'pricing', 'proxy', 'recording', 'report', 'dashboard', 'websocket'],
};

/** Modules with no I/O of their own: they may import no socket or file module, even indirectly. */
const PURE_FOLDERS: ReadonlySet<string> = new Set(['shared', 'config', 'usage', 'injection', 'pricing', 'report', 'dashboard', 'websocket']);
// The I/O modules of those folders: each reads a file or serves a request for the rest.
const IO_FILES: ReadonlySet<string> = new Set(['report/report-command.ts', 'dashboard/dashboard-handler.ts', 'dashboard/ledger-backfill.ts']);
// Pure modules of folders that also hold I/O.
const PURE_FILES: ReadonlySet<string> = new Set([
  'proxy/hop-by-hop.ts',
  'proxy/upstream-target.ts',
  'proxy/response-head.ts',
  'proxy/held-body.ts',
  'proxy/idle-limit.ts',
  'recording/metrics.ts',
  'recording/proxy-metrics.ts',
  'recording/usage-log.ts',
]);
const IO_MODULES = /^(node:)?(http|https|http2|net|tls|dgram|fs|fs\/promises|child_process)$/;
const MAX_LINES = 450;

interface Module {
  readonly path: string; // relative to src/, with forward slashes
  readonly folder: string;
  readonly lines: number;
  readonly local: readonly string[]; // imported src/ modules, relative to src/
  /** The imports of `local` that bring code, not only types (erased `import type` lines). */
  readonly localValues: readonly string[];
  readonly builtins: readonly string[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

// Static imports and re-exports (`import … from '…'`, `import type …`, `export … from '…'`,
// `import '…'`) and dynamic `import('…')`. Group 1 is `type` for a type-only import.
const SPECIFIER = /\b(?:(?:import|export)\s+(type\s+)?(?:[\w*{}\s,$]+?\s+from\s*)?|import\s*\(\s*)'([^']+)'/g;

function readModule(file: string): Module {
  const text = readFileSync(file, 'utf8');
  const path = relative(SRC, file).split('\\').join('/');
  const local: string[] = [];
  const localValues: string[] = [];
  const builtins: string[] = [];
  for (const match of text.matchAll(SPECIFIER)) {
    const specifier = match[2] as string;
    if (!specifier.startsWith('.')) {
      builtins.push(specifier);
      continue;
    }
    const target = relative(SRC, resolve(dirname(file), specifier)).split('\\').join('/');
    local.push(target);
    if (match[1] === undefined) localValues.push(target);
  }
  const folder = path.includes('/') ? (path.split('/')[0] as string) : '';
  return { path, folder, lines: text.split('\n').length - 1, local, localValues, builtins };
}

const modules = new Map(sourceFiles(SRC).map((file) => readModule(file)).map((module) => [module.path, module]));

function isPure(module: Module): boolean {
  return (PURE_FOLDERS.has(module.folder) && !IO_FILES.has(module.path)) || PURE_FILES.has(module.path);
}

describe('the layers of src/', () => {
  test('every module sits in a layer folder the codemap names', () => {
    for (const module of modules.values()) {
      assert.notEqual(module.folder, '', `${module.path} sits at the top of src/: put it in a layer folder`);
      assert.ok(module.folder in ALLOWED, `src/${module.folder}/ is not in the codemap (tests/architecture and docs/ARCHITECTURE.md)`);
    }
  });

  test('every import resolves to a module of src/', () => {
    for (const module of modules.values()) {
      for (const target of module.local) assert.ok(modules.has(target), `${module.path} imports ${target}, which is not in src/`);
    }
  });

  test('folders import only the folders below them that the codemap allows', () => {
    for (const module of modules.values()) {
      for (const target of module.local) {
        const folder = target.split('/')[0] as string;
        if (folder === module.folder) continue;
        assert.ok(ALLOWED[module.folder]?.includes(folder), `${module.path} imports ${target}: ${module.folder}/ may not import ${folder}/`);
      }
    }
  });

  test('the folder graph has no cycle', () => {
    const edges = new Map<string, Set<string>>();
    for (const module of modules.values()) {
      for (const target of module.local) {
        const folder = target.split('/')[0] as string;
        if (folder !== module.folder) (edges.get(module.folder) ?? edges.set(module.folder, new Set()).get(module.folder)!).add(folder);
      }
    }
    const state = new Map<string, 'open' | 'done'>();
    const visit = (folder: string, trail: readonly string[]): void => {
      if (state.get(folder) === 'done') return;
      assert.notEqual(state.get(folder), 'open', `import cycle between folders: ${[...trail, folder].join(' → ')}`);
      state.set(folder, 'open');
      for (const next of edges.get(folder) ?? []) visit(next, [...trail, folder]);
      state.set(folder, 'done');
    };
    for (const folder of edges.keys()) visit(folder, []);
  });

  test('the codemap itself is acyclic, so the rule above cannot allow a cycle', () => {
    const order = Object.keys(ALLOWED);
    for (const [folder, allowed] of Object.entries(ALLOWED)) {
      for (const lower of allowed) assert.ok(order.indexOf(lower) < order.indexOf(folder), `${folder}/ may import ${lower}/, listed after it`);
    }
  });

  test('pure modules import no socket or file module, directly or through another module', () => {
    for (const module of modules.values()) {
      if (!isPure(module)) continue;
      for (const builtin of module.builtins) assert.doesNotMatch(builtin, IO_MODULES, `${module.path} is pure but imports ${builtin}`);
      for (const target of module.localValues) {
        const imported = modules.get(target);
        assert.ok(imported === undefined || isPure(imported), `${module.path} is pure but imports ${target}, which is not`);
      }
    }
  });

  test(`no source file is over ${MAX_LINES} lines`, () => {
    for (const module of modules.values()) assert.ok(module.lines <= MAX_LINES, `${module.path} has ${module.lines} lines`);
  });

  test('docs/ARCHITECTURE.md names every folder and every module', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8');
    for (const folder of new Set([...modules.values()].map((module) => module.folder))) {
      assert.ok(doc.includes(`src/${folder}/`), `docs/ARCHITECTURE.md does not name src/${folder}/`);
    }
    for (const module of modules.values()) {
      const name = module.path.slice(module.folder.length + 1);
      assert.ok(doc.includes(`\`${name}\``), `docs/ARCHITECTURE.md does not name ${module.path} (as \`${name}\`, in its folder's row)`);
    }
  });
});

describe('the checks themselves', () => {
  test('an I/O import is recognised in both spellings, and a pure one is not', () => {
    for (const name of ['node:http', 'http', 'node:fs/promises', 'net', 'node:tls']) assert.match(name, IO_MODULES);
    for (const name of ['node:zlib', 'node:crypto', 'node:buffer', 'node:perf_hooks', 'httpx']) assert.doesNotMatch(name, IO_MODULES);
  });

  test('import lines are read in every form the codebase uses', () => {
    const text = "import a from './a.ts';\nimport type { B } from '../b/b.ts';\nexport { c } from './c.ts';\nimport {\n  d,\n} from 'node:fs';\nconst e = await import('./e.ts');";
    const found = [...text.matchAll(SPECIFIER)].map((match) => [match[2], match[1] !== undefined]);
    assert.deepEqual(found, [['./a.ts', false], ['../b/b.ts', true], ['./c.ts', false], ['node:fs', false], ['./e.ts', false]]);
  });
});
