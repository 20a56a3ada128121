import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { downstreamResponseHeaders, rawHeader } from './forward-headers.js';
import type { RequestObserver, RequestParty } from './request-observer.js';
import type { HopTrace } from './telemetry/proxy-tracer.js';
import type { CompiledEndpoint, CompiledVersion } from './route-snapshot.js';
import { errorCodeOf, isConnectFailure, isIdempotent, isTimeout } from './upstream-failure.js';

/** What an exchange needs from its proxy; read once per request. */
export interface ExchangeSettings {
  upstreamTimeoutMs: number;
  exposeVersionHeader: boolean;
  observer: RequestObserver | null;
}

/** The value of `x-canary-error` on answers the proxy makes itself. */
export type ProxyErrorCode = 'no-route' | 'no-ready-endpoint' | 'upstream-connect-failure' | 'upstream-failure' | 'upstream-timeout';

const kExchange = Symbol('canary.exchange');
type TaggedResponse = ServerResponse & { [kExchange]?: ProxyExchange };

// Listeners shared by every request: Node calls them with `this` = the response, which carries its exchange.
function onResponseClose(this: TaggedResponse): void {
  this[kExchange]?.clientClosed();
}
function onResponseDrain(this: TaggedResponse): void {
  this[kExchange]?.resumeUpstream();
}

/** Writes a plain-text answer made by the proxy itself (404/502/503/504). */
export function sendProxyError(res: ServerResponse, status: number, code: ProxyErrorCode, message: string): void {
  const body = `${message}\n`;
  res.writeHead(status, [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'x-canary-error',
    code,
  ]);
  res.end(body);
}

/** No Transfer-Encoding, or exactly `chunked`. */
function plainTransferCoding(raw: Buffer[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 17 && name.toString('latin1').toLowerCase() === 'transfer-encoding') {
      if (raw[i + 1]!.toString('latin1').trim().toLowerCase() !== 'chunked') return false;
    }
  }
  return true;
}

/**
 * One request forwarded upstream: it is also the undici dispatch handler, so a request costs one object, not a
 * set of closures. Streams the response body to the client with back-pressure both ways, retries once on
 * another endpoint when an idempotent, bodiless request failed before any response byte, and maps failures to
 * 502/504.
 */
export class ProxyExchange implements Dispatcher.DispatchHandlers {
  private abortUpstream: ((err?: Error) => void) | null = null;
  private resumeFn: (() => void) | null = null;
  private done = false;
  private retried = false;
  private upstreamFailure = false;
  private bytesOut = 0;
  private status = 0;
  // Trace identity (set by the proxy when it traces), copied into the record.
  private traceId = '';
  private parentSpanId = '';
  private clientSpanId = '';
  private serverSpanId = '';
  private sampled = false;

  constructor(
    private readonly settings: ExchangeSettings,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly source: RequestParty | null,
    private readonly version: CompiledVersion,
    private endpoint: CompiledEndpoint,
    private readonly headers: string[],
    private readonly hasBody: boolean,
    /** Request target sent upstream (origin form). */
    private readonly url: string,
    /** Path without the query string, for the observer. */
    private readonly path: string,
    private readonly mirrored: boolean,
    private readonly startedAt: number,
    private readonly bytesInAtStart: number,
  ) {
    (res as TaggedResponse)[kExchange] = this;
    res.on('close', onResponseClose);
  }

  /** Takes the hop's trace identity (from the proxy's reused scratch object). */
  traced(hop: HopTrace): this {
    this.traceId = hop.traceId;
    this.parentSpanId = hop.parentSpanId;
    this.clientSpanId = hop.clientSpanId;
    this.serverSpanId = hop.serverSpanId;
    this.sampled = hop.sampled;
    return this;
  }

  start(): void {
    const timeout = this.settings.upstreamTimeoutMs;
    try {
      this.endpoint.pool.dispatch(
        {
          path: this.url,
          method: this.req.method as Dispatcher.HttpMethod,
          headers: this.headers,
          body: this.hasBody ? this.req : null,
          headersTimeout: timeout,
          bodyTimeout: timeout,
        },
        this,
      );
    } catch (err) {
      // A pool closed by a newer route table, or options undici refused.
      this.onError(err as Error);
    }
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // The framing rules of the fast path's answers (response-parser.ts): a status below 100, an unasked 101, or a
    // transfer coding other than plain chunked (read until the close, the coding left in the body) is a 502, and
    // aborting closes that upstream connection.
    if (statusCode < 100 || statusCode === 101 || !plainTransferCoding(rawHeaders)) {
      this.upstreamFailure = true;
      this.abortUpstream?.();
      const res = this.res;
      if (!res.headersSent) {
        sendProxyError(res, 502, 'upstream-failure', `upstream ${this.endpoint.address} sent an answer that cannot be framed safely`);
        this.status = 502;
      }
      this.finish();
      return false;
    }
    // 1xx: Node's server answers Expect: 100-continue itself; other interim responses are not relayed.
    if (statusCode < 200) return true;
    this.resumeFn = resume;
    const res = this.res;
    const headers = downstreamResponseHeaders(rawHeaders, this.settings.exposeVersionHeader ? 'x-canary-version' : null, this.version.name);
    try {
      res.writeHead(statusCode, headers);
    } catch {
      this.upstreamFailure = true;
      this.abortUpstream?.();
      if (!res.headersSent)
        sendProxyError(res, 502, 'upstream-failure', `upstream ${this.endpoint.address} sent an invalid response header`);
      return false;
    }
    this.status = statusCode;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bytesOut += chunk.length;
    const ok = this.res.write(chunk);
    if (!ok) this.res.once('drain', onResponseDrain);
    return ok;
  }

  resumeUpstream(): void {
    this.resumeFn?.();
  }

  onComplete(trailers: string[] | null): void {
    const res = this.res;
    if (trailers !== null && trailers.length > 0) {
      const pairs: [string, string][] = [];
      for (let i = 0; i < trailers.length; i += 2) pairs.push([String(trailers[i]), String(trailers[i + 1])]);
      try {
        res.addTrailers(pairs);
      } catch {
        // An invalid trailer is dropped rather than failing a response that has been sent.
      }
    }
    res.end();
    this.finish();
  }

  onError(err: Error): void {
    if (this.done) return;
    const res = this.res;
    if (res.headersSent) {
      // The response has started: the only honest signal left is to cut the connection.
      this.upstreamFailure = true;
      res.destroy(err);
      this.finish();
      return;
    }
    if (res.destroyed) {
      this.finish();
      return;
    }
    const code = errorCodeOf(err);
    if (!this.retried && !this.hasBody && isIdempotent(this.req.method ?? '') && this.retry(code)) return;
    this.upstreamFailure = true;
    const where = `${this.version.service} version ${this.version.name} at ${this.endpoint.address}`;
    if (isTimeout(code)) {
      sendProxyError(
        res,
        504,
        'upstream-timeout',
        `upstream timeout: ${where} did not answer within ${this.settings.upstreamTimeoutMs} ms`,
      );
      this.status = 504;
    } else if (isConnectFailure(code)) {
      sendProxyError(res, 502, 'upstream-connect-failure', `upstream connect failure: ${where}: ${code}`);
      this.status = 502;
    } else {
      sendProxyError(res, 502, 'upstream-failure', `upstream failure: ${where} failed before responding: ${code}`);
      this.status = 502;
    }
    this.finish();
  }

  clientClosed(): void {
    if (this.done) return;
    // The client went away mid-exchange: stop the upstream request too.
    this.abortUpstream?.(new Error('client closed the connection'));
    this.finish();
  }

  /**
   * Retries once on the endpoint after the failed one (the shared cursor stays put so other requests keep their
   * rotation). With a single endpoint, only a reset connection is retried there: a pooled keep-alive connection
   * the upstream had just closed says nothing about the endpoint, and a fresh connection usually works.
   */
  private retry(code: string): boolean {
    const endpoints = this.version.endpoints;
    const n = endpoints.length;
    let next: CompiledEndpoint;
    if (n >= 2) {
      const failed = endpoints.indexOf(this.endpoint);
      next = endpoints[(failed + 1) % n]!;
    } else if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') {
      next = this.endpoint;
    } else {
      return false;
    }
    this.retried = true;
    this.endpoint = next;
    this.abortUpstream = null;
    this.start();
    return true;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    const res = this.res as TaggedResponse;
    res[kExchange] = undefined;
    const observer = this.settings.observer;
    if (observer === null) return;
    const req = this.req;
    try {
      observer.onRequest({
        source: this.source,
        destination: this.endpoint.party,
        method: req.method ?? '',
        path: this.path,
        status: res.headersSent ? this.status || res.statusCode : 0,
        startTime: performance.timeOrigin + this.startedAt,
        durationMs: performance.now() - this.startedAt,
        flags: { noRoute: false, upstreamFailure: this.upstreamFailure, retried: this.retried, mirrored: this.mirrored },
        bytesIn: Math.max(0, (req.socket?.bytesRead ?? 0) - this.bytesInAtStart),
        bytesOut: this.bytesOut,
        upstreamAddress: this.endpoint.address,
        traceparent: rawHeader(req.rawHeaders, 'traceparent'),
        peerAddress: req.socket?.remoteAddress ?? '',
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
}
