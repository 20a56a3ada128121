import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { downstreamResponseHeaders } from './forward-headers.js';
import type { ProxyLimits } from './proxy-settings.js';
import type { RequestObserver, RequestParty } from './request-observer.js';
import { failureAnswer, type ProxyErrorCode, RequestOutcome } from './request-outcome.js';
import type { MirrorCopy } from './mirror/mirror-copy.js';
import type { HopTrace } from './telemetry/proxy-tracer.js';
import type { CompiledEndpoint, CompiledVersion } from './route-snapshot.js';
import { errorCodeOf } from './upstream-failure.js';

export type { ProxyErrorCode } from './request-outcome.js';

/** What an exchange needs from its proxy; read once per request. */
export interface ExchangeSettings {
  upstreamTimeoutMs: number;
  /** Time allowed to open a connection to an upstream (named in the 504 when it runs out). */
  connectTimeoutMs: number;
  exposeVersionHeader: boolean;
  observer: RequestObserver | null;
  /** Limits and timeouts (the sweep's; replaced as a whole when a static file's `proxy:` block changes). */
  limits: ProxyLimits;
}

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
 * Request body bytes: the Content-Length when there is one (what the fast path counts too), else what the client
 * socket read since the request began (a chunked body: approximate, it includes the chunk framing).
 */
function requestBodyBytes(req: IncomingMessage, bytesReadAtStart: number): number {
  const length = req.headers['content-length'];
  if (length !== undefined) {
    const n = Number(length);
    if (Number.isSafeInteger(n) && n >= 0) return n;
  }
  return Math.max(0, (req.socket?.bytesRead ?? 0) - bytesReadAtStart);
}

/**
 * One request forwarded upstream: it is also the undici dispatch handler, so a request costs one object (and its
 * outcome), not a set of closures. Streams the response body to the client with back-pressure both ways; retry,
 * failure answer and the telemetry record are the shared ones of request-outcome.ts.
 */
export class ProxyExchange implements Dispatcher.DispatchHandlers {
  private abortUpstream: ((err?: Error) => void) | null = null;
  private resumeFn: (() => void) | null = null;
  private done = false;
  private readonly outcome = new RequestOutcome();
  /** The caller's address, read at the start: by the end node:http may have let go of the socket. */
  private readonly peerAddress: string;

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
    /** The request's mirror copy (it also captures the answer), or null. */
    private readonly mirror: MirrorCopy | null,
    startedAt: number,
    /** The client socket's bytesRead when the request began (bodies without a Content-Length are counted by it). */
    private readonly bytesInAtStart: number,
    hop: HopTrace | null,
  ) {
    (res as TaggedResponse)[kExchange] = this;
    res.on('close', onResponseClose);
    this.outcome.begin(startedAt, mirror !== null, hop);
    this.peerAddress = req.socket?.remoteAddress ?? '';
    // A body streams to the primary through the copy's tee; a bodiless copy goes at once.
    if (mirror === null) this.body = hasBody ? req : null;
    else if (hasBody) this.body = mirror.bodyFor(req);
    else {
      this.body = null;
      mirror.sendWith(null);
    }
  }

  /** What is sent upstream as the body: the request itself, or the mirror copy's tee of it. */
  private readonly body: Readable | null;

  start(): void {
    const timeout = this.settings.upstreamTimeoutMs;
    try {
      this.endpoint.pool.dispatch(
        {
          path: this.url,
          method: this.req.method as Dispatcher.HttpMethod,
          headers: this.headers,
          body: this.body,
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

  /** Dispatched, but not yet given a connection by undici's pool (or a retry waiting for one). */
  get queued(): boolean {
    return !this.done && this.abortUpstream === null;
  }

  /**
   * The queue timeout (connection-sweep.ts): 503 now; undici cannot drop a queued request, so when it gets a
   * connection after all, `onConnect` aborts it before anything is sent.
   */
  queueTimedOut(queueTimeoutMs: number, maxConnections: number): void {
    if (this.done || this.res.headersSent) return;
    this.outcome.upstreamFailure = true;
    this.outcome.upstreamOverflow = true;
    this.outcome.status = 503;
    const where = `${this.version.service} version ${this.version.name} at ${this.endpoint.address}`;
    sendProxyError(
      this.res,
      503,
      'queue-timeout',
      `upstream queue timeout: no free connection to ${where} within ${queueTimeoutMs} ms (all ${maxConnections} busy)`,
    );
    this.finish();
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.done) abort(); // given up on in the queue
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // The framing rules of the fast path's answers (response-parser.ts): a status below 100, an unasked 101, or a
    // transfer coding other than plain chunked (read until the close, the coding left in the body) is a 502, and
    // aborting closes that upstream connection.
    if (statusCode < 100 || statusCode === 101 || !plainTransferCoding(rawHeaders)) {
      this.outcome.upstreamFailure = true;
      this.outcome.attemptFailed(this.endpoint, 'HPE_UNFRAMEABLE_ANSWER');
      this.abortUpstream?.();
      const res = this.res;
      if (!res.headersSent) {
        sendProxyError(res, 502, 'upstream-failure', `upstream ${this.endpoint.address} sent an answer that cannot be framed safely`);
        this.outcome.status = 502;
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
      this.outcome.upstreamFailure = true;
      this.outcome.attemptFailed(this.endpoint, 'HPE_INVALID_HEADER_TOKEN');
      this.abortUpstream?.();
      if (!res.headersSent) {
        this.outcome.status = 502;
        sendProxyError(res, 502, 'upstream-failure', `upstream ${this.endpoint.address} sent an invalid response header`);
      }
      return false;
    }
    this.outcome.answered(this.endpoint, statusCode);
    this.mirror?.primaryRawHead(statusCode, rawHeaders);
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.outcome.bytesOut += chunk.length;
    this.mirror?.primaryData(chunk, 0, chunk.length);
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
    this.mirror?.primaryEnd();
    this.finish();
  }

  onError(err: Error): void {
    if (this.done) return;
    const res = this.res;
    const outcome = this.outcome;
    const code = errorCodeOf(err);
    if (res.headersSent) {
      // The response has started: the only honest signal left is to cut the connection.
      outcome.upstreamFailure = true;
      outcome.attemptFailed(this.endpoint, code);
      res.destroy(err);
      this.finish();
      return;
    }
    if (res.destroyed) {
      this.finish();
      return;
    }
    outcome.attemptFailed(this.endpoint, code);
    const next = outcome.retryTarget(this.version, this.endpoint, code, this.req.method ?? '', this.hasBody);
    if (next !== undefined) {
      this.endpoint = next;
      this.abortUpstream = null;
      this.start();
      return;
    }
    outcome.upstreamFailure = true;
    const answer = failureAnswer(code, this.version, this.endpoint, this.settings);
    outcome.status = answer.status;
    sendProxyError(res, answer.status, answer.code, answer.message);
    this.finish();
  }

  clientClosed(): void {
    if (this.done) return;
    // The client went away mid-exchange: stop the upstream request too.
    this.abortUpstream?.(new Error('client closed the connection'));
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    // Ended without a complete answer (failure, client gone): nothing to compare. After primaryEnd, a no-op.
    this.mirror?.primaryFailed();
    const res = this.res as TaggedResponse;
    res[kExchange] = undefined;
    const observer = this.settings.observer;
    if (observer === null) return;
    const req = this.req;
    // A client that left before any answer gets status 0, as on the fast path.
    if (!res.headersSent) this.outcome.status = 0;
    if (this.hasBody) this.outcome.bytesIn = requestBodyBytes(req, this.bytesInAtStart);
    this.outcome.reportExchange(observer, this.source, this.endpoint, req, this.path, this.peerAddress);
  }
}
