import { CanaryError, InputError } from '../core/index.js';
import type { JaegerTraces, PrometheusTelemetry } from '../kubernetes/index.js';
import type { StoredSpan, TraceQuery, TraceSummary } from '../telemetry/sqlite-trace-store.js';
import type { Topology } from '../telemetry/topology-window.js';

/**
 * Telemetry read from elsewhere instead of the local proxies' batches: in cluster mode Envoy reports to
 * Prometheus and Jaeger, and the API's observed shares, topology and traces are read from there, in the same
 * shapes. Each part is optional: a cluster without Prometheus has no observed shares.
 */
export interface ExternalTelemetry {
  /** Share (0..1) per version of the service's requests over the window; empty when unknown. */
  observedShares?(service: string, windowSec: number): Promise<Record<string, number>>;
  topology?(windowSec: number, releases: { name: string; service: string }[]): Promise<Topology>;
  listTraces?(q: TraceQuery): Promise<TraceSummary[]>;
  getTrace?(traceId: string): Promise<{ traceId: string; spans: StoredSpan[] } | null>;
}

export interface ClusterTelemetryOptions {
  prometheus: PrometheusTelemetry | null;
  traces: JaegerTraces | null;
  /** Observed shares are cached this long, so listing releases does not query Prometheus each time; default 5000 ms. */
  cacheMs?: number;
  log?: { warn(msg: string): void };
}

/** ExternalTelemetry from the backend's Prometheus and Jaeger readers (`--prometheus`, `--tracing`). */
export class ClusterTelemetry implements ExternalTelemetry {
  private readonly shares = new Map<string, { at: number; value: Promise<Record<string, number>> }>();
  private lastWarning = '';
  observedShares?: ExternalTelemetry['observedShares'];
  topology?: ExternalTelemetry['topology'];
  listTraces?: ExternalTelemetry['listTraces'];
  getTrace?: ExternalTelemetry['getTrace'];

  constructor(private readonly options: ClusterTelemetryOptions) {
    const { prometheus, traces } = options;
    if (prometheus) {
      this.observedShares = (service, windowSec) => this.cachedShares(prometheus, service, windowSec);
      this.topology = (windowSec, releases) => upstream(prometheus.topology(windowSec, releases));
    }
    if (traces) {
      this.listTraces = async (q) => {
        // Jaeger lists per service; say so as a field error rather than failing inside the query.
        if (!q.service)
          throw new InputError('service: required with --tracing (Jaeger lists traces per service)', [
            { path: 'service', message: 'required' },
          ]);
        return upstream(traces.list(q));
      };
      this.getTrace = (traceId) => upstream(traces.get(traceId));
    }
  }

  /** A release read must not fail because Prometheus is away: its observed shares are then empty, with a warning. */
  private cachedShares(prometheus: PrometheusTelemetry, service: string, windowSec: number): Promise<Record<string, number>> {
    const key = `${service}/${windowSec}`;
    const hit = this.shares.get(key);
    if (hit && Date.now() - hit.at < (this.options.cacheMs ?? 5000)) return hit.value;
    const value = prometheus.observedShares(service, windowSec).then(
      (r) => r.observed,
      (err: Error) => {
        if (err.message !== this.lastWarning) this.options.log?.warn(`observed shares of ${service}: ${err.message}`);
        this.lastWarning = err.message;
        return {};
      },
    );
    this.shares.set(key, { at: Date.now(), value });
    return value;
  }
}

/** Prometheus' or Jaeger's failure as an API error that says which and why (not "internal error"). */
async function upstream<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof CanaryError) throw err;
    throw new CanaryError('Upstream', (err as Error).message);
  }
}
