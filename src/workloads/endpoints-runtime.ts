import { request } from 'node:http';
import type { EndpointsWorkload, Endpoint, OutboundListener } from '../core/index.js';
import type { DesiredVersion, InstanceStatus, LogLine, VersionHealth, WorkloadRuntime } from './workload-runtime.js';

export interface EndpointsRuntimeOptions {
  /** How often each address is probed when the workload has `health`; default 2000 ms. */
  probeIntervalMs?: number;
  /** Consecutive failed probes before a ready address turns unready; default 2. */
  failureThreshold?: number;
  /** Per-probe timeout; default 1000 ms. */
  probeTimeoutMs?: number;
}

interface AddressState {
  address: string;
  ready: boolean;
  probed: boolean;
  failures: number;
  startedAt: string;
}

interface VersionState {
  key: string;
  service: string;
  version: string;
  /** JSON of the workload, to tell a change from a repeat. */
  spec: string;
  healthPath: string | null;
  addresses: AddressState[];
  timer: NodeJS.Timeout | null;
  lastError: string;
}

const key = (service: string, version: string) => `${service}/${version}`;

/** Splits `host:port` or `[v6]:port`. */
function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(i + 1)) };
}

/**
 * Runs nothing: `endpoints` workloads are already running somewhere, so their addresses are the endpoints.
 * Without `health` every address is ready at once; with `health.path` each is probed (HTTP GET) every
 * interval, ready on 2xx/3xx and unready after `failureThreshold` failures in a row.
 */
export class EndpointsRuntime implements WorkloadRuntime {
  private readonly versions = new Map<string, VersionState>();
  private readonly listenersOfChange: (() => void)[] = [];
  private readonly intervalMs: number;
  private readonly failureThreshold: number;
  private readonly timeoutMs: number;
  private stopped = false;

  constructor(options: EndpointsRuntimeOptions = {}) {
    this.intervalMs = options.probeIntervalMs ?? 2000;
    this.failureThreshold = options.failureThreshold ?? 2;
    this.timeoutMs = options.probeTimeoutMs ?? 1000;
  }

  async reconcile(desired: DesiredVersion[]): Promise<void> {
    this.stopped = false;
    let changed = false;
    const wanted = new Map<string, { service: string; version: string; workload: EndpointsWorkload }>();
    for (const d of desired) {
      if (d.version.workload.kind !== 'endpoints') continue;
      wanted.set(key(d.service, d.version.name), { service: d.service, version: d.version.name, workload: d.version.workload });
    }
    for (const [k, state] of this.versions) {
      const w = wanted.get(k);
      if (!w || JSON.stringify(w.workload) !== state.spec) {
        if (state.timer) clearInterval(state.timer);
        this.versions.delete(k);
        changed = true;
      }
    }
    const probes: Promise<void>[] = [];
    for (const [k, w] of wanted) {
      if (this.versions.has(k)) continue;
      const now = new Date().toISOString();
      const healthPath = w.workload.health?.path ?? null;
      const state: VersionState = {
        key: k,
        service: w.service,
        version: w.version,
        spec: JSON.stringify(w.workload),
        healthPath,
        addresses: w.workload.addresses.map((address) => ({
          address,
          ready: healthPath === null,
          probed: false,
          failures: 0,
          startedAt: now,
        })),
        timer: null,
        lastError: '',
      };
      this.versions.set(k, state);
      changed = true;
      if (healthPath !== null) {
        probes.push(this.probeAll(state));
        state.timer = setInterval(() => void this.probeAll(state), this.intervalMs);
        state.timer.unref();
      }
    }
    if (changed) this.emit();
    // The first probe round finishes before reconcile returns, so a healthy address is ready right away.
    await Promise.all(probes);
  }

  endpoints(service: string, version: string): Endpoint[] {
    const state = this.versions.get(key(service, version));
    return state ? state.addresses.map((a) => ({ address: a.address, instance: a.address, ready: a.ready })) : [];
  }

  listeners(): OutboundListener[] {
    return [];
  }

  instances(service: string, version: string): InstanceStatus[] {
    const state = this.versions.get(key(service, version));
    if (!state) return [];
    return state.addresses.map((a) => ({
      name: a.address,
      address: a.address,
      pid: null,
      ready: a.ready,
      restarts: 0,
      state: a.ready ? 'ready' : a.probed ? 'unready' : 'starting',
      startedAt: a.startedAt,
      outboundPort: null,
    }));
  }

  health(service: string, version: string): VersionHealth {
    const state = this.versions.get(key(service, version));
    if (!state) return { ready: false, failed: false, reason: `${service}/${version} is not known to the endpoints runtime` };
    const ready = state.addresses.filter((a) => a.ready).length;
    if (ready > 0) return { ready: true, failed: false, reason: `${ready} of ${state.addresses.length} addresses ready` };
    // An external address may come up later: never "failed", only not ready yet.
    const why = state.lastError ? `: ${state.lastError}` : '';
    return { ready: false, failed: false, reason: `no address answers ${state.healthPath ?? ''} yet${why}` };
  }

  logs(_service: string, _version: string, _opts?: { tail?: number; instance?: string }): LogLine[] {
    return []; // the processes run elsewhere; their logs are not ours
  }

  onChange(listener: () => void): void {
    this.listenersOfChange.push(listener);
  }

  async stopAll(): Promise<void> {
    this.stopped = true;
    for (const state of this.versions.values()) if (state.timer) clearInterval(state.timer);
    this.versions.clear();
  }

  private emit(): void {
    for (const l of this.listenersOfChange) {
      try {
        l();
      } catch {
        // a listener's failure is its own business
      }
    }
  }

  private async probeAll(state: VersionState): Promise<void> {
    const results = await Promise.all(state.addresses.map((a) => this.probe(a.address, state.healthPath!)));
    // The version may have been removed or replaced while probing.
    if (this.stopped || this.versions.get(state.key) !== state) return;
    let changed = false;
    results.forEach((error, i) => {
      const a = state.addresses[i]!;
      a.probed = true;
      if (error === null) {
        a.failures = 0;
        if (!a.ready) changed = true;
        a.ready = true;
      } else {
        state.lastError = `${a.address}: ${error}`;
        a.failures++;
        if (a.ready && a.failures >= this.failureThreshold) {
          a.ready = false;
          changed = true;
        }
      }
    });
    if (changed) this.emit();
  }

  /** null when healthy, else why not. */
  private probe(address: string, path: string): Promise<string | null> {
    const { host, port } = hostPort(address);
    return new Promise((resolve) => {
      const req = request({ host, port, path, method: 'GET', timeout: this.timeoutMs, agent: false }, (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400 ? null : `GET ${path} answered ${code}`);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) => resolve(err.message));
      req.end();
    });
  }
}
