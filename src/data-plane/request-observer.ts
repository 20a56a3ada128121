/** Who sent or served a request: a workload instance of a service version. */
export interface RequestParty {
  service: string;
  version: string;
  instance: string;
  /**
   * The instance's process id when the route table carries it (process workloads); absent otherwise (endpoints
   * workloads, static route files, cluster mode), and spans then report the proxy's own pid.
   */
  pid?: number;
}

export interface RequestFlags {
  /** No service or no rule matched (the proxy answered 404 itself). */
  noRoute: boolean;
  /** The upstream could not be reached or timed out, or the chosen version had no ready endpoint. */
  upstreamFailure: boolean;
  /** The request was retried once on another endpoint. */
  retried: boolean;
  /** A copy was sent to a mirror version. */
  mirrored: boolean;
  /** The request waited for a free upstream connection past the queue timeout (503, Envoy's `UO`). */
  upstreamOverflow?: boolean;
}

/**
 * One finished request as the proxy saw it, built only by `RequestOutcome.report` (request-outcome.ts) whatever the
 * path; the telemetry turns these into metrics and spans.
 */
export interface RequestRecord {
  /** The calling instance, or null for requests that came in through the ingress. */
  source: RequestParty | null;
  /** The destination service; version and instance are empty when no version or endpoint was chosen. */
  destination: RequestParty | null;
  method: string;
  /** Path without the query string. */
  path: string;
  /** Status sent to the client; 0 when the client went away before any response. */
  status: number;
  /** Start of the request, milliseconds since the epoch. */
  startTime: number;
  durationMs: number;
  flags: RequestFlags;
  /** Request body bytes: the Content-Length (a chunked body on the node:http path: counted on the client socket). */
  bytesIn: number;
  /** Response body bytes sent to the client. */
  bytesOut: number;
  /** Upstream address (host:port) that served it, or empty. */
  upstreamAddress: string;
  /** The request's `traceparent` header when present, so spans can join the caller's trace. */
  traceparent: string | undefined;
  /** The downstream peer (the caller's socket address). */
  peerAddress: string;
  /**
   * Trace identity of this hop when the proxy traces (a `ProxyTracer` is configured), else ''/false: the trace,
   * the caller's span (parent of the client span), the client span, the server span (sent upstream as parent).
   */
  traceId: string;
  parentSpanId: string;
  clientSpanId: string;
  serverSpanId: string;
  /** Spans of this hop should be recorded. */
  sampled: boolean;
}

/**
 * Called once per finished request, synchronously on the proxy's event loop: keep it cheap (count, enqueue)
 * and never throw. When no observer is configured the proxy builds no records at all.
 */
export interface RequestObserver {
  onRequest(record: RequestRecord): void;
}
