// The errors lm-proxy answers itself, each with a stable code. The code is what
// goes on the wire, into metrics and into logs; the message is for humans.
// Bodies use the OpenAI error shape so SDKs show the message (SPEC §3). Pure.

export type ProxyErrorCode =
  | 'invalid_path'
  | 'invalid_request'
  | 'headers_too_large'
  | 'request_timeout'
  | 'method_not_allowed'
  | 'upgrade_not_supported'
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'upstream_invalid_response'
  | 'upstream_reset';

export interface ProxyError {
  readonly status: number;
  readonly code: ProxyErrorCode;
  readonly message: string;
}

const STATUS: { readonly [C in ProxyErrorCode]: number } = {
  invalid_path: 400,
  invalid_request: 400,
  headers_too_large: 431,
  request_timeout: 408,
  method_not_allowed: 405,
  upgrade_not_supported: 501,
  upstream_unreachable: 502,
  upstream_timeout: 504,
  upstream_invalid_response: 502,
  // A reused upstream socket that died before answering a POST: the upstream may
  // already be running the (paid) generation, so it is never retried (SPEC §8).
  upstream_reset: 502,
};

export function proxyError(code: ProxyErrorCode, message: string): ProxyError {
  return { status: STATUS[code], code, message };
}

/** `{"error":{"message":…,"type":"proxy_error","code":…}}` as bytes, ready for the wire. */
export function errorBody(error: ProxyError): Buffer {
  return Buffer.from(
    JSON.stringify({ error: { message: error.message, type: 'proxy_error', code: error.code } }),
  );
}

/** Maps a Node socket/TLS/DNS error to the message a client may see. Never echoes request data. */
export function describeUpstreamFailure(err: NodeJS.ErrnoException): string {
  const code = err.code ?? 'UNKNOWN';
  switch (code) {
    case 'ECONNREFUSED':
      return 'the upstream refused the connection';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the upstream host name could not be resolved';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the upstream closed the connection before answering';
    case 'ETIMEDOUT':
    case 'LMP_CONNECT_TIMEOUT':
      return 'connecting to the upstream timed out';
    default:
      return isTlsFailure(code) ? `TLS handshake with the upstream failed (${code})` : `the upstream could not be reached (${code})`;
  }
}

// Node reports certificate checks with OpenSSL's X509 verify names (UNABLE_TO_VERIFY_LEAF_SIGNATURE
// for an untrusted issuer, CERT_HAS_EXPIRED, HOSTNAME_MISMATCH, …), its own ERR_TLS_*/ERR_SSL_*
// codes, and EPROTO when the far end does not speak TLS at all (https:// to a plain port).
function isTlsFailure(code: string): boolean {
  return (
    code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.startsWith('UNABLE_TO_') ||
    code.includes('CERT') || code.includes('CRL') || code === 'HOSTNAME_MISMATCH' || code === 'EPROTO'
  );
}
