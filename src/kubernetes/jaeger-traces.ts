import type { StoredSpan, TraceQuery, TraceSummary } from '../telemetry/sqlite-trace-store.js';

/**
 * Traces from a Jaeger query service (or Tempo behind its Jaeger-compatible query frontend), read through
 * Jaeger's HTTP API and turned into the same shapes as local mode's trace store: Envoy's span tags say the
 * service, version (istio.canonical_revision), pod, status and peer of every hop.
 */

export interface JaegerTracesOptions {
  /** e.g. http://tracing.istio-system:16685/jaeger or http://jaeger-query:16686 */
  url: string;
  /** Kubernetes namespace of the services: Istio names Jaeger services `<service>.<namespace>`. */
  namespace: string;
  /** How far back list() looks; default 1 h. */
  lookback?: string;
  timeoutMs?: number;
}

interface JaegerTag {
  key: string;
  value: unknown;
}
interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: { refType: string; spanID: string }[];
  startTime: number; // microseconds
  duration: number; // microseconds
  tags?: JaegerTag[];
  processID: string;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags?: JaegerTag[] }>;
}

export class JaegerTraces {
  private readonly url: string;
  private readonly namespace: string;
  private readonly lookback: string;
  private readonly timeoutMs: number;

  constructor(options: JaegerTracesOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.namespace = options.namespace;
    this.lookback = options.lookback ?? '1h';
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async list(q: TraceQuery = {}): Promise<TraceSummary[]> {
    if (!q.service) throw new Error('service: Jaeger lists traces per service; name one');
    const params = new URLSearchParams({
      service: `${q.service}.${this.namespace}`,
      limit: String(q.limit ?? 20),
      lookback: this.lookback,
    });
    if (q.minDurationMs !== undefined) params.set('minDuration', `${q.minDurationMs}ms`);
    if (q.operation) params.set('operation', q.operation);
    const traces = await this.fetch(`/api/traces?${params}`);
    return traces
      .map((t) => summarize(t, this.spansOf(t)))
      .filter((t) => !q.errors || t.errors > 0)
      .sort((a, b) => (a.startTime < b.startTime ? 1 : -1));
  }

  async get(traceId: string): Promise<{ traceId: string; spans: StoredSpan[] } | null> {
    try {
      const [trace] = await this.fetch(`/api/traces/${encodeURIComponent(traceId)}`);
      return trace ? { traceId: trace.traceID, spans: this.spansOf(trace) } : null;
    } catch (err) {
      if ((err as { status?: number }).status === 404) return null;
      throw err;
    }
  }

  private async fetch(path: string): Promise<JaegerTrace[]> {
    const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(this.timeoutMs) }).catch((err: Error) => {
      throw new Error(`Jaeger at ${this.url} cannot be reached: ${err.message}`);
    });
    const body = (await res.json().catch(() => ({}))) as { data?: JaegerTrace[]; errors?: { msg?: string }[] };
    if (!res.ok)
      throw Object.assign(new Error(`Jaeger at ${this.url} answered ${res.status}: ${body.errors?.[0]?.msg ?? ''}`), {
        status: res.status,
      });
    return body.data ?? [];
  }

  private spansOf(t: JaegerTrace): StoredSpan[] {
    const children = new Map<string, string[]>();
    const parentOf = (s: JaegerSpan) => s.references?.find((r) => r.refType === 'CHILD_OF')?.spanID ?? null;
    for (const s of t.spans) {
      const p = parentOf(s);
      if (p) children.set(p, [...(children.get(p) ?? []), s.spanID]);
    }
    return t.spans
      .map((s): StoredSpan => {
        const tags = new Map((s.tags ?? []).map((x) => [x.key, x.value]));
        const process = t.processes[s.processID];
        const ptags = new Map((process?.tags ?? []).map((x) => [x.key, x.value]));
        const str = (k: string) => (tags.get(k) === undefined ? '' : String(tags.get(k)));
        // node_id: sidecar~10.0.0.7~reviews-v2-5f6b9c-x2x.default~default.svc.cluster.local
        const pod = str('node_id').split('~')[2]?.split('.')[0] ?? '';
        const url = str('http.url');
        const upstream = str('upstream_cluster').split('|'); // outbound|9080|v2|reviews.default.svc.cluster.local
        const startTime = s.startTime / 1000;
        return {
          traceId: t.traceID.padStart(32, '0'),
          spanId: s.spanID.padStart(16, '0'),
          parentSpanId: parentOf(s)?.padStart(16, '0') ?? null,
          kind: str('span.kind') === 'client' ? 'client' : 'server',
          name: s.operationName,
          service: str('istio.canonical_service') || (process?.serviceName ?? '').split('.')[0]!,
          version: str('istio.canonical_revision') || 'unknown',
          instance: pod || String(ptags.get('hostname') ?? ''),
          startTime,
          durationMs: s.duration / 1000,
          statusCode: Number(str('http.status_code')) || 0,
          error: tags.get('error') === true || str('error') === 'true',
          host: String(ptags.get('hostname') ?? pod),
          pid: 0,
          peerAddress: str('peer.address'),
          method: str('http.method'),
          path: url ? safePath(url) : '',
          peerService: upstream.length === 4 ? upstream[3]!.split('.')[0]! : '',
          responseFlags: str('response_flags'),
          retried: false,
          mirrored: false,
          startedAt: new Date(startTime).toISOString(),
          children: (children.get(s.spanID) ?? []).map((c) => c.padStart(16, '0')),
        };
      })
      .sort((a, b) => a.startTime - b.startTime);
  }
}

function summarize(t: JaegerTrace, spans: StoredSpan[]): TraceSummary {
  const root = spans.find((s) => s.parentSpanId === null) ?? spans[0];
  const start = Math.min(...spans.map((s) => s.startTime));
  const end = Math.max(...spans.map((s) => s.startTime + s.durationMs));
  return {
    traceId: t.traceID.padStart(32, '0'),
    rootService: root?.service ?? '',
    rootOperation: root?.name ?? '',
    startTime: new Date(start).toISOString(),
    durationMs: end - start,
    spanCount: spans.length,
    errors: spans.filter((s) => s.error).length,
    services: [...new Set(spans.map((s) => s.service))].sort(),
  };
}

function safePath(url: string): string {
  try {
    return new URL(url, 'http://x').pathname;
  } catch {
    return url;
  }
}
