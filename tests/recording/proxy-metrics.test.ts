import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createProxyMetrics, LATENCY_BUCKETS_SECONDS, UPSTREAM_ERROR_CODES } from '../../src/recording/proxy-metrics.ts';

/** Samples of one family, e.g. lines starting `lm_proxy_tokens_total{`. */
function lines(text: string, prefix: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(prefix));
}

function finished(method: string, status: number, durationMs = 10, ttfbMs: number | null = 5) {
  return { method, status, durationMs, ttfbMs };
}

describe('lm_proxy_requests_total', () => {
  test('counts every finished request by method and status, the proxy\'s own answers included', () => {
    const m = createProxyMetrics();
    for (const [method, status] of [['POST', 200], ['POST', 200], ['GET', 404], ['POST', 502], ['CONNECT', 405]] as const) {
      m.requestStarted();
      m.requestFinished(finished(method, status));
    }
    assert.deepEqual(lines(m.render(), 'lm_proxy_requests_total{'), [
      'lm_proxy_requests_total{method="CONNECT",status="405"} 1',
      'lm_proxy_requests_total{method="GET",status="404"} 1',
      'lm_proxy_requests_total{method="POST",status="200"} 2',
      'lm_proxy_requests_total{method="POST",status="502"} 1',
    ]);
  });

  test('non-standard and lower-case methods fold into OTHER', () => {
    const m = createProxyMetrics();
    for (const method of ['PROPFIND', 'PURGE', 'get', 'QUERY', 'PATCH']) m.requestFinished(finished(method, 200));
    assert.deepEqual(lines(m.render(), 'lm_proxy_requests_total{'), [
      'lm_proxy_requests_total{method="OTHER",status="200"} 4',
      'lm_proxy_requests_total{method="PATCH",status="200"} 1',
    ]);
  });

  test('a status outside 100-599 is labelled other', () => {
    const m = createProxyMetrics();
    m.requestFinished(finished('GET', 0));
    m.requestFinished(finished('GET', 600));
    m.requestFinished(finished('GET', 200.5));
    assert.deepEqual(lines(m.render(), 'lm_proxy_requests_total{'), ['lm_proxy_requests_total{method="GET",status="other"} 3']);
  });
});

describe('lm_proxy_tokens_total', () => {
  test('adds prompt and completion tokens per model', () => {
    const m = createProxyMetrics();
    m.tokens('gpt-4o', 10, 20);
    m.tokens('gpt-4o', 1, 2);
    assert.deepEqual(lines(m.render(), 'lm_proxy_tokens_total{'), [
      'lm_proxy_tokens_total{model="gpt-4o",type="completion"} 22',
      'lm_proxy_tokens_total{model="gpt-4o",type="prompt"} 11',
    ]);
  });

  test('an embeddings response adds 0 to the completion series, so the series exists', () => {
    const m = createProxyMetrics();
    m.tokens('text-embedding-3-small', 8, 0);
    assert.deepEqual(lines(m.render(), 'lm_proxy_tokens_total{'), [
      'lm_proxy_tokens_total{model="text-embedding-3-small",type="completion"} 0',
      'lm_proxy_tokens_total{model="text-embedding-3-small",type="prompt"} 8',
    ]);
  });

  test('a null model counts as unknown, and says so in HELP', () => {
    const m = createProxyMetrics();
    m.tokens(null, 3, 4);
    const text = m.render();
    assert.deepEqual(lines(text, 'lm_proxy_tokens_total{'), [
      'lm_proxy_tokens_total{model="unknown",type="completion"} 4',
      'lm_proxy_tokens_total{model="unknown",type="prompt"} 3',
    ]);
    assert.match(text, /# HELP lm_proxy_tokens_total .*model="unknown"/);
  });

  test('after maxModels distinct models, new ones fold into other while known ones keep their label', () => {
    const m = createProxyMetrics({ maxModels: 2 });
    m.tokens('a', 1, 0);
    m.tokens(null, 1, 0); // unknown does not use up the cap
    m.tokens('b', 1, 0);
    m.tokens('c', 1, 0);
    m.tokens('d', 1, 0);
    m.tokens('a', 1, 0);
    assert.deepEqual(lines(m.render(), 'lm_proxy_tokens_total{').filter((l) => l.includes('prompt')), [
      'lm_proxy_tokens_total{model="a",type="prompt"} 2',
      'lm_proxy_tokens_total{model="b",type="prompt"} 1',
      'lm_proxy_tokens_total{model="other",type="prompt"} 2',
      'lm_proxy_tokens_total{model="unknown",type="prompt"} 1',
    ]);
  });

  test('the default cap is 200 distinct models', () => {
    const m = createProxyMetrics();
    for (let i = 0; i < 250; i++) m.tokens(`model-${i}`, 1, 1);
    const prompt = lines(m.render(), 'lm_proxy_tokens_total{').filter((l) => l.includes('type="prompt"'));
    assert.equal(prompt.length, 201);
    assert.ok(prompt.includes('lm_proxy_tokens_total{model="other",type="prompt"} 50'));
  });

  test('an absurdly long model name folds into other', () => {
    const m = createProxyMetrics();
    m.tokens('x'.repeat(1000), 1, 1);
    assert.equal(lines(m.render(), 'lm_proxy_tokens_total{model="other"').length, 2);
  });
});

describe('latency histograms', () => {
  test('duration and time to first byte are observed in seconds', () => {
    const m = createProxyMetrics();
    m.requestFinished(finished('POST', 200, 1500, 250));
    const text = m.render();
    assert.ok(text.includes('lm_proxy_request_duration_seconds_bucket{le="1"} 0\n'));
    assert.ok(text.includes('lm_proxy_request_duration_seconds_bucket{le="2.5"} 1\n'));
    assert.ok(text.includes('lm_proxy_request_duration_seconds_sum 1.5\n'));
    assert.ok(text.includes('lm_proxy_time_to_first_byte_seconds_bucket{le="0.1"} 0\n'));
    assert.ok(text.includes('lm_proxy_time_to_first_byte_seconds_bucket{le="0.25"} 1\n'));
    assert.ok(text.includes('lm_proxy_time_to_first_byte_seconds_sum 0.25\n'));
  });

  test('a request without an upstream response is not observed as time to first byte', () => {
    const m = createProxyMetrics();
    m.requestFinished(finished('POST', 502, 3, null));
    const text = m.render();
    assert.ok(text.includes('lm_proxy_request_duration_seconds_count 1\n'));
    assert.ok(text.includes('lm_proxy_time_to_first_byte_seconds_count 0\n'));
  });

  test('buckets span 5 ms to 10 minutes', () => {
    assert.equal(LATENCY_BUCKETS_SECONDS[0], 0.005);
    assert.equal(LATENCY_BUCKETS_SECONDS.at(-1), 600);
  });
});

describe('lm_proxy_upstream_errors_total and lm_proxy_active_requests', () => {
  test('known error codes exist at 0 from the start and count up', () => {
    const m = createProxyMetrics();
    m.upstreamError('upstream_timeout');
    m.upstreamError('upstream_timeout');
    const errors = lines(m.render(), 'lm_proxy_upstream_errors_total{');
    assert.equal(errors.length, UPSTREAM_ERROR_CODES.length);
    assert.ok(errors.includes('lm_proxy_upstream_errors_total{code="upstream_timeout"} 2'));
    assert.ok(errors.includes('lm_proxy_upstream_errors_total{code="upstream_unreachable"} 0'));
  });

  test('active requests rise on start and fall on finish', () => {
    const m = createProxyMetrics();
    m.requestStarted();
    m.requestStarted();
    assert.deepEqual(lines(m.render(), 'lm_proxy_active_requests '), ['lm_proxy_active_requests 2']);
    m.requestFinished(finished('GET', 200));
    assert.deepEqual(lines(m.render(), 'lm_proxy_active_requests '), ['lm_proxy_active_requests 1']);
  });
});

describe('the exposition', () => {
  function busy() {
    const m = createProxyMetrics();
    m.requestStarted();
    m.requestFinished(finished('POST', 200, 812, 95));
    m.requestStarted();
    m.requestFinished(finished('BREW', 502, 2, null));
    m.requestStarted();
    m.tokens('llama3:8b "q4"\\\n', 15, 42);
    m.tokens(null, 9, 0);
    m.upstreamError('upstream_reset');
    return m.render();
  }

  test('carries every family SPEC §6 names, and no label by key, user or path', () => {
    const text = busy();
    for (const family of [
      'lm_proxy_requests_total counter',
      'lm_proxy_tokens_total counter',
      'lm_proxy_request_duration_seconds histogram',
      'lm_proxy_time_to_first_byte_seconds histogram',
      'lm_proxy_upstream_errors_total counter',
      'lm_proxy_active_requests gauge',
    ]) {
      assert.ok(text.includes(`\n# TYPE ${family}\n`), family);
    }
    const labelNames = new Set([...text.matchAll(/[{,]([a-zA-Z_]+)="/g)].map((match) => match[1]));
    assert.deepEqual([...labelNames].sort(), ['code', 'le', 'method', 'model', 'status', 'type']);
  });

  test('passes promtool check metrics', (t) => {
    const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (probe.error !== undefined) {
      t.skip('promtool not installed: apt-get install prometheus to run this check');
      return;
    }
    const result = spawnSync('promtool', ['check', 'metrics'], { input: busy(), encoding: 'utf8' });
    assert.equal(result.status, 0, `promtool: ${result.stdout}${result.stderr}`);
  });
});
