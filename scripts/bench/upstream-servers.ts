// Starts the upstreams on the load CPU: nginx for the small JSON of scenarios 1 and 2 (so the
// upstream is never the bottleneck), from a one-process config written into the scratch folder, and
// the Node upstream (upstream.ts) for SSE and large bodies. Never touches the system's nginx setup.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startChild, waitForPort, type Child } from './processes.ts';
import type { BenchEnv } from './setup.ts';
import { SMALL_CHAT_JSON } from './upstream.ts';

/** nginx.conf answering every request with the small chat JSON; single process, no daemon. */
export function nginxConfig(dir: string, port: number): string {
  // `return 200 '…'` answers any method (the static module refuses POST); the body is discarded.
  const escaped = SMALL_CHAT_JSON.replaceAll('\\', '\\\\').replaceAll("'", "\\'");
  return `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:${port};
    location / {
      default_type application/json;
      return 200 '${escaped}';
    }
  }
}
`;
}

export interface Upstream {
  readonly origin: string;
  readonly kind: 'nginx' | 'node';
  readonly child: Child;
}

async function startNginx(env: BenchEnv, port: number): Promise<Child> {
  const dir = join(env.benchDir, 'nginx');
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, port));
  const child = startChild('nginx', 'nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'nginx-error.log')], { cpu: env.loadCpu });
  await waitForPort(port, 5000, 5, child);
  return child;
}

/** The Node upstream (SSE, large bodies, and the small JSON where nginx is missing). */
export async function startNodeUpstream(env: BenchEnv): Promise<Upstream> {
  const port = await freePort();
  const child = startChild('node upstream', process.execPath, [env.scripts.upstream, '--listen', `127.0.0.1:${port}`], { cpu: env.loadCpu });
  await waitForPort(port, 10_000, 5, child);
  return { origin: `http://127.0.0.1:${port}`, kind: 'node', child };
}

/** The fastest upstream for the small chat JSON: nginx where installed, else the Node upstream. */
export async function startSmallJsonUpstream(env: BenchEnv): Promise<Upstream> {
  if (!env.nginx) return startNodeUpstream(env);
  const port = await freePort();
  return { origin: `http://127.0.0.1:${port}`, kind: 'nginx', child: await startNginx(env, port) };
}

/** The Node upstream's count of streams still open (`/_bench/stats`). */
export async function openUpstreamStreams(upstream: Upstream): Promise<number> {
  const res = await fetch(`${upstream.origin}/_bench/stats`);
  const stats = (await res.json()) as { open: number };
  return stats.open;
}
