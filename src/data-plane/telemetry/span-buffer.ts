import type { SpanData } from '../../telemetry-wire/telemetry-batch.js';
import { TEXT_LIMITS, truncateText } from '../../telemetry-wire/text-limits.js';
import type { RequestRecord } from '../request-observer.js';

/** `source_workload`-like name of the ingress in spans. */
const INGRESS = 'ingress';

function responseFlags(r: RequestRecord): string {
  if (r.flags.noRoute) return 'NR';
  if (r.flags.upstreamOverflow) return 'UO';
  if (r.flags.upstreamFailure) return r.status === 503 ? 'UH' : r.status === 504 ? 'UT' : r.status === 0 ? 'UC' : 'UF';
  return r.status === 0 ? 'DC' : '-';
}

/**
 * Spans of sampled hops, queued until the next batch: a client span (the caller's side, attributed to the source
 * instance or to the ingress) and, when an endpoint was chosen, a server span (the callee's side) as its child.
 * Each span's `pid` is its instance's process id when the route table gives one (process workloads), else this
 * proxy's (the ingress, endpoints workloads, static route files). Bounded: past `maxSpans` queued, spans are
 * counted as dropped instead.
 */
export class SpanBuffer {
  private spans: SpanData[] = [];
  private droppedCount = 0;

  constructor(
    private readonly host: string,
    /** The proxy's pid: for spans of parties without one. */
    private readonly pid: number,
    /** Instance name of the ingress in its spans (this proxy). */
    private readonly ingressInstance: string,
    private readonly maxSpans = 20_000,
  ) {}

  record(r: RequestRecord): void {
    if (!r.sampled || r.traceId === '') return;
    const hasServer = r.destination !== null && r.destination.instance !== '';
    const need = hasServer ? 2 : 1;
    if (this.spans.length + need > this.maxSpans) {
      this.droppedCount += need;
      return;
    }
    // Cut here, as the control plane would: a span over a limit must not cost its batch (issue 13).
    const method = truncateText(r.method, TEXT_LIMITS.method);
    const path = truncateText(r.path, TEXT_LIMITS.operation);
    const name = truncateText(`${method} ${path}`, TEXT_LIMITS.operation);
    const error = r.status === 0 || r.status >= 500 || r.flags.noRoute || r.flags.upstreamFailure;
    const flags = responseFlags(r);
    const src = r.source;
    const dst = r.destination;
    this.spans.push({
      traceId: r.traceId,
      spanId: r.clientSpanId,
      parentSpanId: r.parentSpanId === '' ? null : r.parentSpanId,
      kind: 'client',
      name,
      service: src === null ? INGRESS : src.service,
      version: src === null ? '' : src.version,
      instance: src === null ? this.ingressInstance : src.instance,
      startTime: r.startTime,
      durationMs: r.durationMs,
      statusCode: r.status,
      error,
      host: this.host,
      pid: src?.pid ?? this.pid,
      peerAddress: r.upstreamAddress,
      method,
      path,
      peerService: dst === null ? '' : dst.service,
      responseFlags: flags,
      retried: r.flags.retried,
      mirrored: r.flags.mirrored,
    });
    if (hasServer) {
      this.spans.push({
        traceId: r.traceId,
        spanId: r.serverSpanId,
        parentSpanId: r.clientSpanId,
        kind: 'server',
        name,
        service: dst!.service,
        version: dst!.version,
        instance: dst!.instance,
        // Measured by the same proxy: the server side starts as the request leaves for the upstream.
        startTime: r.startTime,
        durationMs: r.durationMs,
        statusCode: r.status,
        error,
        host: this.host,
        pid: dst!.pid ?? this.pid,
        peerAddress: r.peerAddress,
        method,
        path,
        peerService: src === null ? INGRESS : src.service,
        responseFlags: flags,
        retried: r.flags.retried,
        mirrored: r.flags.mirrored,
      });
    }
  }

  /** The queued spans and the drop count since the last drain. */
  drain(): { spans: SpanData[]; dropped: number } {
    const out = { spans: this.spans, dropped: this.droppedCount };
    this.spans = [];
    this.droppedCount = 0;
    return out;
  }

  /** Puts back spans that could not be shipped (kept only while there is room). */
  requeue(spans: SpanData[]): void {
    const room = this.maxSpans - this.spans.length;
    if (room <= 0) {
      this.droppedCount += spans.length;
      return;
    }
    const kept = spans.length <= room ? spans : spans.slice(spans.length - room);
    this.droppedCount += spans.length - kept.length;
    this.spans = kept.concat(this.spans);
  }
}
