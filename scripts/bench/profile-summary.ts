// Summarises the V8 CPU profiles that `npm run bench -- --cpu-prof` collects from lm-proxy: the
// functions with the most self time, and lm-proxy's own functions by inclusive time, each as a share
// of the time the process was busy (idle excluded). Reads .cpuprofile JSON; changes nothing.
//   node --import tsx scripts/bench/profile-summary.ts .bench/cpu-prof/CPU.….cpuprofile

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { markdownTable } from './report.ts';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const NOT_BUSY = new Set(['(idle)', '(program)']);

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'} ${url ? `${basename(url)}:${lineNumber + 1}` : ''}`.trim();
}

export function summariseProfile(profile: CpuProfile, top = 15, ownFile = 'lm-proxy.cjs'): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const timeByNode = new Map<number, number>();
  profile.samples.forEach((id, i) => timeByNode.set(id, (timeByNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  for (const [id, time] of timeByNode) {
    const node = byId.get(id);
    if (!node || NOT_BUSY.has(node.callFrame.functionName)) continue;
    busy += time;
    self.set(label(node), (self.get(label(node)) ?? 0) + time);
    // Each function counts once per sample however deep its recursion.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at);
      if (!frame || !frame.callFrame.url.endsWith(ownFile)) continue;
      const key = label(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + time);
    }
  }
  const rows = (map: Map<string, number>): string[][] =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, time]) => [name, `${((100 * time) / busy).toFixed(1)}%`]);
  return [
    `busy ${(busy / 1e6).toFixed(2)} s`,
    '',
    markdownTable(['self time', 'share of busy'], rows(self)),
    '',
    markdownTable([`inclusive, ${ownFile} only`, 'share of busy'], rows(inclusive)),
  ].join('\n');
}

export function summariseProfileFile(path: string, top = 15): string {
  return summariseProfile(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, top);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const path of process.argv.slice(2)) console.log(`#### ${basename(path)}\n\n${summariseProfileFile(path, 25)}\n`);
}
