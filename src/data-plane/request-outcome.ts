import type { IncomingMessage } from 'node:http';
import { rawHeader } from './forward-headers.js';
import type { RequestObserver, RequestParty } from './request-observer.js';
import type { CompiledEndpoint, CompiledVersion } from './route-snapshot.js';
import { retryEndpoint } from './route-snapshot.js';
import type { HopTrace } from './telemetry/proxy-tracer.js';
import { isConnectFailure, isConnectionReset, isIdempotent, isTimeout } from './upstream-failure.js';

/**
 * One request's outcome, the same on every path (the fast path, node:http + undici, the upgrade tunnel, and the
 * answers the proxy makes itself): what the client got, what it cost, whether it was retried, whether the upstream
 * failed, and the hop's trace identity. Each path fills one of these as the request moves on and hands it to
 * telemetry once, through `report`, the only place a `RequestRecord` is built. Each attempt's upstream answer or
 * failure also goes through here, to outlier detection.
 *
 * The fast path keeps one per connection and the proxy one for its own answers (requests on them run one at a
 * time), so a request allocates nothing here.
 */
export class RequestOutcome {
  /** Status sent to the client; 0 while none (and in the record when the client left before any answer). */
  status = 0;
  /** Request body bytes forwarded. */
  bytesIn = 0;
  /** Response body bytes relayed. */
  bytesOut = 0;
  retried = false;
  upstreamFailure = false;
  /** Gave up waiting for an upstream connection (queue timeout): Envoy's UO flag. */
  upstreamOverflow = false;
  mirrored = false;
  /** performance.now() at the start of the request. */
  startedAt = 0;
  traceId = '';
  parentSpanId = '';
  clientSpanId = '';
  serverSpanId = '';
  sampled = false;

  /** Starts afresh for a new request; `hop` is the proxy's reused trace scratch (null: not traced). */
  begin(startedAt: number, mirrored: boolean, hop: HopTrace | null): void {
    this.status = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.retried = false;
    this.upstreamFailure = false;
    this.upstreamOverflow = false;
    this.mirrored = mirrored;
    this.startedAt = startedAt;
    if (hop !== null) {
      this.traceId = hop.traceId;
      this.parentSpanId = hop.parentSpanId;
      this.clientSpanId = hop.clientSpanId;
      this.serverSpanId = hop.serverSpanId;
      this.sampled = hop.sampled;
    } else {
      this.traceId = '';
      this.parentSpanId = '';
      this.clientSpanId = '';
      this.serverSpanId = '';
      this.sampled = false;
    }
  }

  /** An attempt's upstream answered with `status` (its final head): outlier detection hears of it. */
  answered(endpoint: CompiledEndpoint, status: number): void {
    this.status = status;
    const health = endpoint.health;
    health.version.detector.record(health, status);
  }

  /**
   * An attempt failed with error `code`: outlier detection counts it against the endpoint (a gateway error),
   * unless the proxy itself ended it (a pool closed by a newer route table, the client gone).
   */
  attemptFailed(endpoint: CompiledEndpoint, code: string): void {
    if (code === 'UND_ERR_CLOSED' || code === 'UND_ERR_ABORTED') return;
    const health = endpoint.health;
    health.version.detector.record(health, 0);
  }

  /**
   * The one retry decision: where the request goes next after an attempt failed with `code` before any response
   * byte, or undefined for no retry. Only once, and only for bodiless idempotent requests (RFC 9110 9.2.2): the
   * version's next endpoint that is in service; a reset (ECONNRESET, EPIPE, a closed socket: most likely a pooled
   * keep-alive connection the upstream had just closed) may also go again to the same endpoint on a fresh
   * connection when it is the only one.
   */
  retryTarget(
    version: CompiledVersion,
    failed: CompiledEndpoint,
    code: string,
    method: string,
    hasBody: boolean,
  ): CompiledEndpoint | undefined {
    if (this.retried || hasBody || !isIdempotent(method) || code === 'UND_ERR_CLOSED') return undefined;
    const next = retryEndpoint(version, failed, isConnectionReset(code));
    if (next !== undefined) this.retried = true;
    return next;
  }

  /** Hands the outcome to telemetry: the only place a record is built. Never throws. */
  report(
    observer: RequestObserver,
    source: RequestParty | null,
    destination: RequestParty | null,
    method: string,
    path: string,
    upstreamAddress: string,
    traceparent: string | undefined,
    peerAddress: string,
    noRoute: boolean,
  ): void {
    try {
      observer.onRequest({
        source,
        destination,
        method,
        path,
        status: this.status,
        startTime: performance.timeOrigin + this.startedAt,
        durationMs: performance.now() - this.startedAt,
        flags: {
          noRoute,
          upstreamFailure: this.upstreamFailure,
          retried: this.retried,
          mirrored: this.mirrored,
          upstreamOverflow: this.upstreamOverflow,
        },
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
        upstreamAddress,
        traceparent,
        peerAddress,
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

  /** `report` for a request node:http parsed (the node:http + undici path and the upgrade tunnel). */
  reportExchange(
    observer: RequestObserver,
    source: RequestParty | null,
    endpoint: CompiledEndpoint,
    req: IncomingMessage,
    path: string,
    peerAddress: string,
  ): void {
    this.report(
      observer,
      source,
      endpoint.party,
      req.method ?? '',
      path,
      endpoint.address,
      rawHeader(req.rawHeaders, 'traceparent'),
      peerAddress,
      false,
    );
  }
}

/** The value of `x-canary-error` on answers the proxy makes itself. */
export type ProxyErrorCode =
  | 'no-route'
  | 'no-ready-endpoint'
  | 'upstream-connect-failure'
  | 'upstream-failure'
  | 'upstream-timeout'
  | 'upgrade-with-body'
  | 'queue-timeout'
  | 'header-timeout'
  | 'connection-limit';

/** The proxy's own answer to a failed exchange: status, `x-canary-error` and the plain-text reason. */
export interface FailureAnswer {
  status: number;
  code: ProxyErrorCode;
  message: string;
}

/** Timeouts a failure answer names. */
export interface FailureTimeouts {
  upstreamTimeoutMs: number;
  connectTimeoutMs: number;
}

/**
 * The one failure answer for an upstream that failed before any response byte with error `code`: 504 for a
 * timeout, 502 for a connect failure or any other failure; the same status, code and words on every path.
 */
export function failureAnswer(
  code: string,
  version: CompiledVersion,
  endpoint: CompiledEndpoint,
  timeouts: FailureTimeouts,
): FailureAnswer {
  const where = `${version.service} version ${version.name} at ${endpoint.address}`;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return {
      status: 504,
      code: 'upstream-timeout',
      message: `upstream timeout: ${where} did not accept a connection within ${timeouts.connectTimeoutMs} ms`,
    };
  }
  if (isTimeout(code)) {
    return {
      status: 504,
      code: 'upstream-timeout',
      message: `upstream timeout: ${where} did not answer within ${timeouts.upstreamTimeoutMs} ms`,
    };
  }
  if (isConnectFailure(code))
    return { status: 502, code: 'upstream-connect-failure', message: `upstream connect failure: ${where}: ${code}` };
  return { status: 502, code: 'upstream-failure', message: `upstream failure: ${where} failed before responding: ${code}` };
}
