// The bare pipe proxy: the floor for any Node reverse proxy (http.request + pipe, keep-alive agent).
// It does nothing a real proxy must (no header filtering, no error shape, no abort on client close):
// it is a reference, never a model. Run alone:
//   node --import tsx scripts/bench/bare-pipe-proxy.ts --upstream http://127.0.0.1:8080 --listen 127.0.0.1:3001

import http from 'node:http';
import { pathToFileURL } from 'node:url';

export function createBarePipeProxy(upstream: URL): http.Server {
  const agent = new http.Agent({ keepAlive: true });
  return http.createServer((req, res) => {
    const headers = { ...req.headers, host: upstream.host };
    const upReq = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    upReq.on('error', () => res.destroy());
    req.pipe(upReq);
  });
}

function main(): void {
  const arg = (flag: string): string => process.argv[process.argv.indexOf(flag) + 1] ?? '';
  const [host, port] = arg('--listen').split(':');
  createBarePipeProxy(new URL(arg('--upstream'))).listen(Number(port), host, () => console.log(`listening on ${arg('--listen')}`));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
