import type { Endpoint, OutboundListener, Workload } from '../core/index.js';
import type { DesiredVersion, InstanceStatus, LogLine, VersionHealth, WorkloadRuntime } from './workload-runtime.js';

export type WorkloadKind = Workload['kind'];

/**
 * One WorkloadRuntime over several: each desired version goes to the runtime for its workload kind
 * (process, endpoints, kubernetes); endpoints, listeners and change notices of all are merged.
 * A version whose kind has no runtime here reports failed health, so its release fails visibly.
 */
export class RuntimeByKind implements WorkloadRuntime {
  private readonly runtimes: [WorkloadKind, WorkloadRuntime][];
  /** Kind of each desired version (`service/version`) as of the last reconcile. */
  private kinds = new Map<string, WorkloadKind>();

  constructor(runtimes: Partial<Record<WorkloadKind, WorkloadRuntime>>) {
    this.runtimes = Object.entries(runtimes).filter((e): e is [WorkloadKind, WorkloadRuntime] => e[1] !== undefined);
  }

  /** Kinds this runtime can run. */
  supportedKinds(): WorkloadKind[] {
    return this.runtimes.map(([k]) => k);
  }

  async reconcile(desired: DesiredVersion[]): Promise<void> {
    this.kinds = new Map(desired.map((d) => [`${d.service}/${d.version.name}`, d.version.workload.kind]));
    // Every runtime reconciles, even with nothing desired, so versions that left are stopped.
    await Promise.all(this.runtimes.map(([kind, rt]) => rt.reconcile(desired.filter((d) => d.version.workload.kind === kind))));
  }

  endpoints(service: string, version: string): Endpoint[] {
    return this.owner(service, version)?.endpoints(service, version) ?? [];
  }

  listeners(): OutboundListener[] {
    return this.runtimes.flatMap(([, rt]) => rt.listeners());
  }

  instances(service: string, version: string): InstanceStatus[] {
    return this.owner(service, version)?.instances(service, version) ?? [];
  }

  health(service: string, version: string): VersionHealth {
    const kind = this.kinds.get(`${service}/${version}`);
    const rt = this.owner(service, version);
    if (rt) return rt.health(service, version);
    if (kind)
      return {
        ready: false,
        failed: true,
        reason: `no runtime for "${kind}" workloads here (available: ${this.supportedKinds().join(', ') || 'none'})`,
      };
    return { ready: false, failed: false, reason: `${service}/${version} is not running` };
  }

  logs(service: string, version: string, opts?: { tail?: number; instance?: string }): LogLine[] {
    return this.owner(service, version)?.logs(service, version, opts) ?? [];
  }

  onChange(listener: () => void): void {
    for (const [, rt] of this.runtimes) rt.onChange(listener);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.runtimes.map(([, rt]) => rt.stopAll()));
  }

  private owner(service: string, version: string): WorkloadRuntime | undefined {
    const kind = this.kinds.get(`${service}/${version}`);
    return kind === undefined ? undefined : this.runtimes.find(([k]) => k === kind)?.[1];
  }
}
