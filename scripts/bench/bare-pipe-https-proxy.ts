// The bare pipe proxy for an https upstream: bare-pipe-proxy.ts on an https.Agent with keep-alive and
// Node's defaults otherwise (its session cache; idle sockets kept until the upstream's Keep-Alive
// hint, less a second, or until the upstream closes them). Unlike bare-pipe-proxy.ts it drops
// `Connection` and `Keep-Alive` (RFC 9110 §7.6.1): a client's `Connection: close` passed on would
// make the upstream close its socket after every response, and no pool would survive a fresh
// client connection. A reference, never a model. Run alone:
//   NODE_EXTRA_CA_CERTS=tests/fixtures/tls/ca.pem node --import tsx scripts/bench/bare-pipe-https-proxy.ts \
//     --upstream https://localhost:8443 --listen 127.0.0.1:3001

import http from 'node:http';
import https from 'node:https';
import { pathToFileURL } from 'node:url';

/** https upstreams as above; http ones (the scenarios' --plain) on an http.Agent alike. */
export function createBarePipeHttpsProxy(upstream: URL): http.Server {
  const isHttps = upstream.protocol === 'https:';
  const agent = isHttps ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  const send = isHttps ? https.request : (http.request as typeof https.request);
  return http.createServer((req, res) => {
    const { connection: _connection, 'keep-alive': _keepAlive, ...rest } = req.headers;
    const headers = { ...rest, host: upstream.host };
    const upReq = send({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (upRes) => {
      const { connection: _c, 'keep-alive': _k, ...upHeaders } = upRes.headers;
      res.writeHead(upRes.statusCode ?? 502, upHeaders);
      upRes.pipe(res);
    });
    upReq.on('error', () => res.destroy());
    req.pipe(upReq);
  });
}

function main(): void {
  const arg = (flag: string): string => process.argv[process.argv.indexOf(flag) + 1] ?? '';
  const [host, port] = arg('--listen').split(':');
  createBarePipeHttpsProxy(new URL(arg('--upstream'))).listen(Number(port), host, () => console.log(`listening on ${arg('--listen')}`));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
