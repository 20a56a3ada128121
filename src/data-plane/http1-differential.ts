/**
 * Differential testing of the proxy's HTTP/1.1 framing against node:http (docs/adr/0007-http1-framing-llhttp.md).
 * Generated and mutated inputs — CL/TE variants, chunk grammar, line endings, whitespace, obs-fold, field-name
 * characters, methods, targets, versions, pipelining — are framed twice:
 *
 * - requests: by `RequestParser.frame`, the fast path's whole decision, fed in random read-sized pieces; when it
 *   hands the connection over, the rest goes to a real node:http server, as the proxy does. The oracle is that
 *   same node:http server reading the whole input on a connection of its own, with the proxy's request rules
 *   (`requestVerdict`) applied to what it accepts.
 * - responses: by `ResponseParser`, fed in random pieces, against a node:http client reading the same bytes from
 *   a raw server, with the proxy's response rules (only plain `chunked`) applied to what it accepts.
 *
 * Every input must be refused by both or accepted by both with the same requests (boundaries, method, target,
 * version, field list, body bytes) or the same answer (status, end-to-end fields, body, trailers).
 * Not a test itself: `http1-differential.test.ts` runs a slice, `npm run fuzz:http` runs it long.
 */

import { request as httpRequest, createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { equalsLower, isHopByHopResponseHeader } from './forward-headers.js';
import { FORWARD, ANSWER_OPTIONS, requestVerdict, refusal, targetTooLongSoFar } from './http1-wire.js';
import { type LlhttpBinding, llhttpParser, MAX_HEAD_BYTES } from './llhttp.js';
import { FRAME_HAND_OFF, FRAME_MORE, FRAME_REFUSE, RequestParser } from './request-parser.js';
import { ResponseParser } from './response-parser.js';

/** A small seeded PRNG (mulberry32), so a divergence can be replayed from its seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
}

const METHODS = [
  'GET',
  'GET',
  'GET',
  'GET',
  'POST',
  'POST',
  'PUT',
  'HEAD',
  'DELETE',
  'OPTIONS',
  'PATCH',
  'CONNECT',
  'FOO',
  'get',
  'PRI',
  'M-SEARCH',
  'PURGE',
  'G\x00T',
];
const TARGETS = [
  '/',
  '/',
  '/a',
  '/public/x?y=1',
  '/a/b/c.html',
  '*',
  'http://echo/x',
  'https://echo:8443/y?z',
  'echo:443',
  '/\xc3\xa9',
  '/a b',
  '/a\tb',
  '/%2F%00',
  'x',
  '/a#frag',
  '//double',
  '/a?b=c&d=\x7f',
];
const VERSIONS = [
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/1.2',
  'HTTP/2.0',
  'HTTP/5.6',
  'http/1.1',
  'HTTP/1.1 ',
  'HTTP/11',
  'HTTP/1.',
];
const EOLS = ['\r\n', '\r\n', '\r\n', '\r\n', '\r\n', '\r\n', '\n', '\r', '\r\r\n', '\n\r'];
const HOSTS = ['echo', 'echo:8000', 'Echo.local', '', '[::1]:80', 'echo evil', 'ec/ho', 'echo\x00', 'e\xe9'];
const CONTENT_LENGTHS = ['0', '3', '5', '+3', ' 3', '3 ', '03', '3,3', '-1', '99999999999999999999', 'abc', '3\x00', '0x3'];
const TRANSFER_ENCODINGS = [
  'chunked',
  'chunked',
  'Chunked',
  'xchunked',
  'chunked, identity',
  'identity, chunked',
  'gzip, chunked',
  ' chunked',
  'chunked\t',
  'chunked;q=1',
  'ch unked',
];
const CONNECTIONS = ['close', 'keep-alive', 'content-length', 'transfer-encoding, close', 'upgrade', 'host', 'X-Forwarded-For', 'TE'];
const NAMES = ['X-Foo', 'x-bar', 'Accept', 'Cookie', 'X_Under', '!#$%&*+.^`|~', 'X-Forwarded-For', 'TE', 'Keep-Alive'];
const BAD_NAMES = ['X Foo', 'X(Foo)', 'X\x7fFoo', 'Foo ', ' Foo', 'X-\xdc', 'X:Y', ''];
const VALUES = ['v', 'a b', ' padded ', 'tab\there', 'obs\x80text', '', 'q="x;y"', 'trailers', 'a,b'];
const BAD_VALUES = ['nul\x00', 'del\x7f', 'bare\rcr', 'bare\nlf', 'esc\x1b'];

/** One field line, now and then with a bad name or value. */
function field(r: Rng): string {
  return `${r.chance(0.05) ? r.pick(BAD_NAMES) : r.pick(NAMES)}: ${r.chance(0.05) ? r.pick(BAD_VALUES) : r.pick(VALUES)}`;
}

/** One generated chunked body (grammar variants and mistakes). */
function chunkedBody(r: Rng, eol: string): string {
  let out = '';
  const n = r.int(3);
  for (let i = 0; i < n; i++) {
    const data = 'abcdefghij'.slice(0, 1 + r.int(9));
    let size = data.length.toString(16);
    if (r.chance(0.1)) size = `0${size}`;
    if (r.chance(0.1)) size = size.toUpperCase();
    let ext = '';
    if (r.chance(0.15)) ext = r.pick([';a=b', ';a', ';a="q"', ' ;a=b', ';a=\x00', ';a=b\nc', '; a = b', ';"x"']);
    if (r.chance(0.05)) size = r.pick(['-1', 'g', '', 'FFFFFFFFFFFFFFFFF', `${size} `]);
    out += `${size}${ext}${r.chance(0.05) ? r.pick(EOLS) : '\r\n'}${data}${r.chance(0.05) ? r.pick(['', '\n', 'x\r\n']) : '\r\n'}`;
  }
  out += r.pick(['0', '0', '0', '00', '0;ext=1']);
  out += '\r\n';
  if (r.chance(0.2)) out += r.pick(['X-Trailer: t\r\n', 'X-Trailer: t\n', 'Content-Length: 5\r\n', 'X: a\r\n b\r\n', 'Bad Name: x\r\n']);
  out += r.chance(0.05) ? eol : '\r\n';
  return out;
}

/** One generated request: mostly valid, with the classic ambiguities mixed in at random. */
function oneRequest(r: Rng): string {
  const eol = r.chance(0.97) ? '\r\n' : r.pick(EOLS);
  let target = r.pick(TARGETS);
  if (r.chance(0.02)) target = `/${'t'.repeat(r.pick([8000, 8300, 9000, 17000]))}`;
  const method = r.chance(0.9) ? r.pick(['GET', 'POST', 'PUT', 'HEAD', 'DELETE']) : r.pick(METHODS);
  if (r.chance(0.75)) target = r.pick(['/', '/a', '/public/x?y=1']);
  const version = r.chance(0.92) ? 'HTTP/1.1' : r.pick(VERSIONS);
  let head = `${method}${r.chance(0.03) ? '  ' : ' '}${target} ${version}${eol}`;
  const fields: string[] = [];
  const hosts = r.chance(0.93) ? 1 : r.pick([0, 2]);
  for (let i = 0; i < hosts; i++)
    fields.push(`${r.chance(0.9) ? 'Host' : r.pick(['host', 'HOST', 'Host '])}: ${r.chance(0.9) ? 'echo' : r.pick(HOSTS)}`);
  let length = -1;
  let chunked = false;
  if (r.chance(0.3)) {
    const value = r.pick(CONTENT_LENGTHS);
    fields.push(`${r.pick(['Content-Length', 'content-length', 'Content-Length ', 'Content_Length'])}: ${value}`);
    if (/^\d+$/.test(value.trim())) length = Number(value.trim());
    if (r.chance(0.1)) fields.push(`Content-Length: ${r.pick(CONTENT_LENGTHS)}`);
  }
  if (r.chance(0.2)) {
    fields.push(
      `${r.pick(['Transfer-Encoding', 'transfer-encoding', 'Transfer-Encoding ', 'Transfer_Encoding'])}: ${r.pick(TRANSFER_ENCODINGS)}`,
    );
    chunked = true;
    if (r.chance(0.1)) fields.push(`Transfer-Encoding: ${r.pick(TRANSFER_ENCODINGS)}`);
  }
  if (r.chance(0.2)) fields.push(`Connection: ${r.pick(CONNECTIONS)}`);
  if (r.chance(0.05)) fields.push('Upgrade: websocket');
  if (r.chance(0.05)) fields.push('Expect: 100-continue');
  const extra = r.chance(0.05) ? 30 + r.int(10) : r.int(4);
  for (let i = 0; i < extra; i++) fields.push(field(r));
  if (r.chance(0.02)) fields.push(`X-Big: ${'b'.repeat(r.pick([4000, 15000, 17000]))}`);
  // Shuffle a little, so framing fields come in either order.
  for (let i = fields.length - 1; i > 0; i--) {
    if (r.chance(0.5)) {
      const j = r.int(i + 1);
      [fields[i], fields[j]] = [fields[j]!, fields[i]!];
    }
  }
  for (const f of fields) {
    head += `${f}${eol}`;
    if (r.chance(0.03)) head += ` folded${eol}`; // obs-fold
  }
  head += eol;
  let body = '';
  if (chunked && r.chance(0.8)) body = chunkedBody(r, eol);
  else if (length > 0) body = 'xyzxyzxyzxyz'.slice(0, Math.max(0, length + r.pick([0, 0, 0, -1, 1])));
  return head + body;
}

/** Random byte-level damage: a byte replaced, inserted or deleted. */
function mutate(r: Rng, s: string): string {
  if (s.length === 0) return s;
  const at = r.int(s.length);
  switch (r.int(3)) {
    case 0:
      return s.slice(0, at) + r.pick(['\r', '\n', ' ', '\t', '\x00', ':', '\x7f', '\xff', ';', '0']) + s.slice(at + 1);
    case 1:
      return s.slice(0, at) + r.pick(['\r', '\n', ' ', '\r\n', '\x00', ':']) + s.slice(at);
    default:
      return s.slice(0, at) + s.slice(at + 1);
  }
}

/** One generated input: one to three pipelined requests, sometimes damaged, sometimes cut short. */
export function generateRequests(r: Rng): Buffer {
  let s = '';
  const n = 1 + r.int(3);
  for (let i = 0; i < n; i++) s += oneRequest(r);
  if (r.chance(0.15)) s = mutate(r, s);
  if (r.chance(0.03)) s = mutate(r, s);
  if (r.chance(0.03)) s = s.slice(0, r.int(s.length));
  return Buffer.from(s, 'latin1');
}

/** One generated upstream answer. */
export function generateResponse(r: Rng): Buffer {
  const eol = r.chance(0.9) ? '\r\n' : r.pick(EOLS);
  const status = r.chance(0.9)
    ? r.pick(['200', '200', '404', '204', '304', '500', '103', '100'])
    : r.pick(['2000', '20', '99', '999', 'abc', '600']);
  const reason = r.chance(0.9) ? r.pick([' OK', ' Not Found', '', ' ', ' Weird \t phrase']) : r.pick([' O\x01K', ' OK\x7f', ' \xe9']);
  let head = `${r.chance(0.95) ? 'HTTP/1.1' : r.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'http/1.1', 'HTTP/1.1 '])} ${status}${reason}${eol}`;
  const interim = status === '100' || status === '103';
  const fields: string[] = [];
  let length = -1;
  let chunked = false;
  const framing = r.next();
  if (framing < 0.6) {
    const value = r.pick(CONTENT_LENGTHS);
    fields.push(`Content-Length: ${value}`);
    if (/^\d+$/.test(value.trim())) length = Number(value.trim());
    if (r.chance(0.05)) fields.push(`Content-Length: ${r.pick(CONTENT_LENGTHS)}`);
  } else if (framing < 0.84) {
    fields.push(`Transfer-Encoding: ${r.pick(TRANSFER_ENCODINGS)}`);
    chunked = true;
  }
  if (r.chance(0.2)) fields.push(`Connection: ${r.pick(['close', 'keep-alive', 'X-Foo', 'content-length', 'x-foo, close'])}`);
  const extra = r.chance(0.05) ? 30 + r.int(10) : r.int(4);
  for (let i = 0; i < extra; i++) fields.push(field(r));
  for (const f of fields) {
    head += `${f}${eol}`;
    if (r.chance(0.02)) head += ` folded${eol}`;
  }
  head += eol;
  let body = '';
  if (chunked && r.chance(0.9)) body = chunkedBody(r, eol);
  else if (length > 0) body = 'pqrpqrpqrpqr'.slice(0, length);
  else if (length === -1 && !chunked) body = r.pick(['', 'until close', 'x']);
  let s = head + body;
  // An interim answer comes before the final one.
  if (interim) s += 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  if (r.chance(0.2)) s = mutate(r, s);
  return Buffer.from(s, 'latin1');
}

/** Cuts `buf` into read-sized pieces at random offsets. */
export function segments(r: Rng, buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  const style = r.int(4);
  while (at < buf.length) {
    const n = style === 0 ? buf.length : style === 1 ? 1 + r.int(3) : 1 + r.int(64);
    out.push(buf.subarray(at, Math.min(buf.length, at + n)));
    at += n;
  }
  return out;
}

/** One request as framed: what must match between the proxy and the oracle. */
export interface FramedRequest {
  method: string;
  url: string;
  versionMinor: number;
  raw: string[];
  body: string;
}

/** How an input ended: accepted to the end, refused, cut short (waiting for more), or switched protocols. */
export type FramingEnd = 'ok' | 'refused' | 'incomplete' | 'upgrade' | 'timeout';

export interface FramingResult {
  requests: FramedRequest[];
  end: FramingEnd;
  /** The status the client would get when refused (informational: a read boundary can turn 414 into 431). */
  status: number;
  /** The proxy handed the connection to node:http part-way (informational). */
  handedOver?: boolean;
}

/** Reads the input on one connection to the oracle node:http server and records what it framed. */
interface OracleConnection {
  result: FramingResult;
  open: number;
  done: () => void;
}

/**
 * A node:http server as the oracle: records each request it parses (with the proxy's rules applied on top), its
 * body, and how the connection ended. Requests on one connection are recorded in order.
 */
export class RequestOracle {
  private server: Server | null = null;
  private port = 0;
  private readonly byPort = new Map<number, OracleConnection>();

  async start(): Promise<void> {
    const server = createServer({ maxHeaderSize: MAX_HEAD_BYTES, requireHostHeader: false, keepAliveTimeout: 5000 }, (req, res) => {
      const conn = this.byPort.get(req.socket.remotePort ?? 0);
      const record = conn === undefined ? null : this.admit(conn, req);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (record !== null) {
          record.body = Buffer.concat(chunks).toString('latin1');
          conn!.open--;
        }
        res.end();
      });
    });
    server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
      const conn = this.byPort.get(socket.remotePort ?? 0);
      if (conn !== undefined && conn.result.end === 'ok') {
        if (err.code === 'HPE_INVALID_EOF_STATE') conn.result.end = 'incomplete';
        else if (err.code === 'HPE_CLOSED_CONNECTION') {
          // Bytes after a request that asked to close: ignored, as the proxy ignores them.
        } else {
          conn.result.end = 'refused';
          const packet = err.rawPacket;
          const tooLong = err.code === 'HPE_HEADER_OVERFLOW' && packet !== undefined && targetTooLongSoFar(packet, packet.length);
          conn.result.status = refusal(tooLong ? 'URI_TOO_LONG' : (err.code ?? '')).status;
        }
      }
      socket.destroy();
    });
    // An expectation node:http does not know: it answers 417 itself and forwards nothing.
    server.on('checkExpectation', (req: IncomingMessage, res) => {
      const conn = this.byPort.get(req.socket.remotePort ?? 0);
      if (conn !== undefined && this.admit(conn, req) !== null) {
        conn.result.requests.pop();
        conn.open--;
        conn.result.end = 'refused';
        conn.result.status = 417;
      }
      res.writeHead(417);
      res.end();
      req.socket.destroy();
    });
    server.on('connect', (req: IncomingMessage, socket: Socket) => {
      const conn = this.byPort.get(socket.remotePort ?? 0);
      if (conn !== undefined) this.admit(conn, req);
      socket.destroy();
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      const conn = this.byPort.get(socket.remotePort ?? 0);
      if (conn !== undefined && this.admit(conn, req) !== null) {
        conn.open--;
        conn.result.end = 'upgrade';
      }
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Records a parsed request unless the proxy's rules refuse it (then the connection's story ends there). */
  private admit(conn: OracleConnection, req: IncomingMessage): FramedRequest | null {
    const result = conn.result;
    if (result.end !== 'ok') return null;
    const verdict = requestVerdict(req.method ?? '', req.url ?? '', req.httpVersionMinor, req.rawHeaders);
    if (verdict !== FORWARD && verdict !== ANSWER_OPTIONS) {
      result.end = 'refused';
      result.status = refusal(verdict).status;
      return null;
    }
    const record: FramedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      versionMinor: req.httpVersionMinor,
      raw: req.rawHeaders,
      body: '',
    };
    result.requests.push(record);
    conn.open++;
    return record;
  }

  /** Sends `input` on a fresh connection (then half-closes) and resolves with what the server framed. */
  frame(input: Buffer, timeoutMs = 3000): Promise<FramingResult> {
    return new Promise((resolve) => {
      const socket = connect(this.port, '127.0.0.1');
      const result: FramingResult = { requests: [], end: 'ok', status: 0 };
      let finished = false;
      const conn: OracleConnection = { result, open: 0, done: () => undefined };
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.byPort.delete(socket.localPort ?? 0);
        // A request whose body never ended is not a request the proxy would forward.
        if (conn.open > 0) {
          result.requests.pop();
          if (result.end === 'ok') result.end = 'incomplete';
        }
        socket.destroy();
        resolve(result);
      };
      const timer = setTimeout(() => {
        if (result.end === 'ok') result.end = 'timeout';
        finish();
      }, timeoutMs);
      socket.on('error', finish);
      socket.on('close', finish);
      socket.on('data', () => undefined);
      socket.on('connect', () => {
        this.byPort.set(socket.localPort ?? 0, conn);
        socket.end(input);
      });
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function onlyLineBreaks(buf: Buffer): boolean {
  for (const c of buf) if (c !== 13 && c !== 10) return false;
  return true;
}

/**
 * The proxy's side: `RequestParser.frame` over the input cut into `pieces`, exactly as FastConnection drives it;
 * at a hand-over, the rest of the input goes to node:http (the oracle's server, on a new connection), as in the
 * proxy.
 */
export async function proxyFrames(b: LlhttpBinding, pieces: Buffer[], oracle: RequestOracle, timeoutMs = 3000): Promise<FramingResult> {
  const parser = new RequestParser(b);
  const result: FramingResult = { requests: [], end: 'ok', status: 0 };
  let pending: Buffer | null = null;
  let consumed = 0;
  let handOffAt = -1;
  const all = Buffer.concat(pieces);
  try {
    outer: for (const piece of pieces) {
      pending = pending === null ? Buffer.from(piece) : Buffer.concat([pending, piece]);
      for (;;) {
        const frame = parser.frame(pending);
        if (frame === FRAME_MORE) break;
        if (frame === FRAME_REFUSE) {
          result.end = 'refused';
          result.status = refusal(parser.refusalReason).status;
          return result;
        }
        if (frame === FRAME_HAND_OFF) {
          handOffAt = consumed;
          break outer;
        }
        const head = parser.head;
        const total = parser.total;
        result.requests.push({
          method: head.method,
          url: head.url,
          versionMinor: head.versionMinor,
          raw: head.raw,
          body: pending.toString('latin1', head.headBytes, total),
        });
        consumed += total;
        parser.messageDone();
        pending = pending.length === total ? null : pending.subarray(total);
        // The connection ends after a request that asked to close: later bytes are never read.
        if (head.close) return result;
        if (pending === null) break;
      }
    }
  } finally {
    parser.close();
  }
  if (handOffAt !== -1) {
    const rest = await oracle.frame(all.subarray(handOffAt), timeoutMs);
    result.handedOver = true;
    result.requests.push(...rest.requests);
    result.end = rest.end;
    result.status = rest.status;
    return result;
  }
  if (pending !== null && !onlyLineBreaks(pending)) result.end = 'incomplete';
  return result;
}

/** A response as relayed: what must match between the proxy and the oracle. */
export interface FramedResponse {
  accepted: boolean;
  status: number;
  /** End-to-end fields, `name: value` lines, in order. */
  fields: string[];
  body: string;
  trailers: string[];
}

function endToEnd(raw: readonly string[]): string[] {
  const named: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (equalsLower(raw[i]!, 'connection')) {
      for (const part of raw[i + 1]!.split(',')) {
        const t = part.trim().toLowerCase();
        if (t && t !== 'close' && t !== 'keep-alive' && t !== 'content-length') named.push(t);
      }
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (isHopByHopResponseHeader(name) || equalsLower(name, 'content-length') || named.includes(name.toLowerCase())) continue;
    out.push(`${name}: ${raw[i + 1]}`);
  }
  return out;
}

/** The proxy's side for an answer: ResponseParser over `pieces`, then the end of the connection. */
export function proxyReadsResponse(b: LlhttpBinding, pieces: Buffer[]): FramedResponse {
  const p = new ResponseParser(b);
  const out: FramedResponse = { accepted: false, status: 0, fields: [], body: '', trailers: [] };
  try {
    p.begin(false);
    let ok = true;
    for (const piece of pieces) {
      ok = p.feed(piece);
      for (const c of p.body) out.body += c.toString('latin1');
      if (!ok || p.done) break;
    }
    if (ok && !p.done) {
      ok = p.end();
      for (const c of p.body) out.body += c.toString('latin1');
    }
    // Bytes after a complete answer close the connection but do not undo the answer.
    out.accepted = p.done && (ok || p.error === 'UPSTREAM_EXTRA_BYTES');
    if (!out.accepted) return out;
    out.status = p.head.status;
    out.fields = p.head.fields.split('\r\n').filter((l) => l !== '' && !/^content-length:/i.test(l));
    out.trailers = p.trailers.split('\r\n').filter((l) => l !== '');
    return out;
  } finally {
    p.close();
  }
}

/** A raw server that answers each connection with the next queued bytes, then closes. */
export class ResponseOracle {
  private server: NetServer | null = null;
  private port = 0;
  private readonly queue = new Map<number, Buffer>();
  private nextId = 0;

  async start(): Promise<void> {
    const server = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (d) => {
        const id = Number(/x-id: (\d+)/.exec(d.toString('latin1'))?.[1] ?? -1);
        const bytes = this.queue.get(id);
        this.queue.delete(id);
        socket.end(bytes ?? Buffer.alloc(0));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** What a node:http client makes of `answer`, with the proxy's rules applied (only plain `chunked`). */
  read(answer: Buffer, timeoutMs = 3000): Promise<FramedResponse> {
    const id = this.nextId++;
    this.queue.set(id, answer);
    return new Promise((resolve) => {
      const out: FramedResponse = { accepted: false, status: 0, fields: [], body: '', trailers: [] };
      let settled = false;
      const settle = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.queue.delete(id);
        resolve(out);
      };
      const timer = setTimeout(settle, timeoutMs);
      const req = httpRequest({ host: '127.0.0.1', port: this.port, path: '/', headers: { 'x-id': String(id) }, agent: false }, (res) => {
        res.on('data', (c: Buffer) => {
          out.body += c.toString('latin1');
        });
        res.on('end', () => {
          const te = res.headers['transfer-encoding'];
          // The proxy relays plain chunked coding only (llhttp reads any other coding until the close).
          // Nor a status below 100 (llhttp takes `000`).
          if ((te === undefined || te.toLowerCase() === 'chunked') && (res.statusCode ?? 0) >= 100) {
            out.accepted = true;
            out.status = res.statusCode ?? 0;
            out.fields = endToEnd(res.rawHeaders);
            const trailers = res.rawTrailers;
            for (let i = 0; i < trailers.length; i += 2) {
              const name = trailers[i]!;
              if (isHopByHopResponseHeader(name) || equalsLower(name, 'content-length') || equalsLower(name, 'host')) continue;
              out.trailers.push(`${name}: ${trailers[i + 1]}`);
            }
          }
          settle();
        });
        res.on('error', settle);
        res.on('aborted', settle);
      });
      req.on('error', settle);
      req.end();
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export interface Divergence {
  kind: 'request' | 'response';
  seed: number;
  input: string;
  proxy: unknown;
  oracle: unknown;
}

export interface DifferentialStats {
  requestInputs: number;
  responseInputs: number;
  accepted: number;
  refused: number;
  handedOver: number;
  divergences: Divergence[];
}

function sameRequests(ours: FramingResult, theirs: FramingResult): boolean {
  // Refused by both, or accepted by both with the same requests and the same end. One rule is the proxy's own:
  // a target already longer than MAX_TARGET_BYTES gets 414 before its head ends, where node:http still waits.
  const end = ours.end === 'refused' && ours.status === 414 && theirs.end === 'incomplete' ? 'incomplete' : ours.end;
  return end === theirs.end && JSON.stringify(ours.requests) === JSON.stringify(theirs.requests);
}

function sameResponse(a: FramedResponse, b: FramedResponse): boolean {
  if (a.accepted !== b.accepted) return false;
  return !a.accepted || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Runs `count` inputs (requests and responses alternate), `concurrency` at a time, from seeds `seed`,
 * `seed + 1`, ...; each divergence is reported with the seed that replays it.
 */
export async function runDifferential(options: {
  count: number;
  seed?: number;
  concurrency?: number;
  deadlineMs?: number;
  onProgress?: (done: number, stats: DifferentialStats) => void;
  onDivergence?: (d: Divergence) => void;
}): Promise<DifferentialStats> {
  const b = llhttpParser();
  if (b === null) throw new Error(`llhttp is not reachable on Node ${process.version}: nothing to compare`);
  const stats: DifferentialStats = { requestInputs: 0, responseInputs: 0, accepted: 0, refused: 0, handedOver: 0, divergences: [] };
  const requests = new RequestOracle();
  const responses = new ResponseOracle();
  await requests.start();
  await responses.start();
  const first = options.seed ?? 1;
  const deadline = options.deadlineMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.deadlineMs;
  let next = 0;
  let done = 0;
  const one = async (seed: number): Promise<void> => {
    const r = new Rng(seed);
    if (seed % 2 === 0) {
      const input = generateRequests(r);
      const pieces = segments(r, input);
      let [ours, theirs] = await Promise.all([proxyFrames(b, pieces, requests), requests.frame(input)]);
      // A timeout is the machine's, not a verdict (a loaded host can stall a loopback exchange): once more, slower.
      if (ours.end === 'timeout' || theirs.end === 'timeout') {
        [ours, theirs] = await Promise.all([proxyFrames(b, pieces, requests, 15_000), requests.frame(input, 15_000)]);
      }
      stats.requestInputs++;
      if (ours.end === 'refused') stats.refused++;
      else stats.accepted++;
      if (ours.handedOver) stats.handedOver++;
      if (!sameRequests(ours, theirs)) {
        const d: Divergence = { kind: 'request', seed, input: input.toString('latin1'), proxy: ours, oracle: theirs };
        stats.divergences.push(d);
        options.onDivergence?.(d);
      }
    } else {
      const input = generateResponse(r);
      const ours = proxyReadsResponse(b, segments(r, input));
      let theirs = await responses.read(input);
      if (!theirs.accepted && ours.accepted) theirs = await responses.read(input, 15_000); // a stalled exchange, once more
      stats.responseInputs++;
      if (!sameResponse(ours, theirs)) {
        const d: Divergence = { kind: 'response', seed, input: input.toString('latin1'), proxy: ours, oracle: theirs };
        stats.divergences.push(d);
        options.onDivergence?.(d);
      }
    }
  };
  const worker = async (): Promise<void> => {
    while (next < options.count && Date.now() < deadline) {
      const seed = first + next++;
      await one(seed);
      done++;
      if (options.onProgress !== undefined && done % 10_000 === 0) options.onProgress(done, stats);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  } finally {
    await requests.stop();
    await responses.stop();
  }
  return stats;
}
