// The best-known Node peer, `http-proxy` (node-http-proxy), configured as its README suggests for a
// reverse proxy with a keep-alive agent. Bundled into .bench/ next to the copy that the bench
// installs there with `npm i --no-save`; http-proxy is never a dependency of the project.
//   node .bench/http-proxy-peer.mjs --upstream http://127.0.0.1:8080 --listen 127.0.0.1:3002

import http from 'node:http';
// @ts-expect-error: installed at bench time into .bench/node_modules, without types
import httpProxy from 'http-proxy';

interface ProxyServer {
  web(req: http.IncomingMessage, res: http.ServerResponse): void;
  on(event: 'error', listener: (error: Error, req: http.IncomingMessage, res: http.ServerResponse) => void): void;
}

const arg = (flag: string): string => process.argv[process.argv.indexOf(flag) + 1] ?? '';
const [host, port] = arg('--listen').split(':');
const proxy = (httpProxy as { createProxyServer(options: object): ProxyServer }).createProxyServer({
  target: arg('--upstream'),
  changeOrigin: true,
  agent: new http.Agent({ keepAlive: true }),
});
proxy.on('error', (_error, _req, res) => res.destroy());
http.createServer((req, res) => proxy.web(req, res)).listen(Number(port), host, () => console.log(`listening on ${arg('--listen')}`));
