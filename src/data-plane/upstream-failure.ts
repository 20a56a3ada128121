/** How the proxy classifies a failed upstream exchange, shared by the fast path and the node:http path. */

/** Methods retried once on another endpoint when the failure came before any response byte (RFC 9110 9.2.2). */
export function isIdempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'PUT':
    case 'DELETE':
      return true;
    default:
      return false;
  }
}

/** The error's `code` (Node and undici errors carry one), or `UNKNOWN`. */
export function errorCodeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** Timeouts answer 504. */
export function isTimeout(code: string): boolean {
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/** The endpoint could not be reached at all: safe to retry elsewhere whatever the method. */
export function isConnectFailure(code: string): boolean {
  return (
    code === 'ECONNREFUSED' ||
    code === 'EHOSTUNREACH' ||
    code === 'ENETUNREACH' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'EADDRNOTAVAIL'
  );
}

/**
 * The connection was reset or closed under the request (ECONNRESET, EPIPE, a socket closed before any answer):
 * on a pooled keep-alive connection, most likely one the upstream had just closed; a fresh one usually works.
 */
export function isConnectionReset(code: string): boolean {
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET';
}
