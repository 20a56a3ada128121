import { join } from 'node:path';
import { IstioMetrics } from '../telemetry-wire/istio-metrics.js';
import { ComparisonWindow } from './comparison-window.js';
import { ObservedHistory, type ServiceHistory } from './observed-history.js';
import { OtlpExporter } from '../telemetry-wire/otlp-exporter.js';
import { SqliteTraceStore, type TraceQuery } from './sqlite-trace-store.js';
import { type OutlierSample, type TelemetryBatch, truncateBatch } from '../telemetry-wire/telemetry-batch.js';
import { type Topology, type TopologyInventory, TopologyWindow } from './topology-window.js';

export interface TelemetryHubOptions {
  /** Data directory: spans go to `<dataDir>/traces.db`. */
  dataDir: string;
  /** Share of new traces the proxies sample (told to them in the answer to each batch; `telemetry.traceSampling`). */
  traceSampling: number;
  /** Trace retention by age; default 24 h. */
  traceMaxAgeMs?: number;
  /** Trace retention by size (spans kept); default 200000. */
  traceMaxSpans?: number;
  /** Also export received spans over OTLP/HTTP JSON. */
  otlpEndpoint?: string;
  /** Seconds of 1-s topology buckets kept in memory; default 600. */
  windowSeconds?: number;
  /** Minutes of per-version history kept in memory (`observed-history`); default 60. */
  historyMinutes?: number;
  /** Width of a history point, seconds; default 10. */
  historyBucketSeconds?: number;
  onError?: (message: string) => void;
}

/** An instance ejected by some proxy's outlier detection. */
export interface EjectionSeen {
  /** When it comes back (the latest of the proxies that ejected it), ISO 8601. */
  until: string;
  /** Proxies that have it ejected now. */
  proxies: number;
}

export interface ProxySeen {
  id: string;
  host: string;
  pid: number;
  lastBatchAt: string;
  batches: number;
  droppedSpans: number;
}

/**
 * The control plane's telemetry: takes the proxies' batches and keeps cumulative Istio metrics (for
 * `/metrics`), 1-s topology buckets (for `/api/v1/topology` and the watch), 10-s per-version history (for a
 * release's observed history), spans in a SQLite trace store, and forwards spans to an OTLP collector when one
 * is configured.
 */
export class TelemetryHub {
  readonly metrics = new IstioMetrics();
  readonly window: TopologyWindow;
  readonly history: ObservedHistory;
  readonly traces: SqliteTraceStore;
  /** Mirror comparisons per release (`/api/v1/releases/{name}/comparison`), over the same window as the topology. */
  readonly comparisons: ComparisonWindow;
  readonly traceSampling: number;
  private readonly otlp: OtlpExporter | null;
  private readonly proxies = new Map<string, ProxySeen>();
  /** Each proxy's ejected endpoints as of its last batch. */
  private readonly outliers = new Map<string, OutlierSample[]>();
  private readonly trimTimer: NodeJS.Timeout;
  private closed = false;
  /** Text fields cut to their limit on the way in (over-long paths, names): counted, never refused. */
  truncatedFields = 0;

  constructor(options: TelemetryHubOptions) {
    this.window = new TopologyWindow({ seconds: options.windowSeconds ?? 600 });
    this.comparisons = new ComparisonWindow({ seconds: options.windowSeconds ?? 600 });
    this.history = new ObservedHistory({
      ...(options.historyMinutes !== undefined ? { minutes: options.historyMinutes } : {}),
      ...(options.historyBucketSeconds !== undefined ? { bucketSeconds: options.historyBucketSeconds } : {}),
    });
    this.traces = new SqliteTraceStore({
      file: join(options.dataDir, 'traces.db'),
      ...(options.traceMaxAgeMs !== undefined ? { maxAgeMs: options.traceMaxAgeMs } : {}),
      ...(options.traceMaxSpans !== undefined ? { maxSpans: options.traceMaxSpans } : {}),
      ...(options.onError ? { onWarning: options.onError } : {}),
    });
    this.traceSampling = options.traceSampling;
    this.otlp = options.otlpEndpoint
      ? new OtlpExporter({ endpoint: options.otlpEndpoint, ...(options.onError ? { onError: options.onError } : {}) })
      : null;
    this.trimTimer = setInterval(() => {
      try {
        this.traces.trim();
      } catch (err) {
        options.onError?.(`trace retention: ${(err as Error).message}`);
      }
    }, 5000);
    this.trimTimer.unref();
  }

  ingest(batch: TelemetryBatch): void {
    if (this.closed) return;
    this.truncatedFields += truncateBatch(batch);
    this.window.add(batch.edges);
    this.history.add(batch.edges);
    for (const e of batch.edges) this.metrics.add(e);
    this.traces.add(batch.spans);
    this.comparisons.add(batch.comparisons);
    if (batch.spans.length > 0) this.otlp?.export(batch.spans);
    if (batch.outliers.length > 0) this.outliers.set(batch.proxy.id, batch.outliers);
    else this.outliers.delete(batch.proxy.id);
    const seen = this.proxies.get(batch.proxy.id);
    this.proxies.set(batch.proxy.id, {
      ...batch.proxy,
      lastBatchAt: new Date().toISOString(),
      batches: (seen?.batches ?? 0) + 1,
      droppedSpans: (seen?.droppedSpans ?? 0) + batch.droppedSpans,
    });
  }

  topology(window: number, inventory?: TopologyInventory): Topology {
    return this.window.topology(window, inventory);
  }

  observedShares(service: string, window = 60): Record<string, number> {
    return this.window.observedShares(service, window).observed;
  }

  /** Per-version points of `service` over the last `minutes`; `versions` appear in every point. */
  observedHistory(service: string, minutes: number, versions: readonly string[] = []): ServiceHistory {
    return this.history.series(service, minutes, versions);
  }

  listTraces(q: TraceQuery) {
    return this.traces.list(q);
  }

  getTrace(traceId: string) {
    return this.traces.get(traceId);
  }

  /**
   * Instances of `service` `version` that a proxy's outlier detection has ejected now, by instance name. An
   * ejection whose time is up counts no more even before the proxy says so (a proxy that stopped reporting).
   */
  ejectedInstances(service: string, version: string, now = Date.now()): Map<string, EjectionSeen> {
    const out = new Map<string, EjectionSeen>();
    const until = new Map<string, number>();
    for (const list of this.outliers.values()) {
      for (const o of list) {
        if (o.service !== service || o.version !== version || o.ejectedUntil <= now) continue;
        const seen = out.get(o.instance);
        until.set(o.instance, Math.max(until.get(o.instance) ?? 0, o.ejectedUntil));
        out.set(o.instance, { until: new Date(until.get(o.instance)!).toISOString(), proxies: (seen?.proxies ?? 0) + 1 });
      }
    }
    return out;
  }

  proxiesSeen(): ProxySeen[] {
    return [...this.proxies.values()];
  }

  /** The Prometheus text for `/metrics`: the mesh's Istio metrics plus the hub's own. */
  renderMetrics(): string {
    const proxies = this.proxiesSeen();
    const dropped = proxies.reduce((n, p) => n + p.droppedSpans, 0);
    return (
      this.metrics.render() +
      '# HELP canary_telemetry_proxies Proxies that sent telemetry to this control plane.\n' +
      '# TYPE canary_telemetry_proxies gauge\n' +
      `canary_telemetry_proxies ${proxies.length}\n` +
      '# HELP canary_trace_spans_dropped_total Spans the proxies dropped (queue full or control plane unreachable).\n' +
      '# TYPE canary_trace_spans_dropped_total counter\n' +
      `canary_trace_spans_dropped_total ${dropped}\n` +
      '# HELP canary_telemetry_truncated_fields_total Text fields of telemetry batches cut to their limit (e.g. a very long request path).\n' +
      '# TYPE canary_telemetry_truncated_fields_total counter\n' +
      `canary_telemetry_truncated_fields_total ${this.truncatedFields}\n`
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.trimTimer);
    await this.otlp?.close();
    this.traces.close();
  }
}
