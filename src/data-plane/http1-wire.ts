/**
 * HTTP/1.1 framing rules of the proxy (docs/proxy.md "Framing", docs/adr/0007-http1-framing-llhttp.md). The grammar
 * is llhttp's (llhttp.ts, request-parser.ts, response-parser.ts); this module holds what every path applies on top
 * of it — the request verdict (Host, Transfer-Encoding, target form and length, CONNECT) and the proxy's own
 * answers — so the fast path, node:http and upgrades refuse the same requests the same way.
 */

import { equalsLower } from './forward-headers.js';
import { DEFAULT_PROXY_LIMITS } from './proxy-settings.js';

/**
 * The request limits framing applies in this process: `--max-head-bytes` (431) and `--max-target-bytes` (414). A
 * proxy process holds one MeshProxy, which sets them from its settings (and again on each change of its limits).
 */
export const requestLimits = { maxHeadBytes: DEFAULT_PROXY_LIMITS.maxHeadBytes, maxTargetBytes: DEFAULT_PROXY_LIMITS.maxTargetBytes };

export function setRequestLimits(maxHeadBytes: number, maxTargetBytes: number): void {
  requestLimits.maxHeadBytes = maxHeadBytes;
  requestLimits.maxTargetBytes = maxTargetBytes;
}

/** A request head as llhttp framed it (request-parser.ts); one per connection, refilled for each request. */
export interface RequestHead {
  method: string;
  url: string;
  /** [name, value, name, value, ...] as the client spelled the names, like Node's `rawHeaders`. */
  raw: string[];
  /** Bytes of the head, CRLFCRLF included. */
  headBytes: number;
  /** Content-Length of the body (0: none). */
  bodyBytes: number;
  /** The connection closes after this exchange (Connection: close, or HTTP/1.0 without keep-alive). */
  close: boolean;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  versionMinor: number;
  /** A Transfer-Encoding field was sent (its value in `transferEncoding`). */
  chunked: boolean;
  transferEncoding: string | null;
  /** An Upgrade field was sent (or llhttp saw an upgrade). */
  upgrade: boolean;
  expect: boolean;
}

/**
 * The start line received so far (`buf[0..length)`, a head not yet complete) already holds a target longer than
 * requestLimits.maxTargetBytes. Judged on the bytes, not on how the reads cut them.
 */
export function targetTooLongSoFar(buf: Buffer, length: number): boolean {
  const max = requestLimits.maxTargetBytes;
  if (length <= max) return false;
  let i = 0;
  while (i < length && (buf[i] === 13 || buf[i] === 10)) i++; // llhttp skips empty lines before a request
  const space = buf.indexOf(32, i);
  if (space === -1 || space >= length) return false;
  const lineEnd = buf.indexOf(10, space);
  const targetEnd = lineEnd === -1 || lineEnd >= length ? length : lineEnd;
  return targetEnd - space - 1 > max + 9; // " HTTP/1.1\r" may follow the target
}

/** What the proxy does with a request head llhttp accepted (`requestVerdict`). */
export const FORWARD = 0;
/** `OPTIONS *`: about the server itself (RFC 9110 9.3.7), answered by the proxy. */
export const ANSWER_OPTIONS = 1;
export const REFUSE_NO_HOST = 2;
export const REFUSE_HOSTS = 3;
export const REFUSE_BAD_HOST = 4;
export const REFUSE_TRANSFER_ENCODING = 5;
export const REFUSE_TARGET = 6;
export const REFUSE_TARGET_TOO_LONG = 7;
export const REFUSE_CONNECT = 8;

/** Characters of a Host value (RFC 3986 reg-name, IP literals, port): anything else is a 400. */
const HOST_CHARS = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=%:[]") HOST_CHARS[c.charCodeAt(0)] = 1;

function validHost(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || HOST_CHARS[c] !== 1) return false;
  }
  return true;
}

/**
 * The rules of RFC 9112 a parser does not apply, the same for every path (fast path, node:http, upgrades), on a
 * head llhttp has accepted: HTTP/1.1 needs exactly one valid Host; a Transfer-Encoding must be exactly `chunked`
 * (and never beside Content-Length); the target is origin-form, absolute-form or `*` for OPTIONS, at most
 * requestLimits.maxTargetBytes; CONNECT is not offered. FORWARD, ANSWER_OPTIONS or a REFUSE_* reason.
 */
export function requestVerdict(method: string, url: string, versionMinor: number, raw: readonly string[]): number {
  let hosts = 0;
  let host = '';
  let transferEncoding: string | null = null;
  let contentLength = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    switch (name.length) {
      case 4:
        if (equalsLower(name, 'host')) {
          hosts++;
          host = raw[i + 1]!;
        }
        break;
      case 14:
        if (equalsLower(name, 'content-length')) contentLength = true;
        break;
      case 17:
        if (equalsLower(name, 'transfer-encoding')) transferEncoding = transferEncoding === null ? raw[i + 1]! : `${transferEncoding},`;
        break;
    }
  }
  if (method === 'CONNECT') return REFUSE_CONNECT;
  if (hosts > 1) return REFUSE_HOSTS;
  if (hosts === 0 && versionMinor >= 1) return REFUSE_NO_HOST;
  if (hosts === 1 && !validHost(host)) return REFUSE_BAD_HOST;
  if (transferEncoding !== null && (contentLength || !equalsLower(transferEncoding, 'chunked'))) return REFUSE_TRANSFER_ENCODING;
  if (url.length > requestLimits.maxTargetBytes) return REFUSE_TARGET_TOO_LONG;
  const first = url.charCodeAt(0);
  if (first === 47 /* / */) return FORWARD;
  if (url === '*') return method === 'OPTIONS' ? ANSWER_OPTIONS : REFUSE_TARGET;
  const scheme = url.indexOf('://');
  return scheme > 0 && scheme <= 5 ? FORWARD : REFUSE_TARGET;
}

/** A refusal as the client gets it. */
export interface Refusal {
  status: number;
  code: string;
  message: string;
}

/** The answer to a refused request: a REFUSE_* verdict, or llhttp's error code (`HPE_*`) for bytes it refused. */
export function refusal(reason: number | string): Refusal {
  switch (reason) {
    case REFUSE_NO_HOST:
      return { status: 400, code: 'bad-request', message: 'bad request: an HTTP/1.1 request needs a Host field' };
    case REFUSE_HOSTS:
      return { status: 400, code: 'bad-request', message: 'bad request: more than one Host field' };
    case REFUSE_BAD_HOST:
      return { status: 400, code: 'bad-request', message: 'bad request: invalid Host field' };
    case REFUSE_TRANSFER_ENCODING:
      return {
        status: 400,
        code: 'bad-request',
        message: 'bad request: Transfer-Encoding must be exactly "chunked", without Content-Length',
      };
    case REFUSE_TARGET:
      return { status: 400, code: 'bad-request', message: 'bad request: the target must start with / (or be absolute, or * for OPTIONS)' };
    case REFUSE_TARGET_TOO_LONG:
    case 'URI_TOO_LONG':
      return { status: 414, code: 'target-too-long', message: `request target longer than ${requestLimits.maxTargetBytes} bytes` };
    case REFUSE_CONNECT:
      return { status: 501, code: 'method-not-supported', message: 'CONNECT is not supported by this proxy' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'head-too-large', message: `request head larger than ${requestLimits.maxHeadBytes} bytes` };
    default:
      return { status: 400, code: 'bad-request', message: `bad request: malformed HTTP/1.1 (${reason})` };
  }
}

/** The answer to `OPTIONS *` (RFC 9110 9.3.7): what the proxy itself allows, no body. */
export function optionsAnswer(close: boolean): string {
  return `HTTP/1.1 200 OK\r\nallow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\ncontent-length: 0\r\n${close ? 'connection: close\r\n' : ''}\r\n`;
}

/** How a response body is delimited on the upstream connection. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export const BODY_UNTIL_CLOSE = 3;

/** A response head as llhttp framed it (response-parser.ts); one per upstream connection. */
export interface ResponseHead {
  status: number;
  /** The status line to send the client, CRLF included (`HTTP/1.1 200 OK\r\n`). */
  statusLine: string;
  /**
   * The end-to-end fields as `name: value\r\n` lines (hop-by-hop ones, framing ones and those named by
   * Connection removed; Content-Length added back when the answer has one).
   */
  fields: string;
  framing: number;
  contentLength: number;
  /** The upstream connection cannot carry another request after this answer. */
  close: boolean;
}

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  404: 'Not Found',
  408: 'Request Timeout',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** A reason phrase fit to send on: no control characters (llhttp lets them through), else '' (the standard one). */
export function cleanReason(reason: string | undefined): string {
  if (reason === undefined) return '';
  for (let i = 0; i < reason.length; i++) {
    const c = reason.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return '';
  }
  return reason;
}

/** The status line's reason phrase the proxy sends (the upstream's own when it gave one). */
export function reasonPhrase(status: number, given: string): string {
  if (given !== '') return given;
  return REASONS[status] ?? 'Unknown';
}

// Parsed where the core can share it with the control plane's configuration (canary up's ingress address).
export { hostAndPort } from '../core/address.js';

/**
 * The head and body of an answer the proxy makes itself on a raw socket (the fast path, a refused upgrade): the
 * same plain-text body and `x-canary-error` as node:http's `sendProxyError`, with `connection: close` on request.
 */
export function proxyErrorAnswer(status: number, code: string, message: string, close: boolean): string {
  const body = `${message}\n`;
  return (
    `HTTP/1.1 ${status} ${reasonPhrase(status, '')}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nx-canary-error: ${code}\r\n${close ? 'connection: close\r\n' : ''}\r\n${body}`
  );
}
