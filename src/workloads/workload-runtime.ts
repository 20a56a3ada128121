import type { Endpoint, OutboundListener, Version } from '../core/index.js';

/**
 * How a version comes to run. The control plane tells a runtime which versions should run; the runtime
 * starts, watches and stops their instances and reports endpoints and readiness. Implementations:
 * ProcessRuntime (local supervisor), EndpointsRuntime (addresses only), KubernetesRuntime (Deployments in a
 * cluster, src/kubernetes), and RuntimeByKind, which hands each version to the one its workload kind names.
 */
export interface WorkloadRuntime {
  /** Makes the running set equal to `desired`: starts what is missing, gracefully stops what is gone. */
  reconcile(desired: DesiredVersion[]): Promise<void>;
  /** Endpoints of one version as of now (ready or not). */
  endpoints(service: string, version: string): Endpoint[];
  /** One outbound listener per running instance (only process workloads have them). */
  listeners(): OutboundListener[];
  /** Instances of one version, for the API and the console. */
  instances(service: string, version: string): InstanceStatus[];
  /** Overall health of one version: ready when at least one instance is ready; failed with a reason when it cannot start. */
  health(service: string, version: string): VersionHealth;
  /** Bounded recent log lines of one version's instances (newest last). */
  logs(service: string, version: string, opts?: { tail?: number; instance?: string }): LogLine[];
  /** Called (debounced by the caller) whenever endpoints, readiness or listeners change. */
  onChange(listener: () => void): void;
  /** Stops every instance: SIGTERM, a drain period, then SIGKILL. */
  stopAll(): Promise<void>;
}

export interface DesiredVersion {
  service: string;
  version: Version;
}

export interface InstanceStatus {
  name: string;
  address: string;
  pid: number | null;
  ready: boolean;
  restarts: number;
  state: 'starting' | 'ready' | 'unready' | 'backoff' | 'stopping' | 'exited';
  startedAt: string | null;
  /** The loopback port of this instance's outbound listener (MESH_OUTBOUND), for process workloads. */
  outboundPort: number | null;
  /** Set by the control plane while a proxy's outlier detection keeps the instance ejected: until when (ISO 8601). */
  ejectedUntil?: string;
}

export interface VersionHealth {
  ready: boolean;
  failed: boolean;
  reason: string;
}

export interface LogLine {
  at: string;
  instance: string;
  stream: 'stdout' | 'stderr';
  line: string;
}
