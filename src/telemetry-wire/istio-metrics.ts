import { BYTES_BOUNDS, BYTES_SLOTS, DURATION_BOUNDS_MS, FINE_SLOTS, SUB_BUCKETS } from './histogram-layout.js';
import { FLAG_MIRRORED, FLAG_RETRIED, responseFlagsOf } from './response-flags.js';
import type { EdgeSample } from './telemetry-batch.js';

/** The namespace label value everywhere: the embedded mesh has none, and Istio dashboards expect one. */
export const MESH_NAMESPACE = 'default';
/** `source_workload` of requests that came in through the ingress. */
export const INGRESS_WORKLOAD = 'ingress';
const UNKNOWN = 'unknown';

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * The Istio standard labels of an edge sample. `destination_service` is the bare service name (`reviews`), not
 * Kubernetes' FQDN: there is no cluster domain in the embedded mesh; `destination_service=~"reviews.*"` matches both.
 */
export function istioLabels(e: EdgeSample, reporter: 'destination' | 'source' = 'destination'): string {
  const src = e.source;
  const dst = e.destination;
  const srcWorkload = src === null ? INGRESS_WORKLOAD : `${src.service}-${src.version}`;
  const srcApp = src === null ? INGRESS_WORKLOAD : src.service;
  const srcVersion = src === null || src.version === '' ? UNKNOWN : src.version;
  const dstService = dst === null ? UNKNOWN : dst.service;
  const dstVersion = dst === null || dst.version === '' ? UNKNOWN : dst.version;
  const dstWorkload = dst === null || dst.version === '' ? UNKNOWN : `${dst.service}-${dst.version}`;
  const pairs: [string, string][] = [
    ['reporter', reporter],
    ['source_workload', srcWorkload],
    ['source_workload_namespace', MESH_NAMESPACE],
    ['source_app', srcApp],
    ['source_version', srcVersion],
    ['source_canonical_service', srcApp],
    ['source_canonical_revision', srcVersion],
    ['destination_service', dstService],
    ['destination_service_name', dstService],
    ['destination_service_namespace', MESH_NAMESPACE],
    ['destination_workload', dstWorkload],
    ['destination_workload_namespace', MESH_NAMESPACE],
    ['destination_app', dstService],
    ['destination_version', dstVersion],
    ['destination_canonical_service', dstService],
    ['destination_canonical_revision', dstVersion],
    ['request_protocol', 'http'],
    ['response_code', String(e.code)],
    ['response_flags', responseFlagsOf(e.code, e.flags)],
    ['connection_security_policy', 'none'],
  ];
  return pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
}

interface Series {
  labels: string;
  requests: number;
  retried: number;
  mirrored: number;
  durationSum: number;
  /** Coarse (non-cumulative) duration buckets: bounds + overflow. */
  duration: Float64Array;
  bytesInSum: number;
  bytesIn: Float64Array;
  bytesOutSum: number;
  bytesOut: Float64Array;
}

/**
 * Cumulative Istio metrics built from edge samples (per batch, never per request), rendered in the Prometheus
 * text exposition format: `istio_requests_total`, `istio_request_duration_milliseconds`, `istio_request_bytes`,
 * `istio_response_bytes`, plus `canary_requests_retried_total` / `canary_requests_mirrored_total`.
 */
export class IstioMetrics {
  private readonly series = new Map<string, Series>();
  private readonly maxSeries: number;
  private dropped = 0;

  constructor(options: { maxSeries?: number } = {}) {
    this.maxSeries = options.maxSeries ?? 50_000;
  }

  add(e: EdgeSample): void {
    const labels = istioLabels(e);
    let s = this.series.get(labels);
    if (s === undefined) {
      if (this.series.size >= this.maxSeries) {
        this.dropped += e.count;
        return;
      }
      s = {
        labels,
        requests: 0,
        retried: 0,
        mirrored: 0,
        durationSum: 0,
        duration: new Float64Array(DURATION_BOUNDS_MS.length + 1),
        bytesInSum: 0,
        bytesIn: new Float64Array(BYTES_SLOTS),
        bytesOutSum: 0,
        bytesOut: new Float64Array(BYTES_SLOTS),
      };
      this.series.set(labels, s);
    }
    s.requests += e.count;
    if ((e.flags & FLAG_RETRIED) !== 0) s.retried += e.count;
    if ((e.flags & FLAG_MIRRORED) !== 0) s.mirrored += e.count;
    s.durationSum += e.durationSumMs;
    const slots = e.durationSlots;
    for (let i = 0; i + 1 < slots.length; i += 2) {
      const slot = slots[i]!;
      if (slot < FINE_SLOTS) s.duration[(slot / SUB_BUCKETS) | 0]! += slots[i + 1]!;
    }
    s.bytesInSum += e.bytesInSum;
    s.bytesOutSum += e.bytesOutSum;
    for (let i = 0; i < BYTES_SLOTS; i++) {
      s.bytesIn[i]! += e.bytesInBuckets[i] ?? 0;
      s.bytesOut[i]! += e.bytesOutBuckets[i] ?? 0;
    }
  }

  /** Number of label sets held. */
  get size(): number {
    return this.series.size;
  }

  /** The exposition text (format 0.0.4). */
  render(): string {
    const all = [...this.series.values()].sort((a, b) => (a.labels < b.labels ? -1 : 1));
    const out: string[] = [];
    out.push('# HELP istio_requests_total Requests through the mesh, by edge and response code.');
    out.push('# TYPE istio_requests_total counter');
    for (const s of all) out.push(`istio_requests_total{${s.labels}} ${s.requests}`);
    histogram(
      out,
      'istio_request_duration_milliseconds',
      'Request duration as the proxy measured it (ms).',
      all,
      DURATION_BOUNDS_MS,
      (s) => [s.duration, s.durationSum],
    );
    histogram(out, 'istio_request_bytes', 'Request body sizes (bytes).', all, BYTES_BOUNDS, (s) => [s.bytesIn, s.bytesInSum]);
    histogram(out, 'istio_response_bytes', 'Response body sizes (bytes).', all, BYTES_BOUNDS, (s) => [s.bytesOut, s.bytesOutSum]);
    out.push('# HELP canary_requests_retried_total Requests the proxy retried once on another endpoint.');
    out.push('# TYPE canary_requests_retried_total counter');
    for (const s of all) if (s.retried > 0) out.push(`canary_requests_retried_total{${s.labels}} ${s.retried}`);
    out.push('# HELP canary_requests_mirrored_total Requests of which a copy went to a mirror version.');
    out.push('# TYPE canary_requests_mirrored_total counter');
    for (const s of all) if (s.mirrored > 0) out.push(`canary_requests_mirrored_total{${s.labels}} ${s.mirrored}`);
    out.push('# HELP canary_metrics_dropped_requests_total Requests not counted because the series limit was reached.');
    out.push('# TYPE canary_metrics_dropped_requests_total counter');
    out.push(`canary_metrics_dropped_requests_total ${this.dropped}`);
    return `${out.join('\n')}\n`;
  }
}

function histogram(
  out: string[],
  name: string,
  help: string,
  all: Series[],
  bounds: readonly number[],
  pick: (s: Series) => [Float64Array, number],
): void {
  out.push(`# HELP ${name} ${help}`);
  out.push(`# TYPE ${name} histogram`);
  for (const s of all) {
    const [buckets, sum] = pick(s);
    let cumulative = 0;
    for (let i = 0; i < bounds.length; i++) {
      cumulative += buckets[i]!;
      out.push(`${name}_bucket{${s.labels},le="${bounds[i]}"} ${cumulative}`);
    }
    cumulative += buckets[bounds.length]!;
    out.push(`${name}_bucket{${s.labels},le="+Inf"} ${cumulative}`);
    out.push(`${name}_sum{${s.labels}} ${sum}`);
    out.push(`${name}_count{${s.labels}} ${cumulative}`);
  }
}
