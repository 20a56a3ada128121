import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import {
  InputError,
  markCandidateReady,
  parseOrThrow,
  planRelease,
  type Release,
  ReleaseSpec,
  type Service,
  ServiceSpec,
} from '../core/index.js';
import { httpServicePort, inventoryFromCluster } from './cluster-inventory.js';
import type { KubeClient } from './kube-client.js';
import { type Deployment, type KubeObject, type KubeService, RESOURCES } from './kube-object.js';
import { toYaml } from './plan.js';
import { type KubernetesRenderOptions, deploymentFromWorkload, renderReleaseObjects } from './render.js';

export interface RenderKubernetesOptions extends Partial<KubernetesRenderOptions> {
  /** Read the service's Service and Deployments from this cluster when the file does not give them. */
  cluster?: KubeClient;
  /** Render traffic as while the candidate starts (baseline only) instead of the split in force; default false. */
  pending?: boolean;
}

/**
 * `canary render --kubernetes RELEASE.yaml`: every object a release applies, as a YAML stream, for GitOps.
 * The file holds the release (the API's Release shape) and, unless read from the cluster, what it builds on:
 * either the service in the API's shape with kubernetes workloads, or the Kubernetes Service and baseline
 * Deployment manifests themselves (then the candidate is a copy of that Deployment).
 */
export async function renderKubernetes(releaseFile: string, options: RenderKubernetesOptions = {}): Promise<string> {
  const objects = await renderKubernetesObjects(readDocuments(releaseFile), options);
  return objects.map(toYaml).join('---\n');
}

/** The objects for already-parsed documents (see renderKubernetes). */
export async function renderKubernetesObjects(docs: unknown[], options: RenderKubernetesOptions = {}): Promise<KubeObject[]> {
  const namespace = options.namespace ?? options.cluster?.namespace ?? 'default';
  const opts: KubernetesRenderOptions = {
    namespace,
    traffic: options.traffic ?? 'istio',
    ...(options.gateway ? { gateway: options.gateway } : {}),
  };
  // A blueGreen release may have no traffic: "candidate" alone tells a release from a service or a manifest.
  const releases = docs.filter((d) => isMap(d) && 'candidate' in d && !('apiVersion' in d));
  if (releases.length !== 1) {
    throw new InputError(`the file must hold exactly one release (a document with "candidate"), found ${releases.length}`);
  }
  const { kind: _kind, ...releaseDoc } = releases[0] as Record<string, unknown>;
  const spec = parseOrThrow(ReleaseSpec, releaseDoc);
  const deployments = docs.filter((d): d is Deployment => isKube(d, 'Deployment'));
  const kubeServices = docs.filter((d): d is KubeService => isKube(d, 'Service'));
  const serviceDoc = docs.find((d) => isMap(d) && 'versions' in d && !('kind' in d));

  let service: ServiceSpec | undefined;
  if (serviceDoc) service = parseOrThrow(ServiceSpec, serviceDoc, ['service']);
  if (!service && deployments.length === 0 && options.cluster) {
    const c = options.cluster;
    const svc = await c.get<KubeService>(RESOURCES.Service, spec.service, namespace);
    if (svc) kubeServices.push(svc);
    deployments.push(...(await c.list<Deployment>(RESOURCES.Deployment, { namespace, labelSelector: `app=${spec.service}` })).items);
  }
  if (!service) {
    const inventory = inventoryFromCluster(
      kubeServices.length > 0
        ? kubeServices
        : [{ apiVersion: 'v1', kind: 'Service', metadata: { name: spec.service }, spec: { ports: [{ port: 9080 }] } }],
      deployments,
    );
    service = inventory.services.find((s) => s.name === spec.service);
    if (!service) {
      const why = inventory.warnings.length > 0 ? `: ${inventory.warnings.join('; ')}` : '';
      throw new InputError(
        `service: "${spec.service}" is not in the file${options.cluster ? ` nor in namespace ${namespace}` : ''}; add its Service and baseline Deployment manifests, or the service in the API's shape${why}`,
      );
    }
  }
  if (service.name !== spec.service)
    throw new InputError(`service: the release is for "${spec.service}" but the file describes "${service.name}"`);

  const now = new Date().toISOString();
  const stored: Service = { ...service, resourceVersion: '0', createdAt: now, updatedAt: now, createdBy: 'render' };
  const plan = planRelease(spec, stored, undefined, now);
  const meta = { resourceVersion: '0', createdAt: now, updatedAt: now, createdBy: 'render' };
  const planned: Release = { ...spec, baseline: plan.baseline, traffic: plan.traffic, status: plan.status, ...meta };
  // Rendered as in force once the candidate is ready (its preview route first), or as while it starts.
  const release: Release = { ...planned, status: options.pending ? plan.status : markCandidateReady(planned, now) };
  let baselineDeployment = deployments.find(
    (d) => d.spec?.template?.metadata?.labels?.app === spec.service && d.spec.template.metadata.labels.version === plan.baseline,
  );
  if (!baselineDeployment && plan.newVersion) {
    const base = service.versions.find((v) => v.name === plan.baseline)!;
    if (base.workload.kind !== 'kubernetes') {
      throw new InputError(
        `service.versions: the baseline "${plan.baseline}" has a ${base.workload.kind} workload; on Kubernetes it needs kind: kubernetes with an image`,
      );
    }
    baselineDeployment = deploymentFromWorkload(service, plan.baseline, base.workload, namespace);
  }
  // Per-version Services target the same pod port as the Kubernetes Service (its targetPort).
  const kubeService = kubeServices.find((s) => s.metadata.name === spec.service);
  const chosen = kubeService ? httpServicePort(kubeService) : undefined;
  const withPort = chosen && 'port' in chosen && chosen.port.port === service.port ? { ...service, servicePort: chosen.port } : service;
  const rendered = renderReleaseObjects({ service: withPort, release, ...(baselineDeployment ? { baselineDeployment } : {}) }, opts);
  return [...(rendered.candidate ? [rendered.candidate] : []), ...rendered.traffic];
}

function readDocuments(file: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new InputError(
      `${file}: cannot read it: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  const docs = parseAllDocuments(text);
  const out: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new InputError(`${file}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    const v = doc.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isKube(v: unknown, kind: string): boolean {
  return isMap(v) && v.kind === kind && typeof v.apiVersion === 'string';
}
