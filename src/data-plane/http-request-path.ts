import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type ConnectionSweep, SendWatch, type SweptConnection } from './connection-sweep.js';
import { rawHeader } from './forward-headers.js';
import { ANSWER_OPTIONS, FORWARD, proxyErrorAnswer, type Refusal, refusal, requestVerdict, targetTooLongSoFar } from './http1-wire.js';
import type { OwnAnswerReporter } from './own-answer-reporter.js';
import { type ExchangeSettings, ProxyExchange, sendProxyError } from './proxy-exchange.js';
import type { ListenerState, RequestRouter } from './request-router.js';
import type { ServiceRouter } from './route-snapshot.js';
import { sendSocketError } from './upgrade-tunnel.js';

/**
 * A connection node:http carries (handed over by the fast path, or every one without it): node:http applies the
 * header and idle timeouts itself; the sweep adds the send timeout, which node:http does not have.
 */
class HttpConnection implements SweptConnection {
  private readonly watch = new SendWatch();
  /** The latest request forwarded on this connection, and the sweeps it has been queued for. */
  exchange: ProxyExchange | null = null;
  queuedSweeps = 0;

  constructor(
    private readonly socket: Socket,
    private readonly sweeper: ConnectionSweep,
    private readonly connectionsPerEndpoint: number,
  ) {}

  sweep(): void {
    const sweeper = this.sweeper;
    if (this.watch.check(this.socket, sweeper.sendSweeps)) {
      this.socket.destroy();
      return;
    }
    const exchange = this.exchange;
    if (exchange === null) return;
    if (!exchange.queued) {
      this.queuedSweeps = 0;
      return;
    }
    if (++this.queuedSweeps >= sweeper.queueSweeps) {
      this.exchange = null;
      exchange.queueTimedOut(sweeper.current.queueTimeoutMs, this.connectionsPerEndpoint);
    }
  }
}

const kHttpConnection = Symbol('canary.httpConnection');
type WatchedSocket = Socket & { [kHttpConnection]?: HttpConnection };

/** Requests of one node:http connection, forwarded one at a time in the order received. */
interface RequestLine {
  busy: boolean;
  /** A request was refused: nothing after it is forwarded. */
  refused: boolean;
  /** The answer to bytes llhttp refused, written once the requests before them are answered. */
  refusal: Refusal | null;
  /** The request being forwarded. */
  current: { req: IncomingMessage; res: ServerResponse } | null;
  waiting: { req: IncomingMessage; res: ServerResponse; listener: ListenerState }[];
}
const kLine = Symbol('canary.line');
type OrderedSocket = Socket & { [kLine]?: RequestLine };

/**
 * The node:http path (every request the fast path hands over, or all of them without it): requests in order per
 * connection, synchronous from the `request` event to the upstream dispatch through ProxyExchange and undici.
 */
export class HttpRequestPath {
  constructor(
    private readonly router: RequestRouter,
    private readonly reporter: OwnAnswerReporter,
    private readonly settings: ExchangeSettings,
    private readonly sweeper: ConnectionSweep,
    private readonly connectionsPerEndpoint: number,
  ) {}

  /** Puts a node:http connection under the sweep's send timeout until it closes. */
  watch(socket: Socket): void {
    const conn = new HttpConnection(socket, this.sweeper, this.connectionsPerEndpoint);
    (socket as WatchedSocket)[kHttpConnection] = conn;
    this.sweeper.add(conn);
    socket.once('close', () => this.sweeper.delete(conn));
  }

  /**
   * node:http emits every pipelined request as soon as it has parsed its head, even while an earlier one's body is
   * still streaming upstream: each client connection forwards one request at a time, in the order received, as the
   * fast path does. A refused request ends the connection: nothing after it is forwarded.
   */
  inOrder(req: IncomingMessage, res: ServerResponse, listener: ListenerState): void {
    const socket = req.socket as OrderedSocket;
    const line = socket[kLine];
    if (line === undefined) {
      socket[kLine] = { busy: true, refused: false, refusal: null, current: { req, res }, waiting: [] };
    } else if (line.refused && line.refusal === null) {
      return; // the connection closes after the refusal's answer
    } else if (line.busy) {
      line.waiting.push({ req, res, listener });
      return;
    } else {
      line.busy = true;
      line.current = { req, res };
    }
    res.once('close', () => this.nextInLine(socket));
    this.route(req, res, listener);
  }

  /** node:http's 'clientError': bytes llhttp refuses get the fast path's answer (400, 431, 414) and a closed socket, never a crash. */
  clientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      // node:http's header timeout, set from the proxy's: the same answer as the fast path's.
      const ms = this.settings.limits.headerTimeoutMs;
      socket.end(proxyErrorAnswer(408, 'header-timeout', `request head not received within ${ms} ms`, true));
      return;
    }
    const packet = err.rawPacket;
    const reason =
      err.code === 'HPE_HEADER_OVERFLOW' && packet !== undefined && targetTooLongSoFar(packet, packet.length)
        ? 'URI_TOO_LONG'
        : (err.code ?? 'HPE_UNKNOWN');
    const line = (socket as OrderedSocket)[kLine];
    if (line?.refused) return; // the request was refused already; its answer closes the connection
    const r = refusal(reason);
    const current = line?.current;
    if (current !== undefined && current !== null && !current.req.complete) {
      // The bad bytes are in the body being streamed upstream: that request cannot complete. Closing the client
      // connection aborts the upstream request; the client gets the 400 unless an answer had already started.
      line!.refused = true;
      if (current.res.headersSent) socket.destroy();
      else sendSocketError(socket, r.status, r.code, r.message);
      return;
    }
    if (line?.busy) {
      // Requests before the bad bytes are answered first, in order; the refusal follows them.
      line.refused = true;
      line.refusal = r;
      return;
    }
    sendSocketError(socket, r.status, r.code, r.message);
  }

  private nextInLine(socket: OrderedSocket): void {
    const line = socket[kLine];
    if (line === undefined) return;
    line.busy = false;
    line.current = null;
    // A refused request closes the connection: the ones after it are dropped.
    if (line.refused && line.refusal === null) return;
    const next = line.waiting.shift();
    if (next === undefined || socket.destroyed) {
      const r = line.refusal;
      if (r !== null && !socket.destroyed) {
        line.refusal = null;
        sendSocketError(socket, r.status, r.code, r.message);
      }
      return;
    }
    line.busy = true;
    line.current = next;
    next.res.once('close', () => this.nextInLine(socket));
    this.route(next.req, next.res, next.listener);
  }

  /** Synchronous from the `request` event to the upstream dispatch. */
  private route(req: IncomingMessage, res: ServerResponse, listener: ListenerState): void {
    const verdict = requestVerdict(req.method ?? '', req.url ?? '', req.httpVersionMinor, req.rawHeaders);
    if (verdict !== FORWARD) {
      this.refuse(req, res, verdict);
      return;
    }
    const observer = this.settings.observer;
    const startedAt = observer === null ? 0 : performance.now();
    const bytesInAtStart = observer === null ? 0 : req.socket.bytesRead;
    const method = req.method ?? 'GET';
    const d = this.router.decide(method, req.url ?? '/', req.rawHeaders, req.socket.remoteAddress ?? '', listener);
    if (d.status !== 0) {
      this.answer(
        req,
        res,
        d.status,
        d.code as 'no-route' | 'no-ready-endpoint',
        d.message,
        listener,
        d.router,
        d.path,
        startedAt,
        d.versionName,
      );
      return;
    }
    const exchange = new ProxyExchange(
      this.settings,
      req,
      res,
      listener.source,
      d.version!,
      d.endpoint!,
      d.headers,
      d.hasBody,
      d.url,
      d.path,
      d.mirror,
      startedAt,
      bytesInAtStart,
      this.router.hop,
    );
    const watched = (req.socket as WatchedSocket)[kHttpConnection];
    if (watched !== undefined) {
      watched.exchange = exchange;
      watched.queuedSweeps = 0;
    }
    exchange.start();
  }

  /** The answer to `OPTIONS *` and to requests the framing rules refuse (then the connection closes). */
  private refuse(req: IncomingMessage, res: ServerResponse, verdict: number): void {
    if (verdict === ANSWER_OPTIONS) {
      res.writeHead(200, ['allow', 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH', 'content-length', '0']);
      res.end();
      return;
    }
    const line = (req.socket as OrderedSocket)[kLine];
    if (line !== undefined) line.refused = true;
    const r = refusal(verdict);
    const body = `${r.message}\n`;
    res.shouldKeepAlive = false;
    res.writeHead(r.status, [
      'content-type',
      'text/plain; charset=utf-8',
      'content-length',
      String(Buffer.byteLength(body)),
      'x-canary-error',
      r.code,
      'connection',
      'close',
    ]);
    res.end(body);
  }

  /** A request the proxy answers itself (404, 503), reported to the observer like any other. */
  private answer(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    code: 'no-route' | 'no-ready-endpoint',
    message: string,
    listener: ListenerState,
    router: ServiceRouter | undefined,
    path: string,
    startedAt: number,
    version: string,
  ): void {
    // Unread request bodies are discarded by Node once the response ends; the connection stays usable.
    sendProxyError(res, status, code, message);
    if (this.settings.observer === null) return;
    this.reporter.report(
      listener,
      router,
      req.method ?? '',
      path,
      status,
      startedAt,
      version,
      rawHeader(req.rawHeaders, 'traceparent'),
      req.socket.remoteAddress ?? '',
    );
  }
}
