import { connect, type Socket } from 'node:net';
import { BODY_CHUNKED, BODY_UNTIL_CLOSE, hostAndPort, type ResponseHead } from './http1-wire.js';
import { llhttpParser } from './llhttp.js';
import { EXTRA_BYTES, ResponseParser } from './response-parser.js';

/** What an upstream connection reports to the request it carries (the fast path's downstream connection). */
export interface UpstreamSink {
  /** The connection carrying the sink's request, set when it is sent (a queued request gets one later). */
  upstream: Http1Upstream | null;
  /** Also gets the decoded body bytes (before the proxy frames them again): a mirrored request's capture, else null. */
  readonly tap: BodyTap | null;
  /** The final response head (interim 1xx heads are skipped). */
  onUpstreamHead(head: ResponseHead): void;
  /**
   * Body bytes `buf[start..end)` framed again for the client (chunked coding made by the proxy, trailers
   * included); false asks for a pause. `buf` is the sink's to keep, unless `borrowed`: then it is a view of the
   * shared read buffer, valid only during the call (what must outlive it is copied by the sink).
   */
  onUpstreamBody(buf: Buffer, start: number, end: number, borrowed: boolean): boolean;
  onUpstreamEnd(): void;
  /** `started`: the head had been delivered (the answer can only be cut now). */
  onUpstreamError(code: string, started: boolean): void;
}

/** Sees an answer's body as the upstream sent it, decoded (buf[start..end) valid only during the call). */
export interface BodyTap {
  primaryData(buf: Buffer, start: number, end: number): void;
}

export interface Http1PoolOptions {
  maxConnections: number;
  connectTimeoutMs: number;
  /** Inactivity allowed while waiting for a response (head or body bytes) before UND_ERR_HEADERS_TIMEOUT. */
  timeoutMs: number;
}

/**
 * Every upstream connection reads into this one buffer (node:net's `onread`): no buffer is allocated per read and
 * the bytes skip the socket's Readable stream. Each read is handled to the end before the next one lands, so what
 * must outlive the call (a partial head, body bytes a write may still hold) is copied out.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

function onSocketRead(this: Socket, nread: number, buf: Buffer): boolean {
  const up = (this as TaggedSocket)[kUpstream];
  if (up === undefined) return true;
  up.onData(buf.subarray(0, nread));
  return !up.isPaused;
}
function onSocketError(this: Socket, err: Error): void {
  (this as TaggedSocket)[kUpstream]!.onFailure((err as NodeJS.ErrnoException).code ?? 'UND_ERR_SOCKET');
}
function onSocketEnd(this: Socket): void {
  (this as TaggedSocket)[kUpstream]!.onEnd();
}
function onSocketClose(this: Socket): void {
  (this as TaggedSocket)[kUpstream]!.onFailure('UND_ERR_SOCKET');
}
function onSocketTimeout(this: Socket): void {
  (this as TaggedSocket)[kUpstream]!.onTimeout();
}
function onSocketConnect(this: Socket): void {
  (this as TaggedSocket)[kUpstream]!.onConnected();
}

const kUpstream = Symbol('canary.upstream');
type TaggedSocket = Socket & { [kUpstream]?: Http1Upstream };

/** One keep-alive connection to an upstream, carrying one request at a time. */
export class Http1Upstream {
  sink: UpstreamSink | null = null;
  /** llhttp, reading every answer of this connection (response-parser.ts). */
  private readonly parser: ResponseParser;
  private started = false;
  private paused = false;
  private connected = false;
  private dead = false;
  /** Requests this connection has answered: a failure before any answer on a reused one is a stale keep-alive. */
  private answered = 0;

  constructor(
    private readonly pool: Http1Pool,
    readonly socket: Socket,
  ) {
    (socket as TaggedSocket)[kUpstream] = this;
    // The fast path runs only where llhttp passed its check (MeshProxy), so the binding is there.
    this.parser = new ResponseParser(llhttpParser()!);
    socket.setNoDelay(true);
    socket.on('error', onSocketError);
    socket.on('end', onSocketEnd);
    socket.on('close', onSocketClose);
    socket.on('timeout', onSocketTimeout);
    socket.once('connect', onSocketConnect);
    socket.setTimeout(pool.options.connectTimeoutMs);
  }

  /** Sends a request head (latin1) and its body, if any; the sink hears about the response. */
  send(sink: UpstreamSink, head: string, body: Buffer | null, noBody: boolean): void {
    this.sink = sink;
    sink.upstream = this;
    this.parser.begin(noBody);
    this.started = false;
    if (body === null) {
      this.socket.write(head, 'latin1');
    } else {
      this.socket.cork();
      this.socket.write(head, 'latin1');
      this.socket.write(body);
      this.socket.uncork();
    }
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  /** Drops the request in flight (the client went away): the connection cannot be reused. */
  abort(): void {
    this.sink = null;
    this.kill();
  }

  onConnected(): void {
    this.connected = true;
    this.socket.setTimeout(this.pool.options.timeoutMs);
  }

  /** `chunk` lives in the shared read buffer: valid only during this call (llhttp copies what it hands over). */
  onData(chunk: Buffer): void {
    if (this.dead) return;
    const sink = this.sink;
    if (sink === null) {
      // Bytes on an idle connection: the upstream is confused; do not reuse it.
      this.kill();
      return;
    }
    const p = this.parser;
    // A complete answer followed by more bytes is relayed, and the connection closed after it.
    const ok = p.feed(chunk) || (p.done && p.error === EXTRA_BYTES);
    if (!ok) {
      // Before the head went out this is a 502; after, the client's connection is cut.
      this.fail(p.error);
      return;
    }
    if (!this.started) {
      if (!p.headReady) return; // the head goes on in the next read (or only an interim 1xx came)
      this.started = true;
      sink.onUpstreamHead(p.head);
      if (this.sink === null) return;
    }
    const more = this.relay(sink);
    if (this.sink === null) return;
    if (p.done) this.complete(p.error === EXTRA_BYTES);
    else if (!more) this.pause();
  }

  /** Hands the body decoded by this read to the sink, framed again (one buffer per read). */
  private relay(sink: UpstreamSink): boolean {
    const p = this.parser;
    const pieces = p.body;
    const tap = sink.tap;
    if (tap !== null) for (const piece of pieces) tap.primaryData(piece, 0, piece.length);
    if (p.head.framing !== BODY_CHUNKED) {
      if (pieces.length === 0) return true;
      // A view of the shared read buffer: the sink copies what it keeps (once, with the head for the first bytes).
      const piece = pieces[0]!;
      return sink.onUpstreamBody(piece, 0, piece.length, true);
    }
    let size = 0;
    for (const piece of pieces) if (piece.length > 0) size += piece.length + piece.length.toString(16).length + 4;
    const last = p.done ? `0\r\n${p.trailers}\r\n` : '';
    size += last.length;
    if (size === 0) return true;
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (const piece of pieces) {
      if (piece.length === 0) continue;
      at += out.write(`${piece.length.toString(16)}\r\n`, at, 'latin1');
      at += piece.copy(out, at);
      at += out.write('\r\n', at, 'latin1');
    }
    if (last !== '') at += out.write(last, at, 'latin1');
    return sink.onUpstreamBody(out, 0, at, false);
  }

  onEnd(): void {
    const sink = this.sink;
    if (sink !== null && this.started && this.parser.head.framing === BODY_UNTIL_CLOSE && !this.dead) {
      if (this.parser.end()) {
        this.complete(true);
        return;
      }
    }
    this.onFailure('UND_ERR_SOCKET');
  }

  onTimeout(): void {
    if (!this.connected) {
      this.fail('UND_ERR_CONNECT_TIMEOUT');
      return;
    }
    if (this.sink === null) {
      this.kill(); // idle for a whole timeout: let it go
      return;
    }
    if (this.paused) return; // the client is slow, not the upstream
    this.fail(this.started ? 'UND_ERR_BODY_TIMEOUT' : 'UND_ERR_HEADERS_TIMEOUT');
  }

  onFailure(code: string): void {
    if (this.dead) return;
    this.fail(code);
  }

  private fail(code: string): void {
    const sink = this.sink;
    this.sink = null;
    this.kill();
    // A reused connection that failed before answering was most likely closed by the upstream's keep-alive
    // timeout, and the connections that went idle with it are too: the retry must not pick one of them.
    if (this.answered > 0 && !this.started) this.pool.discardIdle();
    sink?.onUpstreamError(code, this.started);
  }

  private complete(extraBytes: boolean): void {
    const sink = this.sink!;
    this.sink = null;
    this.answered++;
    this.paused = false;
    if (extraBytes || this.parser.head.close) this.kill();
    else this.pool.release(this);
    sink.onUpstreamEnd();
  }

  private kill(): void {
    if (this.dead) return;
    this.dead = true;
    this.pool.forget(this);
    this.socket.destroy();
    this.parser.close();
  }

  get isDead(): boolean {
    return this.dead;
  }
}

interface Waiting {
  sink: UpstreamSink;
  head: string;
  body: Buffer | null;
  noBody: boolean;
}

/**
 * Keep-alive connections to one endpoint for the fast path: the most recently used idle connection first (it is
 * the least likely to have been closed by the upstream), a new one while under `maxConnections`, else a queue.
 */
export class Http1Pool {
  private readonly idle: Http1Upstream[] = [];
  private open = 0;
  private readonly queue: Waiting[] = [];
  private closed = false;
  private readonly host: string;
  private readonly port: number;

  constructor(
    readonly address: string,
    readonly options: Http1PoolOptions,
  ) {
    const { host, port } = hostAndPort(address);
    this.host = host;
    this.port = port;
  }

  /**
   * Sends a request on an idle connection or a new one, or queues it while `maxConnections` are busy; the sink's
   * `upstream` names the connection once it has one. A closed pool answers with an error at once.
   */
  send(sink: UpstreamSink, head: string, body: Buffer | null, noBody: boolean): void {
    if (this.closed) {
      sink.onUpstreamError('UND_ERR_CLOSED', false);
      return;
    }
    const up = this.idle.pop();
    if (up !== undefined) {
      up.send(sink, head, body, noBody);
      return;
    }
    if (this.open >= this.options.maxConnections) {
      this.queue.push({ sink, head, body, noBody });
      return;
    }
    this.connectOne().send(sink, head, body, noBody);
  }

  /** Removes a queued request (its client went away). */
  cancel(sink: UpstreamSink): void {
    const i = this.queue.findIndex((w) => w.sink === sink);
    if (i !== -1) this.queue.splice(i, 1);
  }

  /** A connection whose response completed: the next queued request, or the idle list. */
  release(up: Http1Upstream): void {
    if (this.closed) {
      up.abort();
      return;
    }
    const next = this.queue.shift();
    if (next !== undefined) {
      up.send(next.sink, next.head, next.body, next.noBody);
      return;
    }
    this.idle.push(up);
  }

  forget(up: Http1Upstream): void {
    this.open--;
    const i = this.idle.indexOf(up);
    if (i !== -1) this.idle.splice(i, 1);
    if (this.queue.length > 0 && !this.closed && this.open < this.options.maxConnections) {
      const next = this.queue.shift()!;
      queueMicrotask(() => this.send(next.sink, next.head, next.body, next.noBody));
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes the idle connections (they are presumed closed by the upstream too); busy ones are left alone. */
  discardIdle(): void {
    for (const up of this.idle.splice(0)) up.abort();
  }

  /** Closes idle connections now; busy ones close when their response completes. */
  close(): void {
    this.closed = true;
    this.discardIdle();
    for (const w of this.queue.splice(0)) w.sink.onUpstreamError('UND_ERR_CLOSED', false);
  }

  private connectOne(): Http1Upstream {
    this.open++;
    return new Http1Upstream(this, connect({ host: this.host, port: this.port, onread: { buffer: READ_BUFFER, callback: onSocketRead } }));
  }
}
