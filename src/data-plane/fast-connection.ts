import type { Socket } from 'node:net';
import { rawHeader } from './forward-headers.js';
import type { Http1Pool, Http1Upstream, UpstreamSink } from './http1-upstream.js';
import {
  BODY_CHUNKED,
  BODY_UNTIL_CLOSE,
  optionsAnswer,
  proxyErrorAnswer,
  type RequestHead,
  refusal,
  type ResponseHead,
} from './http1-wire.js';
import { llhttpParser, MAX_HEAD_BYTES } from './llhttp.js';
import type { ExchangeSettings, ProxyErrorCode } from './proxy-exchange.js';
import type { RequestParty } from './request-observer.js';
import type { CompiledEndpoint, CompiledVersion } from './route-snapshot.js';
import { FRAME_HAND_OFF, FRAME_MORE, FRAME_OPTIONS, FRAME_REFUSE, MAX_FAST_BODY_BYTES, RequestParser } from './request-parser.js';
import type { HopTrace } from './telemetry/proxy-tracer.js';
import { isConnectFailure, isIdempotent, isTimeout } from './upstream-failure.js';

/** What a fast connection needs from its proxy. */
export interface FastPathHost {
  readonly settings: ExchangeSettings;
  /** Routes one request: answers it (`answer`) or forwards it (`forward`), synchronously. */
  routeFast(conn: FastConnection, head: RequestHead, body: Buffer | null): void;
  /** Gives the connection to node:http (the full implementation) with the bytes not yet consumed. */
  handOff(socket: Socket, pending: Buffer | null): void;
}

const kConn = Symbol('canary.fast');
type TaggedSocket = Socket & { [kConn]?: FastConnection };

function onClientData(this: Socket, chunk: Buffer): void {
  (this as TaggedSocket)[kConn]!.onData(chunk, false);
}

/**
 * Client connections read into this one buffer, as the upstream ones do (http1-upstream.ts): node:net offers
 * `onread` only to sockets it connects, so an accepted socket is switched to it through node:net's own slots for
 * that option (found by their descriptions; when they are not there, the socket keeps its 'data' events). Every
 * read is handled to the end before the next lands; what a connection keeps longer is copied out.
 */
const CLIENT_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

interface UserBufferSlots {
  buffer: symbol;
  callback: symbol;
}
let userBufferSlots: UserBufferSlots | null | undefined;

function findUserBufferSlots(socket: Socket): UserBufferSlots | null {
  if (userBufferSlots !== undefined) return userBufferSlots;
  const symbols = Object.getOwnPropertySymbols(socket);
  const buffer = symbols.find((s) => s.description === 'kBuffer');
  const callback = symbols.find((s) => s.description === 'kBufferCb');
  userBufferSlots = buffer !== undefined && callback !== undefined ? { buffer, callback } : null;
  return userBufferSlots;
}

type SlottedSocket = Socket & Record<symbol, unknown> & { _handle?: { useUserBuffer?: (buf: Uint8Array) => void } | null };

function onClientRead(this: Socket, nread: number, buf: Buffer): boolean {
  (this as TaggedSocket)[kConn]?.onData(buf.subarray(0, nread), true);
  return true;
}

/** After a hand-over: node:http reads 'data' events, so each read is copied out and pushed to the stream. */
function pushCopy(this: Socket, nread: number, buf: Buffer): boolean {
  return this.push(Buffer.from(buf.subarray(0, nread)));
}

/** Switches `socket` to the shared read buffer; false when node:net does not offer the slots. */
function readIntoSharedBuffer(socket: Socket): boolean {
  const slots = findUserBufferSlots(socket);
  const s = socket as SlottedSocket;
  const handle = s._handle;
  if (slots === null || !handle || typeof handle.useUserBuffer !== 'function' || s[slots.buffer] !== null) return false;
  s[slots.buffer] = CLIENT_READ_BUFFER;
  s[slots.callback] = onClientRead;
  handle.useUserBuffer(CLIENT_READ_BUFFER);
  return true;
}
function onClientDrain(this: Socket): void {
  (this as TaggedSocket)[kConn]!.upstream?.resume();
}
function onClientClose(this: Socket): void {
  (this as TaggedSocket)[kConn]!.onClose();
}
function destroySocket(this: Socket): void {
  this.destroy();
}
function onClientError(): void {
  // 'close' follows; nothing to add.
}

/**
 * Idle keep-alive connections are closed by one coarse sweep rather than a timer per socket: a socket timer is
 * re-armed on every read and every write (four times per proxied request, counting the upstream's), the sweep
 * costs nothing per request. An idle connection goes after its timeout, to within one sweep.
 */
const SWEEP_MS = 1000;
const swept = new Set<FastConnection>();
let sweeper: NodeJS.Timeout | null = null;

function sweepIdle(): void {
  for (const conn of swept) conn.sweep();
}

function track(conn: FastConnection): void {
  swept.add(conn);
  if (sweeper === null) {
    sweeper = setInterval(sweepIdle, SWEEP_MS);
    sweeper.unref();
  }
}

function untrack(conn: FastConnection): void {
  swept.delete(conn);
  if (swept.size === 0 && sweeper !== null) {
    clearInterval(sweeper);
    sweeper = null;
  }
}

/**
 * One client connection on the fast path: frames HTTP/1.1 request heads with llhttp straight off the socket, one
 * exchange at a time (pipelined requests wait their turn), and relays the upstream's answer with as few writes as
 * it can (the head and the first body bytes in one). A head llhttp or the proxy's rules refuse gets 400/414/431/501
 * and the connection closes, before anything is forwarded. Anything unusual but valid — Upgrade, Expect, chunked
 * request bodies, HTTP/1.0, large bodies — hands the connection over to node:http for good, before any byte of
 * that request is consumed. The connection object is also the exchange (and the upstream sink): a request costs no
 * per-request object beyond its header list.
 */
export class FastConnection implements UpstreamSink {
  busy = false;
  upstream: Http1Upstream | null = null;
  private pending: Buffer | null = null;
  /** `pending` is a view of the shared read buffer (only while a read is being handled). */
  private borrowed = false;
  /** The socket reads into the shared buffer rather than emitting 'data'. */
  private readonly sharedReads: boolean;
  private handedOff = false;
  /** A request was refused: the connection is closing, later bytes are dropped. */
  private refused = false;
  private readonly parser: RequestParser;
  /** Sweeps since the last request or byte; the connection closes at `idleLimit`. */
  private idleSweeps = 0;
  private readonly idleLimit: number;
  private closed = false;
  private closeAfter = false;
  // The exchange in flight.
  private method = '';
  private path = '';
  private raw: string[] = [];
  private version: CompiledVersion | null = null;
  private endpoint: CompiledEndpoint | null = null;
  private pool: Http1Pool | null = null;
  private requestHead = '';
  private body: Buffer | null = null;
  private noBody = false;
  private responseHead: string | null = null;
  private headSent = false;
  private status = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private retried = false;
  private upstreamFailure = false;
  private mirrored = false;
  private startedAt = 0;
  private traceId = '';
  private parentSpanId = '';
  private clientSpanId = '';
  private serverSpanId = '';
  private sampled = false;

  constructor(
    private readonly host: FastPathHost,
    readonly socket: Socket,
    /** The listener: its caller (null for the ingress), read per request as it may change. */
    readonly listener: { source: RequestParty | null; ingress: boolean },
    keepAliveTimeoutMs: number,
  ) {
    (socket as TaggedSocket)[kConn] = this;
    // MeshProxy opens fast connections only where llhttp passed its check.
    this.parser = new RequestParser(llhttpParser()!);
    socket.setNoDelay(true);
    this.idleLimit = Math.max(1, Math.ceil(keepAliveTimeoutMs / SWEEP_MS));
    track(this);
    this.sharedReads = readIntoSharedBuffer(socket);
    if (!this.sharedReads) socket.on('data', onClientData);
    socket.on('drain', onClientDrain);
    socket.on('close', onClientClose);
    socket.on('error', onClientError);
  }

  /** Called once per sweep: closes the connection once it has been idle (no request, no bytes) long enough. */
  sweep(): void {
    if (this.busy) return; // waiting on the upstream: its own timeout applies
    // An answer still queued for a slow reader is progress, not idleness (a per-socket timer counted writes too).
    if (this.socket.writableLength > 0) {
      this.idleSweeps = 0;
      return;
    }
    if (++this.idleSweeps >= this.idleLimit) this.socket.destroy();
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  /** `borrowed`: the chunk lives in the shared read buffer, valid only during this call. */
  onData(chunk: Buffer, borrowed: boolean): void {
    this.idleSweeps = 0;
    if (this.refused) return;
    if (this.pending === null) {
      this.pending = chunk;
      this.borrowed = borrowed;
    } else {
      this.pending = Buffer.concat([this.pending, chunk]);
      this.borrowed = false;
    }
    if (!this.busy) this.next();
    else if (this.pending.length > 4 * MAX_HEAD_BYTES + MAX_FAST_BODY_BYTES) this.socket.pause(); // a pipelining flood
    // Bytes kept for later (a partial request, pipelined ones) must not stay in the shared read buffer.
    if (this.borrowed && this.pending !== null) this.pending = Buffer.from(this.pending);
    this.borrowed = false;
  }

  /** Starts the next buffered request, if a whole one is there. */
  private next(): void {
    // A loop, not recursion: requests the connection answers itself (`OPTIONS *`) may come pipelined by thousands.
    for (;;) {
      const buf = this.pending;
      if (buf === null || this.handedOff || this.closed || this.refused) return;
      if (this.socket.isPaused()) this.socket.resume();
      const parser = this.parser;
      const frame = parser.frame(buf);
      if (frame === FRAME_MORE) return;
      if (frame === FRAME_REFUSE) {
        this.refuse(parser.refusalReason);
        return;
      }
      if (frame === FRAME_HAND_OFF) {
        this.handOff();
        return;
      }
      const head = parser.head;
      const total = parser.total;
      this.pending = buf.length === total ? null : buf.subarray(total);
      parser.messageDone();
      if (frame === FRAME_OPTIONS) {
        this.socket.write(optionsAnswer(head.close));
        if (head.close) {
          this.refused = true;
          this.socket.once('finish', destroySocket);
          this.socket.end();
          return;
        }
        continue;
      }
      // The body is kept until the answer (a retry sends it again): a copy when it sits in the shared read buffer.
      const body =
        head.bodyBytes === 0
          ? null
          : this.borrowed
            ? Buffer.from(buf.subarray(head.headBytes, total))
            : buf.subarray(head.headBytes, total);
      this.busy = true;
      this.closeAfter = head.close;
      this.method = head.method;
      this.raw = head.raw;
      this.bytesIn = total;
      this.host.routeFast(this, head, body);
      return;
    }
  }

  /** Answers a refused request (400/414/431/501) and closes: nothing of it, nor after it, is forwarded. */
  private refuse(reason: number | string): void {
    const r = refusal(reason);
    this.refused = true;
    this.pending = null;
    this.borrowed = false;
    // Closed once the answer is out: this socket is not read any more, so no end-of-stream would close it.
    this.socket.once('finish', destroySocket);
    this.socket.end(proxyErrorAnswer(r.status, r.code, r.message, true));
  }

  private handOff(): void {
    this.handedOff = true;
    this.parser.close();
    const socket = this.socket;
    if (this.sharedReads) {
      const slots = userBufferSlots!;
      (socket as SlottedSocket)[slots.callback] = pushCopy;
    }
    socket.off('data', onClientData);
    socket.off('drain', onClientDrain);
    socket.off('close', onClientClose);
    socket.off('error', onClientError);
    untrack(this);
    (socket as TaggedSocket)[kConn] = undefined;
    const pending = this.pending !== null && this.borrowed ? Buffer.from(this.pending) : this.pending;
    this.pending = null;
    this.borrowed = false;
    this.host.handOff(socket, pending);
  }

  /** A request the proxy answers itself (404, 503). */
  answer(status: number, code: ProxyErrorCode, message: string): void {
    this.status = status;
    this.writeError(status, code, message);
  }

  /** Forwards the routed request to `endpoint`; `requestHead` is the upstream request head (latin1). */
  forward(
    version: CompiledVersion,
    endpoint: CompiledEndpoint,
    path: string,
    requestHead: string,
    body: Buffer | null,
    mirrored: boolean,
    startedAt: number,
    hop: HopTrace | null,
  ): void {
    this.version = version;
    this.endpoint = endpoint;
    this.path = path;
    this.requestHead = requestHead;
    this.body = body;
    this.noBody = this.method === 'HEAD';
    this.mirrored = mirrored;
    this.startedAt = startedAt;
    this.status = 0;
    this.bytesOut = 0;
    this.retried = false;
    this.upstreamFailure = false;
    this.responseHead = null;
    this.headSent = false;
    if (hop !== null) {
      this.traceId = hop.traceId;
      this.parentSpanId = hop.parentSpanId;
      this.clientSpanId = hop.clientSpanId;
      this.serverSpanId = hop.serverSpanId;
      this.sampled = hop.sampled;
    } else {
      this.traceId = '';
      this.sampled = false;
    }
    this.send();
  }

  private send(): void {
    const pool = this.endpoint!.fastPool;
    this.pool = pool;
    this.upstream = null;
    pool.send(this, this.requestHead, this.body, this.noBody);
  }

  onUpstreamHead(head: ResponseHead): void {
    this.status = head.status;
    let text = head.statusLine + head.fields;
    if (head.framing === BODY_CHUNKED) text += 'transfer-encoding: chunked\r\n';
    else if (head.framing === BODY_UNTIL_CLOSE) this.closeAfter = true; // the end of the body is the end of the connection
    if (this.host.settings.exposeVersionHeader) text += `x-canary-version: ${this.version!.name}\r\n`;
    if (this.closeAfter) text += 'connection: close\r\n';
    this.responseHead = `${text}\r\n`;
  }

  onUpstreamBody(buf: Buffer, start: number, end: number): boolean {
    const n = end - start;
    this.bytesOut += n;
    const head = this.responseHead;
    if (head !== null) {
      this.responseHead = null;
      this.headSent = true;
      // Head and first bytes in one write (one syscall for a typical small answer).
      const headBytes = head.length;
      const out = Buffer.allocUnsafe(headBytes + n);
      out.write(head, 0, headBytes, 'latin1');
      buf.copy(out, headBytes, start, end);
      return this.socket.write(out);
    }
    // The bytes are ours to keep (llhttp hands over copies): written as they are.
    return this.socket.write(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
  }

  onUpstreamEnd(): void {
    const head = this.responseHead;
    if (head !== null) {
      this.responseHead = null;
      this.headSent = true;
      this.socket.write(head, 'latin1');
    }
    this.finish();
  }

  onUpstreamError(code: string, started: boolean): void {
    this.upstream = null;
    if (!this.busy || this.closed) return;
    if (started) {
      // The response has started: the only honest signal left is to cut the connection.
      this.upstreamFailure = true;
      this.closeAfter = true;
      this.socket.destroy();
      this.finish();
      return;
    }
    if (!this.retried && this.body === null && isIdempotent(this.method) && this.retry(code)) return;
    this.upstreamFailure = true;
    const version = this.version!;
    const where = `${version.service} version ${version.name} at ${this.endpoint!.address}`;
    if (isTimeout(code)) {
      this.status = 504;
      this.writeError(
        504,
        'upstream-timeout',
        `upstream timeout: ${where} did not answer within ${this.host.settings.upstreamTimeoutMs} ms`,
      );
    } else if (isConnectFailure(code)) {
      this.status = 502;
      this.writeError(502, 'upstream-connect-failure', `upstream connect failure: ${where}: ${code}`);
    } else {
      this.status = 502;
      this.writeError(502, 'upstream-failure', `upstream failure: ${where} failed before responding: ${code}`);
    }
  }

  /** Same policy as ProxyExchange: the next endpoint of the version, or a reset connection on the only one. */
  private retry(code: string): boolean {
    const endpoints = this.version!.endpoints;
    const n = endpoints.length;
    let next: CompiledEndpoint;
    if (n >= 2) next = endpoints[(endpoints.indexOf(this.endpoint!) + 1) % n]!;
    else if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE') next = this.endpoint!;
    else return false;
    this.retried = true;
    this.endpoint = next;
    this.send();
    return true;
  }

  private writeError(status: number, code: ProxyErrorCode, message: string): void {
    this.headSent = true;
    this.socket.write(proxyErrorAnswer(status, code, message, this.closeAfter));
    if (this.endpoint !== null) this.finish();
  }

  /** Ends an answered (404/503) request: the proxy reports it itself, then calls this. */
  done(): void {
    this.endpoint = null;
    this.settle();
  }

  onClose(): void {
    this.closed = true;
    untrack(this);
    if (!this.handedOff) this.parser.close();
    if (!this.busy) return;
    // The client went away mid-exchange: stop the upstream request too.
    const up = this.upstream;
    this.upstream = null;
    if (up !== null) up.abort();
    else this.pool?.cancel(this);
    if (this.endpoint !== null) {
      if (!this.headSent) this.status = 0;
      this.finish();
    }
  }

  private finish(): void {
    if (!this.busy) return;
    this.upstream = null;
    const observer = this.host.settings.observer;
    if (observer !== null) {
      const endpoint = this.endpoint!;
      try {
        observer.onRequest({
          source: this.listener.source,
          destination: endpoint.party,
          method: this.method,
          path: this.path,
          status: this.status,
          startTime: performance.timeOrigin + this.startedAt,
          durationMs: performance.now() - this.startedAt,
          flags: { noRoute: false, upstreamFailure: this.upstreamFailure, retried: this.retried, mirrored: this.mirrored },
          bytesIn: this.bytesIn,
          bytesOut: this.bytesOut,
          upstreamAddress: endpoint.address,
          traceparent: rawHeader(this.raw, 'traceparent'),
          peerAddress: this.remoteAddress,
          traceId: this.traceId,
          parentSpanId: this.parentSpanId,
          clientSpanId: this.clientSpanId,
          serverSpanId: this.serverSpanId,
          sampled: this.sampled,
        });
      } catch {
        // An observer must not break the proxy.
      }
    }
    this.endpoint = null;
    this.settle();
  }

  private settle(): void {
    this.busy = false;
    this.idleSweeps = 0;
    this.version = null;
    this.body = null;
    this.pool = null;
    if (this.closed) return;
    if (this.closeAfter) {
      this.socket.end();
      return;
    }
    if (this.pending !== null) this.next();
  }
}
