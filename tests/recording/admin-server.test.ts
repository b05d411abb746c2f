import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdminServer } from '../../src/recording/admin-server.ts';
import { EXPOSITION_CONTENT_TYPE } from '../../src/recording/metrics.ts';

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

const EXPOSITION = '# HELP up_total Up.\n# TYPE up_total counter\nup_total 1\n';

let server: Server;
let port = 0;
let ready = true;
let renderError: Error | null = null;

function ask(method: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  server = createAdminServer({
    metrics: {
      render() {
        if (renderError !== null) throw renderError;
        return EXPOSITION;
      },
    },
    isReady: () => ready,
  });
  assert.equal(server.listening, false, 'createAdminServer must not listen by itself');
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

describe('admin routes', () => {
  test('GET /healthz answers 200 ok as uncached plain text', async () => {
    const a = await ask('GET', '/healthz');
    assert.equal(a.status, 200);
    assert.equal(a.body, 'ok\n');
    assert.equal(a.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(a.headers['cache-control'], 'no-store');
  });

  test('GET /metrics answers the rendered exposition with the 0.0.4 content type', async () => {
    const a = await ask('GET', '/metrics');
    assert.equal(a.status, 200);
    assert.equal(a.body, EXPOSITION);
    assert.equal(a.headers['content-type'], EXPOSITION_CONTENT_TYPE);
    assert.equal(a.headers['content-length'], String(Buffer.byteLength(EXPOSITION)));
    assert.equal(a.headers['cache-control'], 'no-store');
  });

  test('the query string is ignored for routing', async () => {
    assert.equal((await ask('GET', '/metrics?name[]=up_total')).body, EXPOSITION);
    assert.equal((await ask('GET', '/healthz?verbose')).status, 200);
  });

  test('/readyz answers 200 while ready and 503 once shutdown has begun, then 200 again if ready again', async () => {
    ready = true;
    const up = await ask('GET', '/readyz');
    assert.equal(up.status, 200);
    assert.equal(up.body, 'ready\n');
    ready = false;
    try {
      const down = await ask('GET', '/readyz');
      assert.equal(down.status, 503);
      assert.equal(down.body, 'shutting down\n');
      assert.equal((await ask('GET', '/healthz')).status, 200, 'liveness stays 200 while draining');
    } finally {
      ready = true;
    }
    assert.equal((await ask('GET', '/readyz')).status, 200);
  });

  test('HEAD answers like GET without a body', async () => {
    const a = await ask('HEAD', '/metrics');
    assert.equal(a.status, 200);
    assert.equal(a.body, '');
    assert.equal(a.headers['content-type'], EXPOSITION_CONTENT_TYPE);
    assert.equal(a.headers['content-length'], String(Buffer.byteLength(EXPOSITION)));
    assert.equal((await ask('HEAD', '/healthz')).status, 200);
  });

  test('other methods on the admin paths answer 405 with Allow: GET, HEAD', async () => {
    for (const [method, path] of [['POST', '/metrics'], ['DELETE', '/healthz'], ['PUT', '/readyz'], ['OPTIONS', '/metrics']]) {
      const a = await ask(method as string, path as string);
      assert.equal(a.status, 405, `${method} ${path}`);
      assert.equal(a.headers['allow'], 'GET, HEAD');
    }
  });

  test('every other path answers 404, whatever the method', async () => {
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/metrics/'],
      ['GET', '/METRICS'],
      ['GET', '/v1/chat/completions'],
      ['POST', '/nope'],
      ['GET', 'http://127.0.0.1/metrics'],
    ]) {
      const a = await ask(method as string, path as string);
      assert.equal(a.status, 404, `${method} ${path}`);
      assert.equal(a.body, 'not found\n');
    }
  });

  test('a render that throws answers 500 and the listener keeps serving', async () => {
    renderError = new Error('boom');
    try {
      const a = await ask('GET', '/metrics');
      assert.equal(a.status, 500);
      assert.equal(a.body, 'internal error\n');
    } finally {
      renderError = null;
    }
    assert.equal((await ask('GET', '/metrics')).status, 200);
  });
});
