/**
 * HTTP/1.1 message heads for the proxy's fast path (docs/adr/0003-proxy-hot-path.md): just enough of RFC 9112 to
 * carry the common case — a request with no body or a Content-Length body, a response framed by Content-Length,
 * chunked coding or the end of the connection — and to say "not mine" for everything else, which then goes to
 * Node's own HTTP server. Heads are read as latin1 strings (one decode per head); nothing is allocated per header
 * beyond the name and value strings of the flat list.
 */

import { equalsLower } from './forward-headers.js';

/** Largest head the fast path reads before handing the connection to node:http (which answers 431). */
export const MAX_HEAD_BYTES = 16 * 1024;

/** A request head the fast path can carry; one per connection, refilled for each request. */
export interface RequestHead {
  method: string;
  url: string;
  /** [name, value, name, value, ...] as the client spelled the names, like Node's `rawHeaders`. */
  raw: string[];
  /** Bytes of the head, CRLFCRLF included. */
  headBytes: number;
  /** Content-Length of the body (0: none). */
  bodyBytes: number;
  /** The client asked to close the connection after this exchange. */
  close: boolean;
}

function isTokenChar(c: number): boolean {
  // RFC 9110 tchar: visible ASCII except separators.
  if (c <= 32 || c >= 127) return false;
  switch (c) {
    case 34: // "
    case 40: // (
    case 41: // )
    case 44: // ,
    case 47: // /
    case 58: // :
    case 59: // ;
    case 60: // <
    case 61: // =
    case 62: // >
    case 63: // ?
    case 64: // @
    case 91: // [
    case 92: // \
    case 93: // ]
    case 123: // {
    case 125: // }
      return false;
    default:
      return true;
  }
}

/** TOKEN_CHARS[c] is 1 for the RFC 9110 tchar characters (c < 128). */
const TOKEN_CHARS = new Uint8Array(256);
for (let c = 0; c < 128; c++) TOKEN_CHARS[c] = isTokenChar(c) ? 1 : 0;

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

function isDigits(s: string): boolean {
  if (s.length === 0 || s.length > 15) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Bytes scanned in JS before headEnd hands the rest of a long buffer to Buffer#indexOf. */
const HEAD_SCAN_BYTES = 1024;

/** Index of CRLFCRLF in `buf` from `from`, or -1. */
export function headEnd(buf: Buffer, from: number): number {
  // A typical head is a few hundred bytes: a plain loop finds its end without a call into C++.
  const n = buf.length;
  const stop = Math.min(n - 3, from + HEAD_SCAN_BYTES);
  for (let i = from; i < stop; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  if (stop >= n - 3) return -1;
  return buf.indexOf('\r\n\r\n', stop, 'latin1');
}

export function emptyRequestHead(): RequestHead {
  return { method: '', url: '', raw: [], headBytes: 0, bodyBytes: 0, close: false };
}

/**
 * Parses a request head ending at `end` (the index of its CRLFCRLF) into `into`. Returns false for anything the
 * fast path does not carry: not HTTP/1.1, Transfer-Encoding, Upgrade, Expect, an odd or repeated Content-Length,
 * folded or malformed lines, CONNECT, or a target that is not origin- or absolute-form.
 */
export function parseRequestHead(buf: Buffer, start: number, end: number, into: RequestHead): boolean {
  const text = buf.toString('latin1', start, end);
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = text.length;
  const sp1 = text.indexOf(' ');
  if (sp1 <= 0 || sp1 > lineEnd) return false;
  const sp2 = text.indexOf(' ', sp1 + 1);
  if (sp2 === -1 || sp2 > lineEnd || lineEnd - sp2 !== 9 || !text.startsWith('HTTP/1.1', sp2 + 1)) return false;
  const method = text.slice(0, sp1);
  if (!isToken(method) || method === 'CONNECT') return false;
  const url = text.slice(sp1 + 1, sp2);
  if (url.length === 0) return false;
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c <= 32 || c === 127) return false;
  }
  const first = url.charCodeAt(0);
  if (first !== 47 /* / */ && !(url.startsWith('http://') || url.startsWith('https://'))) return false;
  // A fresh list per request: `length = 0` on a reused one costs a runtime call, more than a young allocation.
  const raw: string[] = [];
  into.raw = raw;
  let bodyBytes = 0;
  let sawLength = false;
  let close = false;
  let at = lineEnd + 2;
  const n = text.length;
  while (at < n) {
    // One pass over the line: the name (token characters up to the colon), then the value up to CRLF (or the
    // end of the head), with no control characters but tab, OWS trimmed.
    let i = at;
    while (i < n && TOKEN_CHARS[text.charCodeAt(i)] === 1) i++;
    if (i === at || i >= n || text.charCodeAt(i) !== 58 /* : */) return false;
    const name = text.slice(at, i);
    i++;
    while (i < n && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
    const valueStart = i;
    let valueEnd = i;
    let next = n;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 13 && text.charCodeAt(i + 1) === 10) {
        next = i;
        break;
      }
      if ((c < 32 && c !== 9) || c === 127) return false;
      if (c !== 32 && c !== 9) valueEnd = i + 1;
    }
    const value = text.slice(valueStart, valueEnd);
    switch (name.length) {
      case 6:
        if (equalsLower(name, 'expect')) return false;
        break;
      case 7:
        if (equalsLower(name, 'upgrade')) return false;
        break;
      case 10:
        if (equalsLower(name, 'connection')) {
          if (equalsLower(value, 'close')) close = true;
          else if (!equalsLower(value, 'keep-alive')) {
            const lower = value.toLowerCase();
            if (lower.includes('upgrade')) return false;
            if (lower.includes('close')) close = true;
          }
        }
        break;
      case 14:
        if (equalsLower(name, 'content-length')) {
          if (sawLength || !isDigits(value)) return false;
          sawLength = true;
          bodyBytes = Number(value);
        }
        break;
      case 17:
        if (equalsLower(name, 'transfer-encoding')) return false;
        break;
    }
    raw.push(name, value);
    at = next + 2;
  }
  into.method = method;
  into.url = url;
  into.headBytes = end + 4 - start;
  into.bodyBytes = bodyBytes;
  into.close = close;
  return true;
}

/** How a response body is delimited on the upstream connection. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export const BODY_UNTIL_CLOSE = 3;

/** A parsed response head; one per upstream connection, refilled for each response. */
export interface ResponseHead {
  status: number;
  /** The status line to send the client, CRLF included (`HTTP/1.1 200 OK\r\n`). */
  statusLine: string;
  /**
   * The end-to-end fields as `name: value\r\n` lines, as the upstream wrote them (hop-by-hop ones and those named
   * by Connection removed, Content-Length normalised to one field).
   */
  fields: string;
  framing: number;
  contentLength: number;
  /** The upstream will close the connection after this response. */
  close: boolean;
}

/** `text[start..end)` equals `lower` (lower-case ASCII) ignoring case; allocates nothing. */
function rangeEqualsLower(text: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = text.charCodeAt(start + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function isTokenRange(text: string, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) if (!isTokenChar(text.charCodeAt(i))) return false;
  return true;
}

/** The decimal value of `text[start..end)` (at most 15 digits), or -1. */
function digitsValue(text: string, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

/** Kind of a response field the proxy does not pass on as it is. */
const FIELD_KEEP = 0;
const FIELD_CONTENT_LENGTH = 1;
const FIELD_CONNECTION = 2;
const FIELD_TRANSFER_ENCODING = 3;
const FIELD_HOP = 4;

/** Same classification as isHopByHopResponseHeader, on a range of the head (no name string is made). */
function responseFieldKind(text: string, start: number, end: number): number {
  switch (end - start) {
    case 7:
      return rangeEqualsLower(text, start, end, 'upgrade') ? FIELD_HOP : FIELD_KEEP;
    case 10:
      if (rangeEqualsLower(text, start, end, 'connection')) return FIELD_CONNECTION;
      return rangeEqualsLower(text, start, end, 'keep-alive') ? FIELD_HOP : FIELD_KEEP;
    case 14:
      return rangeEqualsLower(text, start, end, 'content-length') ? FIELD_CONTENT_LENGTH : FIELD_KEEP;
    case 16:
      return rangeEqualsLower(text, start, end, 'proxy-connection') ? FIELD_HOP : FIELD_KEEP;
    case 17:
      return rangeEqualsLower(text, start, end, 'transfer-encoding') ? FIELD_TRANSFER_ENCODING : FIELD_KEEP;
    case 18:
      return rangeEqualsLower(text, start, end, 'proxy-authenticate') ? FIELD_HOP : FIELD_KEEP;
    default:
      return FIELD_KEEP;
  }
}

/** Removes the field lines whose (lower-cased) names Connection listed. Rare: allocation is fine here. */
function withoutNamedFields(fields: string, named: string[]): string {
  let out = '';
  for (const line of fields.split('\r\n')) {
    if (line === '') continue;
    if (!named.includes(line.slice(0, line.indexOf(':')).toLowerCase())) out += `${line}\r\n`;
  }
  return out;
}

/**
 * Parses a response head (status line and fields up to `end`, the index of its CRLFCRLF) into `into`. Returns
 * false when it is not a well-formed HTTP/1.x head. `noBody`: the request was HEAD (or the status forbids a body).
 * The fields the client gets are runs of the upstream's own lines (one latin1 decode, a slice per run of kept
 * lines); nothing is allocated per field.
 */
export function parseResponseHead(buf: Buffer, start: number, end: number, noBody: boolean, into: ResponseHead): boolean {
  const text = buf.toString('latin1', start, end);
  const n = text.length;
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = n;
  if (lineEnd < 12 || !text.startsWith('HTTP/1.') || text.charCodeAt(8) !== 32) return false;
  const minor = text.charCodeAt(7);
  const http10 = minor === 48; /* 0 */
  const status = digitsValue(text, 9, 12);
  if (status < 100) return false;
  for (let i = 13; i < lineEnd; i++) {
    const c = text.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return false;
  }
  into.status = status;
  // The upstream's own status line when it is HTTP/1.1 with a reason phrase; else one made here.
  into.statusLine =
    minor === 49 /* 1 */ && lineEnd > 13 && text.charCodeAt(12) === 32
      ? text.slice(0, lineEnd + 2)
      : `HTTP/1.1 ${status} ${reasonPhrase(status, lineEnd > 13 ? text.slice(13, lineEnd) : '')}\r\n`;
  let fields = '';
  let runStart = -1;
  let length = -1;
  let chunked = false;
  let sawTransferEncoding = false;
  let close = http10;
  let named: string[] | null = null;
  let at = lineEnd + 2;
  while (at < n) {
    let next = text.indexOf('\r\n', at);
    if (next === -1) next = n;
    const colon = text.indexOf(':', at);
    if (colon <= at || colon > next || !isTokenRange(text, at, colon)) return false;
    // The value, OWS trimmed, must hold no control characters (tab aside).
    let a = colon + 1;
    let b = next;
    while (a < b && (text.charCodeAt(a) === 32 || text.charCodeAt(a) === 9)) a++;
    while (b > a && (text.charCodeAt(b - 1) === 32 || text.charCodeAt(b - 1) === 9)) b--;
    for (let i = a; i < b; i++) {
      const c = text.charCodeAt(i);
      if ((c < 32 && c !== 9) || c === 127) return false;
    }
    const kind = responseFieldKind(text, at, colon);
    if (kind !== FIELD_KEEP) {
      if (kind === FIELD_CONTENT_LENGTH) {
        const value = digitsValue(text, a, b);
        if (value === -1 || (length !== -1 && value !== length)) return false;
        length = value;
      } else if (kind === FIELD_TRANSFER_ENCODING) {
        sawTransferEncoding = true;
        chunked = text.slice(a, b).toLowerCase().endsWith('chunked');
      } else if (kind === FIELD_CONNECTION) {
        if (rangeEqualsLower(text, a, b, 'close')) close = true;
        else if (rangeEqualsLower(text, a, b, 'keep-alive')) close = http10 ? false : close;
        else {
          for (const part of text.slice(a, b).toLowerCase().split(',')) {
            const token = part.trim();
            if (token === 'close') close = true;
            else if (token && token !== 'keep-alive') {
              named ??= [];
              named.push(token);
            }
          }
        }
      }
      // A dropped line ends the run of kept lines before it.
      if (runStart !== -1) {
        fields += text.slice(runStart, at);
        runStart = -1;
      }
    } else if (runStart === -1) {
      runStart = at;
    }
    at = next + 2;
  }
  if (runStart !== -1) fields += `${text.slice(runStart, n)}\r\n`;
  if (named !== null) fields = withoutNamedFields(fields, named);
  into.close = close;
  into.contentLength = 0;
  if (noBody || status < 200 || status === 204 || status === 304) {
    into.framing = BODY_NONE;
    // A HEAD answer keeps its Content-Length: it describes the GET's body.
    if (length !== -1) fields += `content-length: ${length}\r\n`;
  } else if (sawTransferEncoding) {
    // RFC 9112 6.3: Transfer-Encoding wins over Content-Length; not ending in chunked means "until close".
    into.framing = chunked ? BODY_CHUNKED : BODY_UNTIL_CLOSE;
    if (!chunked) into.close = true;
  } else if (length !== -1) {
    into.framing = length === 0 ? BODY_NONE : BODY_LENGTH;
    into.contentLength = length;
    fields += `content-length: ${length}\r\n`;
  } else {
    into.framing = BODY_UNTIL_CLOSE;
    into.close = true;
  }
  into.fields = fields;
  return true;
}

const CHUNK_SIZE = 0;
const CHUNK_EXT = 1;
const CHUNK_SIZE_LF = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_CR = 4;
const CHUNK_DATA_LF = 5;
const TRAILER_LINE_START = 6;
const TRAILER_LINE = 7;
const TRAILER_LF = 8;
const FINAL_LF = 9;
const CHUNK_DONE = 10;
const CHUNK_BAD = 11;

/**
 * Follows chunked coding (RFC 9112 7.1) across arbitrary buffer boundaries without copying, to find where the
 * body ends; the bytes themselves are relayed as they are (trailers included), so the client sees the upstream's
 * chunks and trailers unchanged.
 */
export class ChunkedScanner {
  private state = CHUNK_SIZE;
  private size = 0;
  private digits = 0;

  reset(): void {
    this.state = CHUNK_SIZE;
    this.size = 0;
    this.digits = 0;
  }

  get done(): boolean {
    return this.state === CHUNK_DONE;
  }

  get failed(): boolean {
    return this.state === CHUNK_BAD;
  }

  /** Consumes `buf[from..]`; returns the index just past the body's end, or -1 when the body goes on (or is bad). */
  scan(buf: Buffer, from: number): number {
    let i = from;
    const n = buf.length;
    while (i < n) {
      const c = buf[i]!;
      switch (this.state) {
        case CHUNK_SIZE: {
          const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (d !== -1) {
            if (++this.digits > 12) return this.fail();
            this.size = this.size * 16 + d;
            i++;
          } else if (this.digits === 0) {
            return this.fail();
          } else if (c === 13) {
            this.state = CHUNK_SIZE_LF;
            i++;
          } else if (c === 59 /* ; */ || c === 32 || c === 9) {
            this.state = CHUNK_EXT;
            i++;
          } else return this.fail();
          break;
        }
        case CHUNK_EXT:
          if (c === 13) this.state = CHUNK_SIZE_LF;
          else if (c === 10) return this.fail();
          i++;
          break;
        case CHUNK_SIZE_LF:
          if (c !== 10) return this.fail();
          i++;
          this.digits = 0;
          this.state = this.size === 0 ? TRAILER_LINE_START : CHUNK_DATA;
          break;
        case CHUNK_DATA: {
          const take = Math.min(this.size, n - i);
          this.size -= take;
          i += take;
          if (this.size === 0) this.state = CHUNK_DATA_CR;
          break;
        }
        case CHUNK_DATA_CR:
          if (c !== 13) return this.fail();
          this.state = CHUNK_DATA_LF;
          i++;
          break;
        case CHUNK_DATA_LF:
          if (c !== 10) return this.fail();
          this.state = CHUNK_SIZE;
          i++;
          break;
        case TRAILER_LINE_START:
          if (c === 13) this.state = FINAL_LF;
          else if (c === 10) return this.fail();
          else this.state = TRAILER_LINE;
          i++;
          break;
        case TRAILER_LINE:
          if (c === 13) this.state = TRAILER_LF;
          i++;
          break;
        case TRAILER_LF:
          if (c !== 10) return this.fail();
          this.state = TRAILER_LINE_START;
          i++;
          break;
        case FINAL_LF:
          if (c !== 10) return this.fail();
          this.state = CHUNK_DONE;
          return i + 1;
        default:
          return -1;
      }
    }
    return -1;
  }

  private fail(): number {
    this.state = CHUNK_BAD;
    return -1;
  }
}

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The status line's reason phrase the proxy sends (the upstream's own when it gave one). */
export function reasonPhrase(status: number, given: string): string {
  if (given !== '') return given;
  return REASONS[status] ?? 'Unknown';
}

/** `host:port` or `[v6]:port` -> its host (without brackets) and port: endpoint and listen addresses alike. */
export function hostAndPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  let host = address.slice(0, colon);
  if (host.charCodeAt(0) === 91 /* [ */) host = host.slice(1, -1);
  return { host, port: Number(address.slice(colon + 1)) };
}

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
