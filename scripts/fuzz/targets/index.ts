/** Every fuzz target, in the order `--target all` and `--ci` run them. */
import type { FuzzTarget } from '../engine.ts';
import { configTarget } from './config.ts';
import { includeUsageTarget } from './include-usage.ts';
import { jsonSnifferTarget } from './json-sniffer.ts';
import { priceTableTarget } from './price-table.ts';
import { sseTarget } from './sse.ts';
import { tagsTarget } from './tags.ts';
import { upstreamTargetTarget } from './upstream-target.ts';
import { usageChunkFilterTarget } from './usage-chunk-filter.ts';
import { wsDeflateTarget } from './ws-deflate.ts';
import { wsFramesTarget } from './ws-frames.ts';

export const TARGETS: readonly FuzzTarget[] = [
  jsonSnifferTarget,
  sseTarget,
  includeUsageTarget,
  usageChunkFilterTarget,
  upstreamTargetTarget,
  configTarget,
  tagsTarget,
  priceTableTarget,
  wsFramesTarget,
  wsDeflateTarget,
];
