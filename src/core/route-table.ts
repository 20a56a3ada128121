import type { CompareSettings } from './comparison/compare-answers.js';
import type { Rule } from './model.js';
import type { OutlierPolicy } from './outlier-detection.js';

/**
 * The compiled, versioned route table that the control plane pushes to every proxy. It is plain data
 * (JSON on the wire); a proxy compiles its rules into matchers once per snapshot, never per request.
 */
export interface RouteTable {
  /** Increases with every change of desired state or of endpoint readiness. */
  revision: number;
  generatedAt: string;
  services: ServiceRoute[];
  /** One outbound listener per workload instance, so the proxy knows the source of each call. */
  listeners: OutboundListener[];
}

export interface ServiceRoute {
  name: string;
  port: number;
  /** Path prefixes under which the ingress reaches this service when the Host header names none. */
  ingressPaths: string[];
  /** The active release that owns the routes, if any. */
  release: string | null;
  versions: VersionRoute[];
  /** The rules in force: first match wins. A release's governor is already applied. */
  rules: Rule[];
  /** Passive outlier detection of the service's endpoints; absent (older tables, fixtures): the defaults. */
  outlierDetection?: OutlierPolicy;
  /** How mirrored answers are compared (the release's `compare`); absent: the defaults (DEFAULT_COMPARE). */
  compare?: CompareSettings;
}

export interface VersionRoute {
  name: string;
  endpoints: Endpoint[];
}

export interface Endpoint {
  /** host:port */
  address: string;
  /** Instance name, e.g. reviews-v2-1, or the address for endpoints workloads. */
  instance: string;
  ready: boolean;
  /**
   * The serving process's id, when the mesh runs it (process workloads; a restart gives a new pid, so a new
   * table). Absent for `endpoints` workloads and in cluster mode. Server spans report it.
   */
  pid?: number;
}

export interface OutboundListener {
  /** Loopback port the instance calls as MESH_OUTBOUND. */
  port: number;
  service: string;
  version: string;
  instance: string;
  /** The calling instance's process id, when the mesh runs it (as Endpoint.pid). Client spans report it. */
  pid?: number;
}

export function emptyRouteTable(): RouteTable {
  return { revision: 0, generatedAt: new Date(0).toISOString(), services: [], listeners: [] };
}
