import type { AnalysisCheck, IntervalSample, VersionCounts } from '../core/analysis/index.js';
import type { Release } from '../core/index.js';
import { DURATION_BOUNDS_MS, FINE_SLOTS, SUB_BUCKETS } from '../telemetry-wire/index.js';
import type { TopologyWindow } from '../telemetry/topology-window.js';

/**
 * Where the analysis reads both versions of a release over the same seconds: the proxies' telemetry (local mode)
 * or a Prometheus scraping Istio's standard metrics (cluster mode), which also answers `prometheus` checks.
 */
export interface AnalysisMetrics {
  /** Both versions over the whole seconds [fromSecond, toSecond), and the values of the release's prometheus checks. */
  sample(release: Release, checks: readonly AnalysisCheck[], fromSecond: number, toSecond: number): Promise<IntervalSample>;
  /** Whether `prometheus` checks can be answered. */
  readonly answersPromQL: boolean;
}

/** Upper edges of the fine latency slots (see histogram-layout.ts); the overflow slots share the open last bin. */
export const FINE_EDGES: readonly number[] = (() => {
  const edges: number[] = [];
  for (let b = 0; b < DURATION_BOUNDS_MS.length; b++) {
    const lo = b === 0 ? 0 : DURATION_BOUNDS_MS[b - 1]!;
    const width = (DURATION_BOUNDS_MS[b]! - lo) / SUB_BUCKETS;
    for (let s = 1; s <= SUB_BUCKETS; s++) edges.push(lo + s * width);
  }
  return edges;
})();

function fineToCounts(c: { requests: number; failures: number; fine: Uint32Array } | undefined): VersionCounts {
  if (!c) return { requests: 0, failures: 0, latency: [] };
  const latency: number[] = [];
  let overflow = 0;
  for (let i = 0; i < FINE_SLOTS; i++) {
    const n = c.fine[i]!;
    if (n === 0) continue;
    if (i < FINE_EDGES.length) latency.push(i, n);
    else overflow += n;
  }
  if (overflow > 0) latency.push(FINE_EDGES.length, overflow);
  return { requests: c.requests, failures: c.failures, latency };
}

/** Local mode: the control plane's own 1-s telemetry buckets (the proxies' batches). */
export class LocalAnalysisMetrics implements AnalysisMetrics {
  readonly answersPromQL = false;
  constructor(private readonly window: TopologyWindow) {}

  async sample(release: Release, _checks: readonly AnalysisCheck[], fromSecond: number, toSecond: number): Promise<IntervalSample> {
    const counts = this.window.versionCounts(release.service, [release.baseline, release.candidate.name], fromSecond, toSecond);
    return {
      fromMs: fromSecond * 1000,
      toMs: toSecond * 1000,
      edges: FINE_EDGES,
      baseline: fineToCounts(counts.get(release.baseline)),
      candidate: fineToCounts(counts.get(release.candidate.name)),
    };
  }
}

export interface PrometheusAnalysisMetricsOptions {
  url: string;
  namespace: string;
  timeoutMs?: number;
}

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

const promString = (s: string) => s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');

/**
 * Cluster mode: Istio's `istio_requests_total` and `istio_request_duration_milliseconds_bucket` as reported by the
 * destination's sidecar, `increase()` over exactly the interval ending at its end (so looks never overlap), and
 * the `prometheus` checks' PromQL at the same instant. `{{service}}`, `{{namespace}}`, `{{baseline}}`,
 * `{{candidate}}` and `{{interval}}` in a query are replaced (values quoted for PromQL strings).
 */
export class PrometheusAnalysisMetrics implements AnalysisMetrics {
  readonly answersPromQL = true;
  private readonly url: string;

  constructor(private readonly options: PrometheusAnalysisMetricsOptions) {
    this.url = options.url.replace(/\/+$/, '');
  }

  async query(promql: string, atSecond: number): Promise<PromSample[]> {
    const params = new URLSearchParams({ query: promql, time: String(atSecond) });
    const res = await fetch(`${this.url}/api/v1/query?${params}`, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000) }).catch(
      (err: Error) => {
        throw new Error(`Prometheus at ${this.url} cannot be reached: ${err.message}`);
      },
    );
    const body = (await res.json().catch(() => ({}))) as {
      status?: string;
      error?: string;
      data?: { result?: PromSample[] | [number, string] };
    };
    if (!res.ok || body.status !== 'success') throw new Error(`Prometheus refused the query: ${body.error ?? `HTTP ${res.status}`}`);
    const result = body.data?.result ?? [];
    // A scalar answer is [time, "value"]; give it the vector's shape.
    if (result.length === 2 && !Array.isArray(result[0]) && typeof result[0] === 'number')
      return [{ metric: {}, value: result as [number, string] }];
    return result as PromSample[];
  }

  async sample(release: Release, checks: readonly AnalysisCheck[], fromSecond: number, toSecond: number): Promise<IntervalSample> {
    const seconds = Math.max(1, toSecond - fromSecond);
    const versions = [release.baseline, release.candidate.name];
    const selector =
      `reporter="destination",destination_service_namespace="${promString(this.options.namespace)}",` +
      `destination_service_name="${promString(release.service)}",destination_version=~"${versions.map((v) => v.replace(/[^a-zA-Z0-9-]/g, '')).join('|')}"`;
    const [codes, buckets] = await Promise.all([
      this.query(`sum by (destination_version, response_code) (increase(istio_requests_total{${selector}}[${seconds}s]))`, toSecond),
      this.query(
        `sum by (destination_version, le) (increase(istio_request_duration_milliseconds_bucket{${selector}}[${seconds}s]))`,
        toSecond,
      ),
    ]);
    const counts = new Map(versions.map((v) => [v, { requests: 0, failures: 0 }]));
    for (const r of codes) {
      const c = counts.get(r.metric.destination_version ?? '');
      const n = Math.round(Number(r.value[1]));
      if (!c || !Number.isFinite(n)) continue;
      c.requests += n;
      const code = Number(r.metric.response_code ?? 0);
      if (code >= 500 || code < 100) c.failures += n;
    }
    // Cumulative `le` buckets -> counts per bin over the finite bounds seen.
    const les = [...new Set(buckets.map((r) => r.metric.le ?? '').filter((le) => le !== '+Inf' && le !== ''))]
      .map(Number)
      .sort((a, b) => a - b);
    const latency = new Map<string, number[]>();
    for (const v of versions) {
      const cum = new Map<number, number>();
      let inf = 0;
      for (const r of buckets) {
        if (r.metric.destination_version !== v) continue;
        const n = Number(r.value[1]);
        if (!Number.isFinite(n)) continue;
        if (r.metric.le === '+Inf') inf = n;
        else cum.set(Number(r.metric.le), n);
      }
      const bins: number[] = [];
      let below = 0;
      les.forEach((le, i) => {
        const c = cum.get(le) ?? below;
        const n = Math.max(0, Math.round(c - below));
        if (n > 0) bins.push(i, n);
        below = Math.max(below, c);
      });
      const over = Math.max(0, Math.round(inf - below));
      if (over > 0) bins.push(les.length, over);
      latency.set(v, bins);
    }
    const prometheus = await Promise.all(
      checks.map(async (c) => {
        if (c.metric !== 'prometheus') return { value: null };
        const q = c.query
          .replaceAll('{{service}}', promString(release.service))
          .replaceAll('{{namespace}}', promString(this.options.namespace))
          .replaceAll('{{baseline}}', promString(release.baseline))
          .replaceAll('{{candidate}}', promString(release.candidate.name))
          .replaceAll('{{interval}}', `${seconds}s`);
        try {
          const rows = await this.query(q, toSecond);
          const v = rows.length > 0 ? Number(rows[0]!.value[1]) : Number.NaN;
          return { value: Number.isFinite(v) ? v : null, ...(rows.length === 0 ? { error: 'no series' } : {}) };
        } catch (err) {
          return { value: null, error: (err as Error).message };
        }
      }),
    );
    const of = (v: string): VersionCounts => ({ ...counts.get(v)!, latency: latency.get(v) ?? [] });
    return {
      fromMs: fromSecond * 1000,
      toMs: toSecond * 1000,
      edges: les,
      baseline: of(release.baseline),
      candidate: of(release.candidate.name),
      prometheus,
    };
  }
}
