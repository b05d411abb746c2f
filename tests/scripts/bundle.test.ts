// The shipped bundle (scripts/build.ts, SPEC §1): built in memory with the real options, it must
// require only `node:` modules, bundle nothing from node_modules, and carry the version inline.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as esbuild from 'esbuild';
import { bundleOptions, bundleProblems, bundleText, packageVersion, requiredSpecifiers, ROOT } from '../../scripts/build.ts';

const version = await packageVersion();
const result = await esbuild.build(bundleOptions(version));
const text = bundleText(result);

describe('the lm-proxy bundle', () => {
  test('imports only node: modules, according to the metafile', () => {
    const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports.map((i) => i.path));
    assert.ok(imports.length > 0, 'a proxy on node:http imports at least one built-in');
    assert.deepEqual(
      imports.filter((path) => !path.startsWith('node:')),
      [],
    );
  });

  test('contains no require() of anything but a node: module', () => {
    const specifiers = requiredSpecifiers(text);
    assert.ok(specifiers.length > 0);
    assert.deepEqual(
      specifiers.filter((s) => !s.startsWith('node:')),
      [],
    );
    // A second, cruder look that does not trust the helper's regular expression.
    for (const match of text.matchAll(/require\(([^)]*)\)/g)) {
      const argument = (match[1] ?? '').trim();
      if (/^["'`]/.test(argument)) assert.match(argument, /^["'`]node:/, `require(${argument})`);
    }
  });

  test('bundles only files of this repository, none from node_modules', () => {
    const foreign = Object.keys(result.metafile.inputs).filter((input) => input.includes('node_modules'));
    assert.deepEqual(foreign, []);
  });

  test('inlines the package version and leaves no import.meta behind', () => {
    assert.ok(text.includes(JSON.stringify(version)), `the bundle should contain "${version}"`);
    assert.doesNotMatch(text, /import\.meta|import_meta/);
  });

  test('starts with exactly one shebang line', () => {
    assert.ok(text.startsWith('#!/usr/bin/env node\n'));
    assert.equal(text.split('\n').filter((line) => line.startsWith('#!')).length, 1);
  });

  test('passes the build script’s own checks', () => {
    assert.deepEqual(bundleProblems(result), []);
  });
});

describe('the build script’s checks', () => {
  test('reject a bare built-in, a bundled dependency and import.meta', async () => {
    const probe = await esbuild.build({
      ...bundleOptions(version),
      entryPoints: undefined,
      stdin: {
        contents: 'import fs from "fs"; import { createParser } from "eventsource-parser"; console.log(fs, createParser, import.meta.url);',
        resolveDir: ROOT,
        sourcefile: 'probe.ts',
        loader: 'ts',
      },
    });
    const problems = bundleProblems(probe).join('\n');
    assert.match(problems, /imports "fs"/);
    assert.match(problems, /require\("fs"\) in the output/);
    assert.match(problems, /bundles a dependency: .*eventsource-parser/);
    assert.match(problems, /import\.meta survives/);
    assert.match(problems, /empty-import-meta.*probe\.ts/);
  });
});
