// The package version, for `--version` and logs.
// In dist/lm-proxy.cjs and the SEA it is a string inlined by scripts/build.ts (esbuild `define`),
// so the shipped file reads nothing at run time; run from source it is read from package.json.
// Never uses `import.meta` in what ships: esbuild's CJS output turns it into `{}` (research §2.3).

import { createRequire } from 'node:module';

// Replaced by a string literal in the bundle; undeclared (so `typeof` is 'undefined') from source.
declare const __LM_PROXY_VERSION__: string | undefined;

let version: string;
if (typeof __LM_PROXY_VERSION__ === 'string') {
  version = __LM_PROXY_VERSION__;
} else {
  // Dead in the bundle: the define turns the test above into `true` and minifySyntax drops this branch.
  // Resolved against this file, not the working folder, so it works from any folder.
  const requireFromHere = createRequire(import.meta.url);
  version = (requireFromHere('../../package.json') as { version: string }).version;
}

export const VERSION: string = version;
