// The Node load generator, used where wrk is not installed: N keep-alive connections, each sending
// the next POST as soon as the previous answer has been read, for a fixed time. Prints the same
// BENCH_JSON line as the wrk script. It saturates below wrk, which the bench output says.
//   node --import tsx scripts/bench/load-node.ts --url URL --connections 64 --seconds 8 --body '{}'

import http from 'node:http';
import { pathToFileURL } from 'node:url';

export interface NodeLoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly seconds: number;
  readonly body: string;
  readonly auth: string;
  readonly tags: string;
}

export async function nodeLoad(options: NodeLoadOptions): Promise<string> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const url = new URL(options.url);
  const body = Buffer.from(options.body);
  const latenciesUs: number[] = [];
  let errors = 0;
  const start = performance.now();
  const stopAt = start + options.seconds * 1000;
  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const sent = performance.now();
      const req = http.request(
        { host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: options.auth, 'lm-proxy-tags': options.tags } },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => {
            if ((res.statusCode ?? 0) >= 400) errors++;
            latenciesUs.push((performance.now() - sent) * 1000);
            resolve();
          });
          res.on('error', () => {
            errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const loop = async (): Promise<void> => {
    while (performance.now() < stopAt) await once();
  };
  await Promise.all(Array.from({ length: options.connections }, loop));
  const durationUs = (performance.now() - start) * 1000;
  agent.destroy();
  latenciesUs.sort((a, b) => a - b);
  const at = (p: number): number => latenciesUs[Math.min(latenciesUs.length - 1, Math.floor((p / 100) * latenciesUs.length))] ?? 0;
  return `BENCH_JSON ${JSON.stringify({ requests: latenciesUs.length, duration_us: Math.round(durationUs), p50_us: Math.round(at(50)), p99_us: Math.round(at(99)), errors })}`;
}

async function main(): Promise<void> {
  const arg = (flag: string): string => process.argv[process.argv.indexOf(flag) + 1] ?? '';
  console.log(await nodeLoad({ url: arg('--url'), connections: Number(arg('--connections')), seconds: Number(arg('--seconds')), body: arg('--body'), auth: arg('--auth'), tags: arg('--tags') }));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
