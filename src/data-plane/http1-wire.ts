/**
 * HTTP/1.1 message heads for the proxy's fast path (docs/adr/0003-proxy-hot-path.md): just enough of RFC 9112 to
 * carry the common case — a request with no body or a Content-Length body, a response framed by Content-Length,
 * chunked coding or the end of the connection — and to say "not mine" for everything else, which then goes to
 * Node's own HTTP server. Heads are read as latin1 strings (one decode per head); nothing is allocated per header
 * beyond the name and value strings of the flat list.
 */

import { equalsLower, isHopByHopResponseHeader } from './forward-headers.js';

/** Largest head the fast path reads before handing the connection to node:http (which answers 431). */
export const MAX_HEAD_BYTES = 16 * 1024;

/** A request head the fast path can carry; `null` from the parser means "not mine". */
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

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

/** The field value of `text[start..end)` with OWS trimmed, or null when it holds control characters (tab aside). */
function fieldValue(text: string, start: number, end: number): string | null {
  let a = start;
  let b = end;
  while (a < b && (text.charCodeAt(a) === 32 || text.charCodeAt(a) === 9)) a++;
  while (b > a && (text.charCodeAt(b - 1) === 32 || text.charCodeAt(b - 1) === 9)) b--;
  for (let i = a; i < b; i++) {
    const c = text.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return null;
  }
  return text.slice(a, b);
}

function isDigits(s: string): boolean {
  if (s.length === 0 || s.length > 15) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Index of CRLFCRLF in `buf` from `from`, or -1. */
export function headEnd(buf: Buffer, from: number): number {
  return buf.indexOf('\r\n\r\n', from, 'latin1');
}

/**
 * Parses a request head ending at `end` (the index of its CRLFCRLF). Returns null for anything the fast path
 * does not carry: not HTTP/1.1, Transfer-Encoding, Upgrade, Expect, an odd or repeated Content-Length, folded or
 * malformed lines, CONNECT, or a target that is not origin- or absolute-form.
 */
export function parseRequestHead(buf: Buffer, start: number, end: number): RequestHead | null {
  const text = buf.toString('latin1', start, end);
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = text.length;
  const sp1 = text.indexOf(' ');
  if (sp1 <= 0 || sp1 > lineEnd) return null;
  const sp2 = text.indexOf(' ', sp1 + 1);
  if (sp2 === -1 || sp2 > lineEnd || lineEnd - sp2 !== 9 || !text.startsWith('HTTP/1.1', sp2 + 1)) return null;
  const method = text.slice(0, sp1);
  if (!isToken(method) || method === 'CONNECT') return null;
  const url = text.slice(sp1 + 1, sp2);
  if (url.length === 0) return null;
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c <= 32 || c === 127) return null;
  }
  const first = url.charCodeAt(0);
  if (first !== 47 /* / */ && !(url.startsWith('http://') || url.startsWith('https://'))) return null;
  const raw: string[] = [];
  let bodyBytes = 0;
  let sawLength = false;
  let close = false;
  let at = lineEnd + 2;
  while (at < text.length) {
    let next = text.indexOf('\r\n', at);
    if (next === -1) next = text.length;
    const colon = text.indexOf(':', at);
    if (colon <= at || colon > next) return null;
    const name = text.slice(at, colon);
    if (!isToken(name)) return null;
    const value = fieldValue(text, colon + 1, next);
    if (value === null) return null;
    switch (name.length) {
      case 6:
        if (equalsLower(name, 'expect')) return null;
        break;
      case 7:
        if (equalsLower(name, 'upgrade')) return null;
        break;
      case 10:
        if (equalsLower(name, 'connection')) {
          if (equalsLower(value, 'close')) close = true;
          else if (!equalsLower(value, 'keep-alive')) {
            const lower = value.toLowerCase();
            if (lower.includes('upgrade')) return null;
            if (lower.includes('close')) close = true;
          }
        }
        break;
      case 14:
        if (equalsLower(name, 'content-length')) {
          if (sawLength || !isDigits(value)) return null;
          sawLength = true;
          bodyBytes = Number(value);
        }
        break;
      case 17:
        if (equalsLower(name, 'transfer-encoding')) return null;
        break;
    }
    raw.push(name, value);
    at = next + 2;
  }
  return { method, url, raw, headBytes: end + 4 - start, bodyBytes, close };
}

/** How a response body is delimited on the upstream connection. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export const BODY_UNTIL_CLOSE = 3;

/** A parsed response head; one per upstream connection, refilled for each response. */
export interface ResponseHead {
  status: number;
  reason: string;
  /** End-to-end fields only (hop-by-hop ones and those named by Connection removed). */
  headers: string[];
  framing: number;
  contentLength: number;
  /** The upstream will close the connection after this response. */
  close: boolean;
}

/**
 * Parses a response head (status line and fields up to `end`, the index of its CRLFCRLF) into `into`. Returns
 * false when it is not a well-formed HTTP/1.x head. `noBody`: the request was HEAD (or the status forbids a body).
 */
export function parseResponseHead(buf: Buffer, start: number, end: number, noBody: boolean, into: ResponseHead): boolean {
  const text = buf.toString('latin1', start, end);
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = text.length;
  if (!text.startsWith('HTTP/1.') || text.charCodeAt(8) !== 32) return false;
  const http10 = text.charCodeAt(7) === 48; /* 0 */
  const status = Number(text.slice(9, 12));
  if (!Number.isInteger(status) || status < 100 || status > 999) return false;
  into.status = status;
  into.reason = lineEnd > 13 ? text.slice(13, lineEnd) : '';
  for (let i = 0; i < into.reason.length; i++) {
    const c = into.reason.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return false;
  }
  const headers: string[] = [];
  let length = -1;
  let chunked = false;
  let sawTransferEncoding = false;
  let close = http10;
  let named: string[] | null = null;
  let at = lineEnd + 2;
  while (at < text.length) {
    let next = text.indexOf('\r\n', at);
    if (next === -1) next = text.length;
    const colon = text.indexOf(':', at);
    if (colon <= at || colon > next) return false;
    const name = text.slice(at, colon);
    const value = fieldValue(text, colon + 1, next);
    if (value === null || !isToken(name)) return false;
    at = next + 2;
    if (name.length === 14 && equalsLower(name, 'content-length')) {
      if (!isDigits(value) || (length !== -1 && Number(value) !== length)) return false;
      length = Number(value);
      continue;
    } else if (isHopByHopResponseHeader(name)) {
      if (name.length === 17) {
        sawTransferEncoding = true;
        chunked = value.toLowerCase().trimEnd().endsWith('chunked');
      } else if (name.length === 10 && equalsLower(name, 'connection')) {
        const lower = value.toLowerCase();
        if (lower === 'close') close = true;
        else if (lower === 'keep-alive') close = http10 ? false : close;
        else {
          for (const part of lower.split(',')) {
            const token = part.trim();
            if (token === 'close') close = true;
            else if (token && token !== 'keep-alive') {
              named ??= [];
              named.push(token);
            }
          }
        }
      }
      continue;
    }
    headers.push(name, value);
  }
  if (named !== null) {
    for (let i = headers.length - 2; i >= 0; i -= 2) if (named.includes(headers[i]!.toLowerCase())) headers.splice(i, 2);
  }
  into.headers = headers;
  into.close = close;
  into.contentLength = 0;
  if (noBody || status < 200 || status === 204 || status === 304) {
    into.framing = BODY_NONE;
    // A HEAD answer keeps its Content-Length: it describes the GET's body.
    if (length !== -1) headers.push('content-length', String(length));
  } else if (sawTransferEncoding) {
    // RFC 9112 6.3: Transfer-Encoding wins over Content-Length; not ending in chunked means "until close".
    into.framing = chunked ? BODY_CHUNKED : BODY_UNTIL_CLOSE;
    if (!chunked) into.close = true;
  } else if (length !== -1) {
    into.framing = length === 0 ? BODY_NONE : BODY_LENGTH;
    into.contentLength = length;
    headers.push('content-length', String(length));
  } else {
    into.framing = BODY_UNTIL_CLOSE;
    into.close = true;
  }
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
