import type { ReleaseShare, ResponseClasses, Topology, TopologyEdge, TopologyNode } from '../telemetry/topology-window.js';

/**
 * Observed shares and the topology from a Prometheus that scrapes Istio's standard metrics
 * (istio_requests_total, istio_request_duration_milliseconds), in the same shapes as local mode. Only
 * requests reported by the destination's sidecar are counted, so each request counts once.
 */

export interface PrometheusTelemetryOptions {
  /** e.g. http://prometheus.istio-system:9090 */
  url: string;
  /** Only traffic to services of this namespace. */
  namespace: string;
  timeoutMs?: number;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

type Latency = TopologyEdge['latencyMs'];

export class PrometheusTelemetry {
  /** Where Prometheus answers (the analysis queries it too). */
  readonly url: string;
  private readonly namespace: string;
  private readonly timeoutMs: number;

  constructor(options: PrometheusTelemetryOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.namespace = options.namespace;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** An instant query; throws with Prometheus' own message when it refuses. */
  async query(promql: string): Promise<Sample[]> {
    const res = await fetch(`${this.url}/api/v1/query?${new URLSearchParams({ query: promql })}`, {
      signal: AbortSignal.timeout(this.timeoutMs),
    }).catch((err: Error) => {
      throw new Error(`Prometheus at ${this.url} cannot be reached: ${err.message}`);
    });
    const body = (await res.json().catch(() => ({}))) as {
      status?: string;
      error?: string;
      data?: { resultType?: string; result?: Sample[] };
    };
    if (!res.ok || body.status !== 'success')
      throw new Error(`Prometheus at ${this.url} refused the query: ${body.error ?? `HTTP ${res.status}`}`);
    return body.data?.result ?? [];
  }

  /** Share (0..1) of `service`'s requests that each version served over the last `windowSec` seconds. */
  async observedShares(service: string, windowSec = 60): Promise<{ observed: Record<string, number>; requests: number }> {
    const rows = await this.query(
      `sum by (destination_version) (increase(istio_requests_total{${this.selector()},destination_service_name="${promString(service)}"}[${windowSec}s]))`,
    );
    const counts = rows
      .map((r) => [r.metric.destination_version ?? 'unknown', Number(r.value[1])] as const)
      .filter(([, n]) => Number.isFinite(n));
    const total = counts.reduce((a, [, n]) => a + n, 0);
    const observed: Record<string, number> = {};
    if (total > 0) for (const [v, n] of counts) observed[v] = n / total;
    return { observed, requests: Math.round(total) };
  }

  /** The topology over the last `windowSec` seconds; releases get their observed shares. */
  async topology(windowSec = 60, releases: { name: string; service: string }[] = []): Promise<Topology> {
    const by = 'source_app, source_version, source_workload, destination_service_name, destination_version';
    const range = `[${windowSec}s]`;
    const [counts, p50, p95, p99] = await Promise.all([
      this.query(`sum by (${by}, response_code) (increase(istio_requests_total{${this.selector()}}${range}))`),
      ...[0.5, 0.95, 0.99].map((q) =>
        this.query(
          `histogram_quantile(${q}, sum by (${by}, le) (rate(istio_request_duration_milliseconds_bucket{${this.selector()}}${range})))`,
        ),
      ),
    ]);
    const edges = new Map<string, TopologyEdge>();
    const nodes = new Map<string, TopologyNode>();
    const node = (id: string, type: TopologyNode['type'], service: string | null, version: string | null) => {
      if (!nodes.has(id))
        nodes.set(id, {
          id,
          type,
          service,
          version,
          requestRate: 0,
          successRate: null,
          latencyMs: noLatency(),
          responses: noResponses(),
          requests: 0,
        });
      return nodes.get(id)!;
    };
    const endpoints = (m: Record<string, string>) => {
      const srcApp = m.source_app && m.source_app !== 'unknown' ? m.source_app : null;
      const source = !srcApp || /ingressgateway/.test(m.source_workload ?? '') ? 'ingress' : `${srcApp}:${m.source_version ?? 'unknown'}`;
      const service = m.destination_service_name ?? 'unknown';
      const target = `${service}:${m.destination_version ?? 'unknown'}`;
      if (source === 'ingress') node('ingress', 'ingress', null, null);
      else {
        node(source, 'version', srcApp, m.source_version ?? null);
        node(srcApp!, 'service', srcApp, null);
      }
      return { source, target, service, version: m.destination_version ?? null };
    };
    for (const row of counts) {
      const n = Number(row.value[1]);
      if (!Number.isFinite(n) || n <= 0) continue;
      const { source, target, service, version } = endpoints(row.metric);
      const id = `${source}>${target}`;
      const edge = edges.get(id) ?? {
        id,
        source,
        target,
        requestRate: 0,
        successRate: null,
        latencyMs: noLatency(),
        responses: noResponses(),
        requests: 0,
        share: null,
      };
      edges.set(id, edge);
      const cls = classOf(row.metric.response_code);
      edge.responses[cls] += n;
      edge.requests += n;
      const dst = node(target, 'version', service, version);
      // As in local mode: a version node and its service node both count what the version received.
      for (const x of [dst, node(service, 'service', service, null)]) {
        x.responses[cls] += n;
        x.requests += n;
      }
    }
    for (const [q, rows] of [
      ['p50', p50],
      ['p95', p95],
      ['p99', p99],
    ] as const) {
      for (const row of rows) {
        const v = Number(row.value[1]);
        if (!Number.isFinite(v)) continue;
        const { source, target } = endpoints(row.metric);
        const edge = edges.get(`${source}>${target}`);
        if (edge) edge.latencyMs[q] = v;
      }
    }
    const perService = new Map<string, number>();
    for (const e of edges.values()) {
      const service = e.target.split(':')[0]!;
      perService.set(`${e.source}|${service}`, (perService.get(`${e.source}|${service}`) ?? 0) + e.requests);
    }
    for (const e of edges.values()) finish(e, windowSec, perService.get(`${e.source}|${e.target.split(':')[0]!}`) ?? 0);
    for (const n of nodes.values()) finish(n, windowSec);
    const shares: ReleaseShare[] = releases.map((r) => {
      const versions = [...nodes.values()].filter((n) => n.type === 'version' && n.service === r.service);
      const total = versions.reduce((a, n) => a + n.requests, 0);
      const observed: Record<string, number> = {};
      if (total > 0) for (const n of versions) observed[n.version ?? 'unknown'] = n.requests / total;
      return { name: r.name, service: r.service, observed, requests: total };
    });
    const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : 1);
    return {
      window: windowSec,
      generatedAt: new Date().toISOString(),
      nodes: [...nodes.values()].sort(byId),
      edges: [...edges.values()].sort(byId),
      releases: shares,
    };
  }

  private selector(): string {
    return `reporter="destination",destination_service_namespace="${promString(this.namespace)}"`;
  }
}

function finish(
  x: { requests: number; requestRate: number; successRate: number | null; responses: ResponseClasses; share?: number | null },
  windowSec: number,
  serviceTotal?: number,
): void {
  x.requests = Math.round(x.requests);
  x.requestRate = x.requests / windowSec;
  x.successRate = x.requests > 0 ? 1 - (x.responses['5xx'] + x.responses.other) / x.requests : null;
  for (const k of Object.keys(x.responses) as (keyof ResponseClasses)[]) x.responses[k] = Math.round(x.responses[k]);
  if (serviceTotal !== undefined) x.share = serviceTotal > 0 ? x.requests / serviceTotal : null;
}

function classOf(code: string | undefined): keyof ResponseClasses {
  const c = Number(code);
  if (c >= 200 && c < 300) return '2xx';
  if (c >= 300 && c < 400) return '3xx';
  if (c >= 400 && c < 500) return '4xx';
  if (c >= 500 && c < 600) return '5xx';
  return 'other';
}

/** A PromQL string literal's content: backslashes and quotes escaped, so a name cannot change the query. */
function promString(s: string): string {
  return s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
}

const noLatency = (): Latency => ({ p50: null, p95: null, p99: null });
const noResponses = (): ResponseClasses => ({ '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 });
