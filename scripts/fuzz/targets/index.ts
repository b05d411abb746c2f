/** Every fuzz target, in the order `--target all` and `--ci` run them. */
import type { FuzzTarget } from '../engine.ts';
import { jsonSnifferTarget } from './json-sniffer.ts';
import { sseTarget } from './sse.ts';
import { tagsTarget } from './tags.ts';
import { upstreamTargetTarget } from './upstream-target.ts';

export const TARGETS: readonly FuzzTarget[] = [jsonSnifferTarget, sseTarget, upstreamTargetTarget, tagsTarget];
