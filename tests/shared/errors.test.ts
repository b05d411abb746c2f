import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeUpstreamFailure, errorBody, proxyError, type ProxyErrorCode } from '../../src/shared/errors.ts';

// SPEC §3 and §8 name the status of each error the proxy answers itself.
const STATUS_BY_CODE: Readonly<Record<ProxyErrorCode, number>> = {
  invalid_path: 400,
  invalid_request: 400,
  headers_too_large: 431,
  request_timeout: 408,
  method_not_allowed: 405,
  upgrade_not_supported: 501,
  upstream_unreachable: 502,
  upstream_timeout: 504,
  upstream_invalid_response: 502,
  upstream_reset: 502,
};

function errnoError(code: string | undefined, message = 'boom'): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  if (code !== undefined) err.code = code;
  return err;
}

describe('proxyError', () => {
  test('each code has its status', () => {
    for (const [code, status] of Object.entries(STATUS_BY_CODE) as [ProxyErrorCode, number][]) {
      assert.deepEqual(proxyError(code, 'm'), { status, code, message: 'm' }, code);
    }
  });
});

describe('errorBody', () => {
  test('is the OpenAI error shape with type proxy_error and the code', () => {
    const body = errorBody(proxyError('upstream_timeout', 'no response headers within 600000 ms'));
    assert.ok(Buffer.isBuffer(body));
    assert.equal(body.toString('utf8'), '{"error":{"message":"no response headers within 600000 ms","type":"proxy_error","code":"upstream_timeout"}}');
  });

  test('every code gives a body that parses to exactly error.message, error.type and error.code', () => {
    for (const code of Object.keys(STATUS_BY_CODE) as ProxyErrorCode[]) {
      const parsed = JSON.parse(errorBody(proxyError(code, `about ${code}`)).toString('utf8')) as unknown;
      assert.deepEqual(parsed, { error: { message: `about ${code}`, type: 'proxy_error', code } });
    }
  });

  test('a message with quotes, breaks and non-ASCII text stays valid JSON, encoded as UTF-8', () => {
    const message = 'a "quoted" \\ path\nnext \u00e9 \u{1F600}';
    const body = errorBody(proxyError('invalid_request', message));
    assert.equal((JSON.parse(body.toString('utf8')) as { error: { message: string } }).error.message, message);
    assert.equal(body.length, Buffer.byteLength(body.toString('utf8')));
  });
});

describe('describeUpstreamFailure', () => {
  test('names the kind of failure for the common socket and DNS codes', () => {
    assert.equal(describeUpstreamFailure(errnoError('ECONNREFUSED')), 'the upstream refused the connection');
    assert.equal(describeUpstreamFailure(errnoError('ENOTFOUND')), 'the upstream host name could not be resolved');
    assert.equal(describeUpstreamFailure(errnoError('EAI_AGAIN')), 'the upstream host name could not be resolved');
    assert.equal(describeUpstreamFailure(errnoError('ECONNRESET')), 'the upstream closed the connection before answering');
    assert.equal(describeUpstreamFailure(errnoError('EPIPE')), 'the upstream closed the connection before answering');
    assert.equal(describeUpstreamFailure(errnoError('ETIMEDOUT')), 'connecting to the upstream timed out');
    assert.equal(describeUpstreamFailure(errnoError('LMP_CONNECT_TIMEOUT')), 'connecting to the upstream timed out');
  });

  test('TLS and certificate failures say TLS and give the code', () => {
    // The codes Node 20 gives for an untrusted issuer, a name mismatch, https:// to a plain port, and others.
    const codes = [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EPROTO',
      'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'HOSTNAME_MISMATCH',
      'CRL_HAS_EXPIRED', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_TLS_HANDSHAKE_TIMEOUT',
    ];
    for (const code of codes) {
      const text = describeUpstreamFailure(errnoError(code));
      assert.match(text, /^TLS handshake with the upstream failed/, code);
      assert.ok(text.includes(code), code);
    }
  });

  test('any other code is named; an error without a code says UNKNOWN', () => {
    assert.equal(describeUpstreamFailure(errnoError('EHOSTUNREACH')), 'the upstream could not be reached (EHOSTUNREACH)');
    assert.equal(describeUpstreamFailure(errnoError(undefined)), 'the upstream could not be reached (UNKNOWN)');
  });

  test('the message never includes request data carried in the error (SPEC §3: no credential in an error body)', () => {
    const secrets = ['sk-secret-123', 'Bearer sk-secret-123', 'evil.example', '/v1/chat/completions?key=AIzaSecret'];
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EHOSTUNREACH', undefined]) {
      const err = errnoError(code, `getaddrinfo ENOTFOUND evil.example for /v1/chat/completions?key=AIzaSecret with Bearer sk-secret-123`);
      Object.assign(err, { hostname: 'evil.example', path: '/v1/chat/completions?key=AIzaSecret', headers: { authorization: 'Bearer sk-secret-123' } });
      const text = describeUpstreamFailure(err);
      for (const secret of secrets) assert.ok(!text.includes(secret), `${String(code)}: ${text}`);
    }
  });
});
