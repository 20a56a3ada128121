import type { Socket } from 'node:net';
import { attachClientSocket, destroySocket, detachClientSocket } from './client-socket-reads.js';
import { type ConnectionSweep, SendWatch } from './connection-sweep.js';
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
import type { ExchangeSettings } from './proxy-exchange.js';
import type { RequestParty } from './request-observer.js';
import { failureAnswer, type ProxyErrorCode, RequestOutcome } from './request-outcome.js';
import type { CompiledEndpoint, CompiledVersion } from './route-snapshot.js';
import { FRAME_HAND_OFF, FRAME_MORE, FRAME_OPTIONS, FRAME_REFUSE, MAX_FAST_BODY_BYTES, RequestParser } from './request-parser.js';
import type { MirrorCopy } from './mirror/mirror-copy.js';
import type { HopTrace } from './telemetry/proxy-tracer.js';

/** What a fast connection needs from its proxy. */
export interface FastPathHost {
  readonly settings: ExchangeSettings;
  /** Routes one request: answers it (`answer`) or forwards it (`forward`), synchronously. */
  routeFast(conn: FastConnection, head: RequestHead, body: Buffer | null): void;
  /** Gives the connection to node:http (the full implementation) with the bytes not yet consumed. */
  handOff(socket: Socket, pending: Buffer | null): void;
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
  /** The mirror copy of the request in flight, which captures the answer too; null when it is not mirrored. */
  tap: MirrorCopy | null = null;
  private pending: Buffer | null = null;
  /** `pending` is a view of the shared read buffer (only while a read is being handled). */
  private borrowed = false;
  /** The socket reads into the shared buffer rather than emitting 'data'. */
  private readonly sharedReads: boolean;
  private handedOff = false;
  /**
   * Sweeps (connection-sweep.ts) since the clock of the current wait started: the accept or the first byte of a
   * head (header timeout), the end of the last exchange (idle timeout), the request's send to the pool (queue
   * timeout). Reset only at those points, never per byte, so a head trickled a byte at a time still times out.
   */
  private waitSweeps = 0;
  /** No request has been served yet: the header timeout runs from the accept. */
  private fresh = true;
  /** The proxy answered 408 and closes: later bytes are ignored. */
  private ending = false;
  /** Progress of the answer bytes waiting for the client (send timeout). */
  readonly sendWatch = new SendWatch();
  /** A request was refused: the connection is closing, later bytes are dropped. */
  private refused = false;
  private readonly parser: RequestParser;
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
  /** Request body bytes of the request in flight. */
  private bodyBytes = 0;
  /** The exchange's outcome (status, bytes, retry, failure, trace identity): one per connection, refilled. */
  private readonly outcome = new RequestOutcome();

  constructor(
    private readonly host: FastPathHost,
    readonly socket: Socket,
    /** The listener: its caller (null for the ingress), read per request as it may change. */
    readonly listener: { source: RequestParty | null; ingress: boolean },
    private readonly sweeper: ConnectionSweep,
  ) {
    // MeshProxy opens fast connections only where llhttp passed its check.
    this.parser = new RequestParser(llhttpParser()!);
    socket.setNoDelay(true);
    sweeper.add(this);
    this.sharedReads = attachClientSocket(socket, this);
  }

  /**
   * Called once per sweep. A client that takes no byte of its answer for the send timeout is cut (its upstream
   * connection with it, so it cannot be pinned); a request waiting for a free upstream connection gets a 503 at the
   * queue timeout; a head not complete within the header timeout gets a 408; an idle keep-alive connection closes.
   */
  sweep(): void {
    const sweeper = this.sweeper;
    const socket = this.socket;
    if (this.sendWatch.check(socket, sweeper.sendSweeps)) {
      socket.destroy();
      return;
    }
    if (this.ending || this.refused) {
      if (socket.writableLength === 0) socket.destroy();
      return;
    }
    if (this.busy) {
      // Queued in the pool (no connection yet); once sent, the upstream timeout applies.
      if (this.upstream === null && this.pool !== null && ++this.waitSweeps >= sweeper.queueSweeps) this.queueTimedOut();
      return;
    }
    // An answer still going out to a slow reader is progress, not idleness (the send watch bounds it).
    if (socket.writableLength > 0) {
      this.waitSweeps = 0;
      return;
    }
    ++this.waitSweeps;
    if (this.pending !== null || this.fresh) {
      if (this.waitSweeps >= sweeper.headerSweeps) this.headerTimedOut();
    } else if (this.waitSweeps >= sweeper.idleSweeps) {
      socket.destroy();
    }
  }

  /** A head (or the small body the fast path buffers) not complete in time: 408 and close, as HAProxy does. */
  private headerTimedOut(): void {
    if (this.pending === null) {
      this.socket.destroy(); // a connection that never sent a byte: nothing to answer
      return;
    }
    this.ending = true;
    this.pending = null;
    const ms = this.sweeper.current.headerTimeoutMs;
    this.socket.end(proxyErrorAnswer(408, 'header-timeout', `request head not received within ${ms} ms`, true));
  }

  /** Every connection to the endpoint stayed busy for the queue timeout: 503, the connection stays usable. */
  private queueTimedOut(): void {
    this.pool!.cancel(this);
    this.outcome.upstreamFailure = true;
    this.outcome.upstreamOverflow = true;
    this.outcome.status = 503;
    const version = this.version!;
    const where = `${version.service} version ${version.name} at ${this.endpoint!.address}`;
    const ms = this.sweeper.current.queueTimeoutMs;
    this.writeError(
      503,
      'queue-timeout',
      `upstream queue timeout: no free connection to ${where} within ${ms} ms (all ${this.pool!.options.maxConnections} busy)`,
    );
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  /** `borrowed`: the chunk lives in the shared read buffer, valid only during this call. */
  onData(chunk: Buffer, borrowed: boolean): void {
    if (this.ending || this.refused) return;
    if (this.pending === null) {
      // The first byte of a keep-alive connection's next head starts its header clock.
      if (!this.busy && !this.fresh) this.waitSweeps = 0;
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
      this.bodyBytes = head.bodyBytes;
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
    detachClientSocket(socket, this.sharedReads);
    this.sweeper.delete(this);
    const pending = this.pending !== null && this.borrowed ? Buffer.from(this.pending) : this.pending;
    this.pending = null;
    this.borrowed = false;
    this.host.handOff(socket, pending);
  }

  /** A request the proxy answers itself (404, 503). */
  answer(status: number, code: ProxyErrorCode, message: string): void {
    this.writeError(status, code, message);
  }

  /** Forwards the routed request to `endpoint`; `requestHead` is the upstream request head (latin1). */
  forward(
    version: CompiledVersion,
    endpoint: CompiledEndpoint,
    path: string,
    requestHead: string,
    body: Buffer | null,
    mirror: MirrorCopy | null,
    startedAt: number,
    hop: HopTrace | null,
  ): void {
    this.version = version;
    this.endpoint = endpoint;
    this.path = path;
    this.requestHead = requestHead;
    this.body = body;
    this.noBody = this.method === 'HEAD';
    this.responseHead = null;
    this.headSent = false;
    this.tap = mirror;
    this.outcome.begin(startedAt, mirror !== null, hop);
    this.outcome.bytesIn = this.bodyBytes;
    this.send();
  }

  private send(): void {
    const pool = this.endpoint!.fastPool;
    this.pool = pool;
    this.upstream = null;
    this.waitSweeps = 0;
    pool.send(this, this.requestHead, this.body, this.noBody);
  }

  onUpstreamHead(head: ResponseHead): void {
    this.outcome.answered(this.endpoint!, head.status);
    const tap = this.tap;
    if (tap !== null) tap.primaryFastHead(head.status, head.fields);
    let text = head.statusLine + head.fields;
    if (head.framing === BODY_CHUNKED) text += 'transfer-encoding: chunked\r\n';
    else if (head.framing === BODY_UNTIL_CLOSE) this.closeAfter = true; // the end of the body is the end of the connection
    if (this.host.settings.exposeVersionHeader) text += `x-canary-version: ${this.version!.name}\r\n`;
    if (this.closeAfter) text += 'connection: close\r\n';
    this.responseHead = `${text}\r\n`;
  }

  onUpstreamBody(buf: Buffer, start: number, end: number, borrowed: boolean): boolean {
    const n = end - start;
    this.outcome.bytesOut += n;
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
    // A view of the upstream's read buffer is copied (a write may hold it); the chunked framing's own buffer is ours.
    if (borrowed) return this.socket.write(Buffer.from(buf.subarray(start, end)));
    return this.socket.write(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
  }

  onUpstreamEnd(): void {
    const tap = this.tap;
    if (tap !== null) tap.primaryEnd();
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
    const outcome = this.outcome;
    outcome.attemptFailed(this.endpoint!, code);
    if (started) {
      // The response has started: the only honest signal left is to cut the connection.
      outcome.upstreamFailure = true;
      this.closeAfter = true;
      this.socket.destroy();
      this.finish();
      return;
    }
    const next = outcome.retryTarget(this.version!, this.endpoint!, code, this.method, this.body !== null);
    if (next !== undefined) {
      this.endpoint = next;
      this.send();
      return;
    }
    outcome.upstreamFailure = true;
    const answer = failureAnswer(code, this.version!, this.endpoint!, this.host.settings);
    this.writeError(answer.status, answer.code, answer.message);
  }

  private writeError(status: number, code: ProxyErrorCode, message: string): void {
    this.tap?.primaryFailed();
    this.headSent = true;
    this.outcome.status = status;
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
    this.sweeper.delete(this);
    if (!this.handedOff) this.parser.close();
    if (!this.busy) return;
    // The client went away mid-exchange: stop the upstream request too.
    const up = this.upstream;
    this.upstream = null;
    if (up !== null) up.abort();
    else this.pool?.cancel(this);
    if (this.endpoint !== null) {
      if (!this.headSent) this.outcome.status = 0;
      this.finish();
    }
  }

  private finish(): void {
    if (!this.busy) return;
    this.upstream = null;
    const tap = this.tap;
    if (tap !== null) {
      // An answer cut or left unfinished (client gone, upstream broke mid-body): nothing to compare.
      tap.primaryFailed();
      this.tap = null;
    }
    const observer = this.host.settings.observer;
    if (observer !== null) {
      const endpoint = this.endpoint!;
      this.outcome.report(
        observer,
        this.listener.source,
        endpoint.party,
        this.method,
        this.path,
        endpoint.address,
        rawHeader(this.raw, 'traceparent'),
        this.remoteAddress,
        false,
      );
    }
    this.endpoint = null;
    this.settle();
  }

  private settle(): void {
    this.busy = false;
    this.waitSweeps = 0;
    this.fresh = false;
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
