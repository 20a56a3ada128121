import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { IstioMetrics } from '../../telemetry-wire/istio-metrics.js';
import { OtlpExporter } from '../../telemetry-wire/otlp-exporter.js';
import type { ComparisonSample, EdgeSample, OutlierSample, SpanData, TelemetryBatchInput } from '../../telemetry-wire/telemetry-batch.js';
import type { MirrorComparisons } from '../mirror/mirror-comparisons.js';
import type { OutlierDetector } from '../outlier-detector.js';
import type { ProxyLogger } from '../proxy-logger.js';
import type { RequestObserver, RequestRecord } from '../request-observer.js';
import { DEFAULT_PROXY_SETTINGS } from '../proxy-settings.js';
import { EdgeAggregator } from './edge-aggregator.js';
import { ProxyTracer } from './proxy-tracer.js';
import { SpanBuffer } from './span-buffer.js';

export interface ProxyTelemetryOptions {
  /** Ship batches to this control plane (POST /api/v1/telemetry); none: metrics and spans stay local. */
  controlPlane?: string;
  token?: string;
  /** Share of new traces sampled; unset: the control plane's setting (its answer to each batch), else the proxy's default. */
  traceSampling?: number;
  /** Also export spans over OTLP/HTTP JSON to this collector. */
  otlpEndpoint?: string;
  /** Batch interval; default 1000 ms. */
  intervalMs?: number;
  logger?: ProxyLogger;
}

/** Unsent batches kept while the control plane is unreachable (one per interval), oldest dropped first. */
const MAX_PENDING_BATCHES = 60;

/**
 * The proxy's telemetry (issue 4): a `RequestObserver` that aggregates every request in process (edge counters
 * and histograms, spans of sampled hops) and, once per interval, folds the aggregates into its own Istio
 * metrics (`/metrics` on the proxy), ships them as one batch to the control plane, and hands spans to an OTLP
 * exporter. No network call and no JSON per request.
 */
export class ProxyTelemetry implements RequestObserver {
  readonly tracer: ProxyTracer;
  readonly metrics = new IstioMetrics();
  readonly id: string;
  private readonly edges = new EdgeAggregator();
  private readonly spans: SpanBuffer;
  private readonly otlp: OtlpExporter | null;
  private readonly timer: NodeJS.Timeout;
  private readonly pending: TelemetryBatchInput[] = [];
  private readonly host = hostname();
  private readonly pinnedSampling: boolean;
  private readonly keepsSpans: boolean;
  private shipping: Promise<void> | null = null;
  private intervalStart = Date.now();
  private failing = false;
  private metricsServer: Server | null = null;
  private outliers: OutlierDetector | null = null;
  private mirrors: MirrorComparisons | null = null;
  /** The ejected set last shipped, so a change (an ejection, a return) is shipped even without traffic. */
  private outliersShipped = '';
  /** Batches the control plane accepted. */
  shipped = 0;

  constructor(private readonly options: ProxyTelemetryOptions = {}) {
    this.id = `${this.host}:${process.pid}`;
    this.pinnedSampling = options.traceSampling !== undefined;
    this.keepsSpans = options.controlPlane !== undefined || options.otlpEndpoint !== undefined;
    this.tracer = new ProxyTracer({ sampling: options.traceSampling ?? DEFAULT_PROXY_SETTINGS.traceSampling });
    this.spans = new SpanBuffer(this.host, process.pid, `ingress@${this.id}`);
    this.otlp = options.otlpEndpoint
      ? new OtlpExporter({ endpoint: options.otlpEndpoint, onError: (m) => options.logger?.warn(`otlp: ${m}`) })
      : null;
    this.timer = setInterval(() => void this.tick(), options.intervalMs ?? 1000);
    this.timer.unref();
    // An empty batch at once: the control plane learns of this proxy and answers with its trace sampling, so the
    // first requests are sampled as configured rather than at the default.
    if (options.controlPlane) {
      this.pending.push(this.batch(this.intervalStart, this.intervalStart, [], [], 0));
      void this.ship();
    }
  }

  /** Reports `detector`'s ejections: in `/metrics` and, with each batch, to the control plane (the console). */
  watchOutliers(detector: OutlierDetector): void {
    this.outliers = detector;
  }

  /** Ships the comparisons of mirrored answers with each batch (the control plane's `/releases/{name}/comparison`). */
  watchMirrors(mirrors: MirrorComparisons): void {
    this.mirrors = mirrors;
  }

  onRequest(record: RequestRecord): void {
    this.edges.record(record);
    // Spans only when someone takes them (the control plane or a collector).
    if (record.sampled && this.keepsSpans) this.spans.record(record);
  }

  /** Folds the interval into the local metrics and ships it; resolves when the batch is sent (or kept). */
  tick(): Promise<void> {
    const end = Date.now();
    const edges = this.edges.drain();
    const { spans, dropped } = this.spans.drain();
    for (const e of edges) this.metrics.add(e);
    if (spans.length > 0) this.otlp?.export(spans);
    const start = this.intervalStart;
    this.intervalStart = end;
    if (!this.options.controlPlane) return Promise.resolve();
    const comparisons = this.mirrors?.drain() ?? [];
    const outliers: OutlierSample[] = this.outliers?.ejected() ?? [];
    const outliersKey = outliers.map((o) => `${o.service}/${o.version}/${o.address}@${o.ejectedUntil}`).join(' ');
    const outliersChanged = outliersKey !== this.outliersShipped;
    this.outliersShipped = outliersKey;
    if (edges.length > 0 || spans.length > 0 || dropped > 0 || outliersChanged || comparisons.length > 0) {
      this.pending.push(this.batch(start, end, edges, spans, dropped, outliers, comparisons));
      if (this.pending.length > MAX_PENDING_BATCHES) this.pending.shift();
    }
    return this.ship();
  }

  private batch(
    start: number,
    end: number,
    edges: EdgeSample[],
    spans: SpanData[],
    dropped: number,
    outliers: OutlierSample[] = [],
    comparisons: ComparisonSample[] = [],
  ): TelemetryBatchInput {
    return {
      proxy: { id: this.id, host: this.host, pid: process.pid },
      start,
      end,
      edges,
      spans,
      droppedSpans: dropped,
      outliers,
      comparisons,
    };
  }

  /** The proxy's `/metrics` text: Istio's request metrics, then outlier detection's. */
  renderMetrics(): string {
    return this.metrics.render() + (this.outliers?.renderMetrics() ?? '');
  }

  private ship(): Promise<void> {
    // One sender at a time; a sender that finds nothing to send must not be left behind as "running".
    if (this.shipping) return this.shipping;
    if (this.pending.length === 0) return Promise.resolve();
    const run = this.sendPending().finally(() => {
      if (this.shipping === run) this.shipping = null;
    });
    this.shipping = run;
    return run;
  }

  private async sendPending(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending[0]!;
      try {
        const res = await fetch(`${this.options.controlPlane!.replace(/\/+$/, '')}/api/v1/telemetry`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.token ?? ''}` },
          body: JSON.stringify(batch),
          signal: AbortSignal.timeout(5000),
        });
        const text = await res.text();
        this.pending.shift();
        if (!res.ok) {
          // A refused batch (bad token, invalid data) is dropped: sending it again would not help.
          this.warn(`the control plane refused a telemetry batch: ${res.status} ${text.slice(0, 200)}`);
          continue;
        }
        this.shipped++;
        if (this.failing) this.options.logger?.info('telemetry: shipping to the control plane again');
        this.failing = false;
        this.applyAnswer(text);
      } catch (err) {
        this.warn(`telemetry: cannot reach the control plane (kept ${this.pending.length} batch(es)): ${(err as Error).message}`);
        return;
      }
    }
  }

  private applyAnswer(text: string): void {
    if (this.pinnedSampling || text.length === 0) return;
    try {
      const answer = JSON.parse(text) as { traceSampling?: unknown };
      if (typeof answer.traceSampling === 'number' && answer.traceSampling >= 0 && answer.traceSampling <= 1)
        this.tracer.sampling = answer.traceSampling;
    } catch {
      // An answer without settings: keep the current ones.
    }
  }

  private warn(message: string): void {
    if (this.failing) return;
    this.failing = true;
    this.options.logger?.error(message);
  }

  /** Serves `GET /metrics` (Prometheus text) and `GET /healthz` on their own listener. */
  async listenMetrics(host: string, port: number): Promise<AddressInfo> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === '/metrics') {
        const body = this.renderMetrics();
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      } else if (req.method === 'GET' && path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"ok"}');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('not found: the metrics listener serves GET /metrics and GET /healthz\n');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.metricsServer = server;
    return server.address() as AddressInfo;
  }

  /** Ships what is left, stops the timer and the metrics listener. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.tick().catch(() => undefined);
    await this.otlp?.close();
    const server = this.metricsServer;
    this.metricsServer = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }
}
