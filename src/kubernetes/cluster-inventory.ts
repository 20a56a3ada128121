import { dns1123LabelProblem, type ServiceSpec, type Version } from '../core/index.js';
import type { Deployment, KubeService } from './kube-object.js';
import { mainContainer } from './render.js';

export interface ClusterInventory {
  services: ServiceSpec[];
  /** What was skipped and why (a Deployment without a version label, a version name Istio cannot use, ...). */
  warnings: string[];
}

/**
 * Services and versions as the cluster has them: each Kubernetes Service with a port, and for it the
 * Deployments whose pods carry app=<service> and version=<v>, each a version with a kubernetes workload
 * (image, literal env, args and replicas of its main container). Versions are sorted so that one Canary
 * Mesh did not create (the original) comes first and so is the stable version.
 */
export function inventoryFromCluster(services: KubeService[], deployments: Deployment[]): ClusterInventory {
  const warnings: string[] = [];
  const out: ServiceSpec[] = [];
  for (const svc of services) {
    const name = svc.metadata.name;
    const port = svc.spec.ports?.[0]?.port;
    if (!port) continue;
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
