import { type OutlierPolicy, outlierDetectionOn, outlierPolicy } from '../core/outlier-detection.js';

/**
 * Passive outlier detection (Istio DestinationRule `outlierDetection`, Envoy's consecutive-error detectors): every
 * upstream attempt's outcome is fed to its endpoint's health; an endpoint with too many consecutive 5xx or gateway
 * errors (502/503/504, connect failures, timeouts: a failure before any answer counts as a gateway error) leaves its
 * version's load balancing for `baseEjectionTime x its number of ejections`, unless that would eject more than
 * `maxEjectionPercent` of the version's endpoints. It comes back when its time is up (checked when an endpoint is
 * picked, and when the state is read), and every `interval` it then spends without an ejection takes one off its
 * multiplier. Readiness still applies first: only ready endpoints are in a version at all.
 *
 * State lives here, per service, version and address, not in a route-table snapshot: a new table (a readiness
 * change elsewhere, a weight change) keeps what was learnt about the endpoints it keeps.
 */

/** Envoy's default `max_ejection_time`: an ejection never lasts longer than this (or than the base time). */
const MAX_EJECTION_MS = 300_000;

/** What one endpoint has shown lately; shared by every snapshot's CompiledEndpoint for the same address. */
export class EndpointHealth {
  consecutive5xx = 0;
  consecutiveGateway = 0;
  /** Clock time the current ejection ends; 0 while the endpoint is in service. */
  ejectedUntil = 0;
  /** The ejection multiplier: ejections not yet worked off by intervals in service. */
  multiplier = 0;
  /** Clock time it last came back into service. */
  returnedAt = 0;
  /** Ejections since the proxy started (the metrics' counter). */
  ejections = 0;

  constructor(
    readonly version: VersionHealth,
    readonly address: string,
    /** Instance name (for the console and metrics); the newest table's wins. */
    public instance: string,
  ) {}
}

/** The endpoints of one service version, and how many of them are ejected now. */
export class VersionHealth {
  readonly endpoints = new Map<string, EndpointHealth>();
  /** Endpoints ejected now (some may be past their time until the next pick or read). */
  ejected = 0;
  policy: OutlierPolicy;
  /** Ready endpoints of the version in the table in force (the base of maxEjectionPercent). */
  size = 0;

  constructor(
    readonly detector: OutlierDetector,
    readonly service: string,
    readonly name: string,
    policy: OutlierPolicy,
  ) {
    this.policy = policy;
  }
}

/** One ejected endpoint as telemetry and the console see it. */
export interface EjectedEndpoint {
  service: string;
  version: string;
  instance: string;
  address: string;
  /** When it comes back, milliseconds since the epoch. */
  ejectedUntil: number;
  /** Its ejection multiplier (this ejection lasts baseEjectionTime x this). */
  multiplier: number;
}

export interface OutlierDetectorOptions {
  /** Milliseconds, monotonic or not; default `Date.now`. Tests inject a fake. */
  clock?: () => number;
  /** Called when an endpoint is ejected (the proxy logs it). */
  onEject?: (endpoint: EndpointHealth, durationMs: number) => void;
}

const DEFAULT_POLICY = outlierPolicy(undefined);

export class OutlierDetector {
  readonly clock: () => number;
  private readonly versions = new Map<string, VersionHealth>();
  private readonly onEject: ((endpoint: EndpointHealth, durationMs: number) => void) | null;

  constructor(options: OutlierDetectorOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.onEject = options.onEject ?? null;
  }

  /** The health of a version (made on first sight); `policy` and `size` follow the newest table. */
  version(service: string, name: string, policy: OutlierPolicy = DEFAULT_POLICY, size = 0): VersionHealth {
    const key = `${service}\u0000${name}`;
    let v = this.versions.get(key);
    if (v === undefined) {
      v = new VersionHealth(this, service, name, policy);
      this.versions.set(key, v);
    }
    v.policy = policy;
    v.size = size;
    return v;
  }

  /** The health of one endpoint of `version` (made on first sight). */
  endpoint(version: VersionHealth, address: string, instance: string): EndpointHealth {
    let e = version.endpoints.get(address);
    if (e === undefined) {
      e = new EndpointHealth(version, address, instance);
      version.endpoints.set(address, e);
    }
    e.instance = instance;
    return e;
  }

  /**
   * Forgets endpoints and versions the table in force no longer has (`keep`: version -> addresses). An endpoint
   * that left (unready, removed) and comes back later starts afresh, as Envoy's does.
   */
  retainOnly(keep: ReadonlyMap<VersionHealth, ReadonlySet<string>>): void {
    for (const [key, v] of this.versions) {
      const addresses = keep.get(v);
      if (addresses === undefined) {
        this.versions.delete(key);
        continue;
      }
      for (const [address, e] of v.endpoints) {
        if (addresses.has(address)) continue;
        if (e.ejectedUntil !== 0) v.ejected--;
        v.endpoints.delete(address);
      }
    }
  }

  /**
   * One attempt's outcome on `endpoint`: the status it answered, or 0 when it failed before any answer (connect
   * failure, reset, timeout). A 2xx-4xx answer costs two stores.
   */
  record(endpoint: EndpointHealth, status: number): void {
    if (status !== 0 && status < 500) {
      endpoint.consecutive5xx = 0;
      endpoint.consecutiveGateway = 0;
      return;
    }
    endpoint.consecutive5xx++;
    if (status === 0 || status === 502 || status === 503 || status === 504) endpoint.consecutiveGateway++;
    else endpoint.consecutiveGateway = 0;
    const p = endpoint.version.policy;
    const tripped =
      (p.consecutiveGatewayErrors > 0 && endpoint.consecutiveGateway >= p.consecutiveGatewayErrors) ||
      (p.consecutive5xxErrors > 0 && endpoint.consecutive5xx >= p.consecutive5xxErrors);
    if (tripped) this.eject(endpoint);
  }

  /** Ejects `endpoint` unless it is ejected already, detection is off, or the version's cap forbids it. */
  private eject(endpoint: EndpointHealth): void {
    const v = endpoint.version;
    const p = v.policy;
    // The run is over either way: a blocked ejection is tried again after another run of errors, as in Envoy.
    endpoint.consecutive5xx = 0;
    endpoint.consecutiveGateway = 0;
    if (endpoint.ejectedUntil !== 0 || !outlierDetectionOn(p)) return;
    const now = this.clock();
    this.expire(v, now);
    if (v.size === 0 || (100 * (v.ejected + 1)) / v.size > p.maxEjectionPercent) return;
    // Intervals spent in service since it last came back each take one off the multiplier.
    if (endpoint.multiplier > 0 && p.intervalMs > 0) {
      const worked = Math.floor((now - endpoint.returnedAt) / p.intervalMs);
      endpoint.multiplier = Math.max(0, endpoint.multiplier - worked);
    }
    endpoint.multiplier++;
    endpoint.ejections++;
    const duration = Math.min(p.baseEjectionTimeMs * endpoint.multiplier, Math.max(MAX_EJECTION_MS, p.baseEjectionTimeMs));
    endpoint.ejectedUntil = now + duration;
    v.ejected++;
    this.onEject?.(endpoint, duration);
  }

  /** Puts back the endpoints of `v` whose ejection time is up. */
  expire(v: VersionHealth, now: number): void {
    if (v.ejected === 0) return;
    for (const e of v.endpoints.values()) {
      if (e.ejectedUntil !== 0 && e.ejectedUntil <= now) this.restore(e, now);
    }
  }

  private restore(e: EndpointHealth, now: number): void {
    e.ejectedUntil = 0;
    e.returnedAt = now;
    e.version.ejected--;
  }

  /**
   * Whether `endpoint` may be picked now: in service, or its ejection is over (then it is put back). Only called
   * when its version has an ejected endpoint.
   */
  available(endpoint: EndpointHealth, now: number): boolean {
    const until = endpoint.ejectedUntil;
    if (until === 0) return true;
    if (until > now) return false;
    this.restore(endpoint, now);
    return true;
  }

  /** The endpoints ejected now (expired ejections are ended first). */
  ejected(): EjectedEndpoint[] {
    const now = this.clock();
    const out: EjectedEndpoint[] = [];
    for (const v of this.versions.values()) {
      this.expire(v, now);
      if (v.ejected === 0) continue;
      for (const e of v.endpoints.values()) {
        if (e.ejectedUntil === 0) continue;
        out.push({
          service: v.service,
          version: v.name,
          instance: e.instance,
          address: e.address,
          ejectedUntil: e.ejectedUntil,
          multiplier: e.multiplier,
        });
      }
    }
    return out;
  }

  /**
   * Prometheus text: `canary_outlier_ejected` (1 while ejected) and `canary_outlier_ejections_total`, per endpoint
   * that has been ejected at least once since the proxy started.
   */
  renderMetrics(): string {
    const now = this.clock();
    let gauge = '';
    let counter = '';
    for (const v of this.versions.values()) {
      this.expire(v, now);
      for (const e of v.endpoints.values()) {
        if (e.ejections === 0) continue;
        const labels = `{service="${esc(v.service)}",version="${esc(v.name)}",instance="${esc(e.instance)}",endpoint="${esc(e.address)}"}`;
        gauge += `canary_outlier_ejected${labels} ${e.ejectedUntil === 0 ? 0 : 1}\n`;
        counter += `canary_outlier_ejections_total${labels} ${e.ejections}\n`;
      }
    }
    return (
      '# HELP canary_outlier_ejected Whether the endpoint is ejected from load balancing now by outlier detection (1) or not (0).\n' +
      `# TYPE canary_outlier_ejected gauge\n${gauge}` +
      '# HELP canary_outlier_ejections_total Outlier ejections of the endpoint since the proxy started.\n' +
      `# TYPE canary_outlier_ejections_total counter\n${counter}`
    );
  }
}

function esc(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
