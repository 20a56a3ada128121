import type { Release, Service } from './model.js';
import { outlierPolicy } from './outlier-detection.js';
import type { Endpoint, OutboundListener, RouteTable, ServiceRoute } from './route-table.js';
import { effectiveRules } from './effective-rules.js';

export interface RouteTableInput {
  revision: number;
  services: Service[];
  /** Active releases (at most one per service). */
  releases: Release[];
  /** Endpoints of a service version as the workload runtimes see them now (with `pid` where one runs the process). */
  endpoints(service: string, version: string): Endpoint[];
  /** Passed through as they are (sorted by port), `pid` included. */
  listeners: OutboundListener[];
  now?: string;
}

/** The pure compiler from desired state to the route table that proxies apply atomically. */
export function compileRouteTable(input: RouteTableInput): RouteTable {
  const releaseByService = new Map(input.releases.map((r) => [r.service, r]));
  const services: ServiceRoute[] = input.services
    .map((svc) => {
      const release = releaseByService.get(svc.name);
      return {
        name: svc.name,
        port: svc.port,
        ingressPaths: svc.ingress?.paths ?? [],
        release: release?.name ?? null,
        versions: svc.versions.map((v) => ({ name: v.name, endpoints: input.endpoints(svc.name, v.name) })),
        rules: effectiveRules(svc, release),
        outlierDetection: outlierPolicy(svc.outlierDetection),
        ...(release?.compare ? { compare: release.compare } : {}),
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    revision: input.revision,
    generatedAt: input.now ?? new Date().toISOString(),
    services,
    listeners: [...input.listeners].sort((a, b) => a.port - b.port),
  };
}
