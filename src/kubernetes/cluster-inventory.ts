import { dns1123LabelProblem, type ServiceSpec, type Version } from '../core/index.js';
import type { Deployment, KubeService, ServicePort } from './kube-object.js';
import { mainContainer } from './render.js';

export interface ClusterInventory {
  services: ServiceSpec[];
  /** What was skipped and why (a Deployment without a version label, a version name Istio cannot use, ...). */
  warnings: string[];
}

/** Annotation on a Kubernetes Service naming the port Canary Mesh routes (its name or number). */
export const PORT_ANNOTATION = 'canary-mesh.io/port';

const HTTP_APP_PROTOCOLS = new Set(['http', 'http2', 'grpc', 'grpc-web', 'kubernetes.io/h2c']);
const HTTP_NAME = /^(http|http2|grpc|grpc-web)(-.*)?$/;

/**
 * The port of a Service that carries HTTP, as Istio decides a port's protocol: the annotation
 * `canary-mesh.io/port` (a port's name or number) when present; else the first port whose `appProtocol` is
 * http, http2, grpc, grpc-web or kubernetes.io/h2c, or, without appProtocol, whose name is `http`, `http-*`,
 * `http2[-*]`, `grpc[-*]` or `grpc-web[-*]`; else the only port. Several ports and none of them HTTP by these
 * conventions is a problem to fix (name the port, or annotate the Service), not a guess.
 */
export function httpServicePort(svc: KubeService): { port: ServicePort } | { problem: string } {
  const ports = svc.spec?.ports ?? [];
  const where = `Service ${svc.metadata.name}`;
  const chosen = svc.metadata.annotations?.[PORT_ANNOTATION];
  if (chosen !== undefined) {
    const port = ports.find((p) => p.name === chosen || String(p.port) === chosen);
    if (port) return { port };
    return {
      problem: `${where}: annotation ${PORT_ANNOTATION}: "${chosen}" is not one of its ports (${ports.map((p) => p.name ?? p.port).join(', ')})`,
    };
  }
  const http = ports.find((p) => (p.appProtocol ? HTTP_APP_PROTOCOLS.has(p.appProtocol.toLowerCase()) : HTTP_NAME.test(p.name ?? '')));
  if (http) return { port: http };
  if (ports.length === 1) return { port: ports[0]! };
  if (ports.length === 0) return { problem: `${where} has no ports` };
  return {
    problem:
      `${where} has ${ports.length} ports and none is HTTP by Istio's conventions (a name http or http-*, or appProtocol http); ` +
      `name the HTTP port so, or annotate the Service with ${PORT_ANNOTATION}: <port name or number>`,
  };
}

/**
 * Services and versions as the cluster has them: each Kubernetes Service with an HTTP port (see
 * httpServicePort), and for it the
 * Deployments whose pods carry app=<service> and version=<v>, each a version with a kubernetes workload
 * (image, literal env, args and replicas of its main container). Versions are sorted so that one Canary
 * Mesh did not create (the original) comes first and so is the stable version.
 */
export function inventoryFromCluster(services: KubeService[], deployments: Deployment[]): ClusterInventory {
  const warnings: string[] = [];
  const out: ServiceSpec[] = [];
  for (const svc of services) {
    const name = svc.metadata.name;
    const chosen = httpServicePort(svc);
    const hasVersions = deployments.some((d) => d.spec?.template?.metadata?.labels?.app === name);
    if ('problem' in chosen) {
      if (hasVersions) warnings.push(`${chosen.problem}; service ${name} is not imported`);
      continue;
    }
    const port = chosen.port.port;
    const versions: (Version & { ours: boolean })[] = [];
    for (const d of deployments) {
      const labels = d.spec?.template?.metadata?.labels ?? {};
      if (labels.app !== name) continue;
      const version = labels.version;
      if (version === undefined) {
        warnings.push(`Deployment ${d.metadata.name}: its pods carry app=${name} but no version label; not a version of ${name}`);
        continue;
      }
      const problem = dns1123LabelProblem(version);
      if (problem) {
        warnings.push(`Deployment ${d.metadata.name}: version label ${problem}; Istio subsets need such names`);
        continue;
      }
      if (versions.some((v) => v.name === version)) {
        warnings.push(`Deployment ${d.metadata.name}: another Deployment runs ${name} ${version} already; ignored`);
        continue;
      }
      const c = mainContainer(d.spec.template.spec.containers, name);
      const env = Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
      versions.push({
        name: version,
        labels: {},
        workload: { kind: 'kubernetes', image: c.image ?? '', env, replicas: d.spec.replicas ?? 1, ...(c.args ? { args: c.args } : {}) },
        ours: d.metadata.labels?.['app.kubernetes.io/managed-by'] === 'canary-mesh',
      });
    }
    if (versions.length === 0) continue;
    versions.sort((a, b) => Number(a.ours) - Number(b.ours) || a.name.localeCompare(b.name));
    out.push({ name, port, versions: versions.map(({ ours: _ours, ...v }) => v), routes: [] });
  }
  return { services: out, warnings };
}
