/**
 * Node's own HTTP/1.1 parser (llhttp), driven directly: the `HTTPParser` binding node:http itself uses, reached
 * through Node's `_http_common` module. The proxy does not own the HTTP/1.1 grammar: request heads on the fast path
 * and every upstream answer are framed by the very parser node:http frames the rest with, so the two paths cannot
 * disagree on where a message ends (docs/adr/0007-http1-framing-llhttp.md).
 *
 * This is an undocumented interface. `llhttpParser()` checks it once, on a request and an answer with known
 * framing; when the check fails (a future Node changed it) it returns null and the proxy serves everything through
 * node:http and undici instead (slower, same behaviour). `llhttp.test.ts` fails loudly when the check fails.
 */

import { createRequire } from 'node:module';

/** The callbacks and methods of Node's `HTTPParser` that the proxy uses (node/src/node_http_parser.cc). */
export interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  /** Bytes consumed, or an Error with `code` (`HPE_*`) and `bytesParsed`. */
  execute(data: Buffer): number | LlhttpError;
  /** End of input (a body delimited by the connection's close ends here). */
  finish(): number | LlhttpError | undefined;
  close(): void;
  [key: number]: unknown;
}

export interface LlhttpError extends Error {
  code: string;
  bytesParsed: number;
  reason?: string;
}

export interface LlhttpBinding {
  new (): LlhttpParser;
  REQUEST: number;
  RESPONSE: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
  kLenientNone: number;
}

/**
 * `kOnHeadersComplete(versionMajor, versionMinor, headers, method, url, statusCode, statusMessage, upgrade,
 * shouldKeepAlive)`; `headers` and `url` are undefined when they were handed over earlier through `kOnHeaders`
 * (more than 32 fields). Its return value steers llhttp: 0 go on, 1 no body follows (an answer to HEAD),
 * 2 stop right after this head (llhttp's "upgrade": `execute` returns the head's length, and the next `execute`
 * starts a new message).
 */
export type HeadersCompleteCallback = (
  versionMajor: number,
  versionMinor: number,
  headers: string[] | undefined,
  method: number,
  url: string | undefined,
  statusCode: number,
  statusMessage: string | undefined,
  upgrade: boolean,
  shouldKeepAlive: boolean,
) => number;

/** Stop right after the head (see HeadersCompleteCallback). */
export const STOP_AFTER_HEAD = 2;

/** The largest head llhttp accepts, as node:http's own servers (`--max-http-header-size`, 16 KiB by default). */
export const MAX_HEAD_BYTES = 16 * 1024;

interface HttpCommon {
  HTTPParser?: LlhttpBinding;
  methods?: string[];
}

let checked = false;
let binding: LlhttpBinding | null = null;
let methodNames: readonly string[] = [];

function load(): HttpCommon | null {
  try {
    return createRequire(import.meta.url)('_http_common') as HttpCommon;
  } catch {
    return null;
  }
}

/** Parses a request and an answer of known framing; false when the binding does not behave as expected. */
function selfCheck(b: LlhttpBinding, methods: readonly string[]): boolean {
  try {
    const seen: string[] = [];
    const req = new b();
    req.initialize(b.REQUEST, {}, MAX_HEAD_BYTES, b.kLenientNone);
    req[b.kOnHeadersComplete] = ((_ma, mi, headers, method, url) => {
      seen.push(`${methods[method]} ${url} 1.${mi} ${headers?.join('|')}`);
      return STOP_AFTER_HEAD;
    }) as HeadersCompleteCallback;
    req[b.kOnMessageComplete] = () => undefined;
    const reqBytes = Buffer.from('POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nxyGET /b HTTP/1.1\r\nHost: h\r\n\r\n');
    const first = req.execute(reqBytes);
    const second = req.execute(reqBytes.subarray(50));
    req.close();
    const res = new b();
    res.initialize(b.RESPONSE, {}, MAX_HEAD_BYTES, b.kLenientNone);
    let body = '';
    let done = 0;
    res[b.kOnHeadersComplete] = ((_ma, _mi, headers, _m, _u, status) => {
      seen.push(`${status} ${headers?.join('|')}`);
      return 0;
    }) as HeadersCompleteCallback;
    res[b.kOnBody] = (chunk: Buffer) => {
      body += chunk.toString('latin1');
    };
    res[b.kOnMessageComplete] = () => {
      done++;
    };
    const bad = res.execute(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'));
    res.close();
    return (
      first === 48 &&
      second === 28 &&
      seen[0] === 'POST /a 1.1 Host|h|Content-Length|2' &&
      seen[1] === 'GET /b 1.1 Host|h' &&
      seen[2] === '200 Transfer-Encoding|chunked' &&
      typeof bad === 'number' &&
      body === 'ok' &&
      done === 1
    );
  } catch {
    return false;
  }
}

/** Node's HTTPParser, checked once; null when it is missing or does not behave as the proxy relies on. */
export function llhttpParser(): LlhttpBinding | null {
  if (checked) return binding;
  checked = true;
  const common = load();
  const b = common?.HTTPParser;
  const methods = common?.methods;
  if (b !== undefined && Array.isArray(methods) && selfCheck(b, methods)) {
    binding = b;
    methodNames = methods;
  }
  return binding;
}

/** llhttp's method numbers -> names (`methods` of `_http_common`, the list node:http uses). */
export function llhttpMethodName(method: number): string {
  return methodNames[method] ?? '';
}
