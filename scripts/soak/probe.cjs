// Preloaded into the proxy by scripts/soak.ts (`node --require scripts/soak/probe.cjs dist/lm-proxy.cjs`):
// every SOAK_PROBE_MS it writes one JSON line to fd 3 (a pipe the soak reads) with the proxy's
// event-loop resources (process.getActiveResourcesInfo(): sockets, servers, timers, fs requests)
// and its V8 heap. Plain CommonJS so the proxy runs as shipped, without tsx. Its timer is unref'd,
// so it never keeps the proxy alive, and it touches nothing of the proxy's own.
'use strict';

const fs = require('node:fs');

const PROBE_FD = 3;
const everyMs = Number(process.env.SOAK_PROBE_MS) > 0 ? Number(process.env.SOAK_PROBE_MS) : 500;

const timer = setInterval(() => {
  const resources = process.getActiveResourcesInfo();
  const byType = {};
  for (const type of resources) byType[type] = (byType[type] || 0) + 1;
  const line = JSON.stringify({ handles: resources.length, byType, heapUsed: process.memoryUsage().heapUsed }) + '\n';
  try {
    fs.writeSync(PROBE_FD, line);
  } catch {
    // The soak stopped reading (a full pipe gives EAGAIN): drop this sample, never disturb the proxy.
  }
}, everyMs);
timer.unref();
