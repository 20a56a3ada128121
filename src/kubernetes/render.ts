import {
  type ErrorDetail,
  InputError,
  type KubernetesWorkload,
  type PartialWorkload,
  type Release,
  type Rule,
  type Service,
  effectiveRules,
  singleVersionRules,
} from '../core/index.js';
import { renderIstioObjects } from '../renderers/index.js';
import { type GatewayApiRenderOptions, renderHttpRoute, renderVersionServices } from './gateway-api.js';
import {
  type Container,
  type Deployment,
  FIELD_MANAGER,
  type KubeObject,
  MANAGED_BY,
  RELEASE_LABEL,
  type ServicePort,
  describeObject,
} from './kube-object.js';

/**
 * Release + cluster state -> the Kubernetes objects that realise it: the candidate's Deployment (a clone of
 * the baseline's with the candidate's image, env and args) and the traffic objects (Istio DestinationRule +
 * VirtualService from the shared renderer, or Gateway API per-version Services + HTTPRoute). Pure: no I/O.
 */

export type TrafficMode = 'istio' | 'gateway-api';

export interface KubernetesRenderOptions {
  namespace: string;
  traffic?: TrafficMode;
  /**
   * The Gateway traffic enters through: with gateway-api the HTTPRoute's parent (default: the Service, GAMMA);
   * with istio the VirtualService binds to it as well as to the mesh (default: the mesh only).
   */
  gateway?: GatewayApiRenderOptions['gateway'];
  /** With istio and a gateway: the host names requests carry through it (the VirtualService's further hosts). */
  gatewayHosts?: string[];
}

/** The service shape the traffic renderers read (with the Kubernetes Service's port entry when known). */
export type TrafficServiceInput = Pick<Service, 'name' | 'port' | 'versions'> & { servicePort?: ServicePort };

/** Name of the Deployment a release creates for its candidate, e.g. `reviews-v2`. */
export function candidateDeploymentName(service: string, version: string): string {
  return `${service}-${version}`;
}

/**
 * Problems that keep a Deployment from being told apart as `version` of `service`: its pods must carry
 * app=<service> and version=<version>, and its selector must include the version so that a clone's selector
 * does not take the baseline's pods (or the reverse).
 */
export function deploymentLabelProblems(d: Deployment, service: string): ErrorDetail[] {
  const where = describeObject(d);
  const labels = d.spec?.template?.metadata?.labels ?? {};
  const selector = d.spec?.selector?.matchLabels ?? {};
  const problems: ErrorDetail[] = [];
  const hint = 'Canary Mesh tells versions apart by the pod labels app=<service> and version=<version>, as Istio does';
  if (labels.app !== service) {
    problems.push({
      path: `${where}: spec.template.metadata.labels.app`,
      message:
        labels.app === undefined ? `is missing; set it to "${service}". ${hint}` : `is "${labels.app}", expected "${service}". ${hint}`,
    });
  }
  if (labels.version === undefined)
    problems.push({ path: `${where}: spec.template.metadata.labels.version`, message: `is missing. ${hint}` });
  if (labels.version !== undefined && selector.version !== labels.version) {
    problems.push({
      path: `${where}: spec.selector.matchLabels.version`,
      message: `is missing; without it a copy of this Deployment for another version would select this one's pods`,
    });
  }
  if (!d.spec?.template?.spec?.containers?.length) {
    problems.push({ path: `${where}: spec.template.spec.containers`, message: 'is empty; there is no container to give the new image' });
  }
  return problems;
}

/** The container a candidate's image replaces: the one named after the service, else the first. */
export function mainContainer(containers: Container[], service: string): Container {
  return containers.find((c) => c.name === service) ?? containers[0]!;
}

export interface CloneOptions {
  service: string;
  version: string;
  namespace: string;
  /** The candidate's fields; those it omits are the baseline's. */
  workload?: PartialWorkload;
  release?: string;
}

/**
 * The candidate's Deployment, as KubeSphere makes it: a copy of the baseline's named `<service>-<version>`,
 * labelled version=<version>, with the candidate's image, env (merged by name) and args (replaced).
 * Throws InputError when the baseline lacks the labels that tell versions apart.
 */
export function cloneDeployment(baseline: Deployment, opts: CloneOptions): Deployment {
  const problems = deploymentLabelProblems(baseline, opts.service);
  if (opts.workload?.kind && opts.workload.kind !== 'kubernetes') {
    problems.push({
      path: 'candidate.workload.kind',
      message: `must be "kubernetes" (or omitted) on a cluster, got "${opts.workload.kind}"`,
    });
  }
  if (problems.length > 0) throw InputError.fromDetails(problems);
  const spec = structuredClone(baseline.spec);
  const w = opts.workload ?? {};
  const containers = spec.template.spec.containers;
  const main = mainContainer(containers, opts.service);
  if (w.image) main.image = w.image;
  if (w.args) main.args = [...w.args];
  if (w.env) {
    const env = [...(main.env ?? [])];
    for (const [name, value] of Object.entries(w.env)) {
      const i = env.findIndex((e) => e.name === name);
      if (i >= 0) env[i] = { name, value };
      else env.push({ name, value });
    }
    main.env = env;
  }
  if (w.replicas !== undefined) spec.replicas = w.replicas;
  spec.selector = { ...spec.selector, matchLabels: { ...spec.selector.matchLabels, version: opts.version } };
  spec.template.metadata = { ...spec.template.metadata, labels: { ...spec.template.metadata?.labels, version: opts.version } };
  // The baseline's rollout bookkeeping and its owners' marks do not belong to the copy (see ownershipMark).
  const annotations = Object.fromEntries(
    Object.entries(baseline.metadata.annotations ?? {}).filter(
      ([k]) => k !== 'deployment.kubernetes.io/revision' && k !== 'kubectl.kubernetes.io/last-applied-configuration' && !ownershipMark(k),
    ),
  );
  const helm = /^(helm|tiller)$/i.test(baseline.metadata.labels?.heritage ?? '');
  const labels = Object.fromEntries(
    Object.entries(baseline.metadata.labels ?? {}).filter(([k]) => !ownershipMark(k) && !(helm && (k === 'heritage' || k === 'release'))),
  );
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: candidateDeploymentName(opts.service, opts.version),
      namespace: opts.namespace,
      labels: {
        ...labels,
        app: opts.service,
        version: opts.version,
        [MANAGED_BY]: FIELD_MANAGER,
        ...(opts.release ? { [RELEASE_LABEL]: opts.release } : {}),
      },
      annotations: { ...annotations, [COPIED_FROM_ANNOTATION]: baseline.metadata.name },
    },
    spec,
  };
}

/** Annotation on a candidate Deployment naming the Deployment it was copied from. */
export const COPIED_FROM_ANNOTATION = 'canary-mesh.io/copied-from';

/**
 * Labels and annotations by which GitOps and package tools recognise an object as theirs: on a copy, Argo CD
 * would show the candidate as OutOfSync and prune it, Flux would garbage-collect it, Helm would claim it in
 * its release. Argo CD: `app.kubernetes.io/instance` (its default tracking label), `argocd.argoproj.io/*`
 * (tracking-id, sync options, hooks); Helm: `meta.helm.sh/*`, `helm.sh/chart`, and `app.kubernetes.io/managed-by`
 * (replaced by canary-mesh); Flux: `kustomize.toolkit.fluxcd.io/*`, `helm.toolkit.fluxcd.io/*`. Only the
 * Deployment's own metadata: the pod template keeps its labels, which Services select pods by.
 */
function ownershipMark(key: string): boolean {
  return (
    key === 'app.kubernetes.io/instance' ||
    key === 'helm.sh/chart' ||
    key === 'chart' ||
    key === MANAGED_BY ||
    key.startsWith('argocd.argoproj.io/') ||
    key.startsWith('meta.helm.sh/') ||
    key.startsWith('kustomize.toolkit.fluxcd.io/') ||
    key.startsWith('helm.toolkit.fluxcd.io/')
  );
}

/** A Deployment for a version known only from the model (GitOps rendering without a cluster to copy from). */
export function deploymentFromWorkload(
  service: Pick<Service, 'name' | 'port'>,
  version: string,
  w: KubernetesWorkload,
  namespace: string,
): Deployment {
  const labels = { app: service.name, version };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: candidateDeploymentName(service.name, version), namespace, labels: { ...labels, [MANAGED_BY]: FIELD_MANAGER } },
    spec: {
      replicas: w.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: service.name,
              image: w.image,
              ...(w.args ? { args: [...w.args] } : {}),
              ...(Object.keys(w.env).length > 0 ? { env: Object.entries(w.env).map(([name, value]) => ({ name, value })) } : {}),
              ports: [{ containerPort: service.port }],
            },
          ],
        },
      },
    },
  };
}

/** The objects that route `service` by `rules`: DestinationRule + VirtualService, or per-version Services + HTTPRoute. */
export function renderTrafficObjects(service: TrafficServiceInput, rules: Rule[], opts: KubernetesRenderOptions): KubeObject[] {
  if ((opts.traffic ?? 'istio') === 'gateway-api') {
    return [
      ...renderVersionServices(service, opts),
      renderHttpRoute(service, rules, { namespace: opts.namespace, ...(opts.gateway ? { gateway: opts.gateway } : {}) }),
    ];
  }
  const gateways = opts.gateway ? [`${opts.gateway.namespace ?? opts.namespace}/${opts.gateway.name}`] : [];
  const { destinationRule, virtualService } = renderIstioObjects(service, rules, {
    namespace: opts.namespace,
    ...(gateways.length > 0 ? { gateways, ...(opts.gatewayHosts?.length ? { hosts: opts.gatewayHosts } : {}) } : {}),
  });
  // The DestinationRule first: a VirtualService naming a subset that does not exist yet sends 503s.
  return [destinationRule as unknown as KubeObject, virtualService as unknown as KubeObject];
}

export interface ReleaseRenderInput {
  /** The service as it is now, with the candidate among its versions when it exists already. */
  service: TrafficServiceInput;
  /** Its strategy (default canary) and preview header decide the rules in force, as in the proxy. */
  release: Pick<Release, 'name' | 'baseline' | 'candidate' | 'traffic' | 'status'> & Partial<Pick<Release, 'strategy' | 'preview'>>;
  /** The baseline's Deployment as it runs; required when the release creates its candidate. */
  baselineDeployment?: Deployment;
}

export interface ReleaseObjects {
  /** The candidate's Deployment, when the release creates it. */
  candidate: Deployment | null;
  /** Traffic objects for the rules in force in the release's phase. */
  traffic: KubeObject[];
}

/**
 * Everything a release applies: the candidate's Deployment (when its version does not exist yet) and the
 * traffic objects for the rules in force in its phase (the baseline keeps everything while Pending or Failed).
 */
export function renderReleaseObjects(input: ReleaseRenderInput, opts: KubernetesRenderOptions): ReleaseObjects {
  const { service, release } = input;
  const exists = service.versions.some((v) => v.name === release.candidate.name);
  let candidate: Deployment | null = null;
  if (!exists) {
    if (!input.baselineDeployment) {
      throw new InputError(
        `baseline: no Deployment found for ${service.name} version ${release.baseline} to copy for ${release.candidate.name}`,
      );
    }
    candidate = cloneDeployment(input.baselineDeployment, {
      service: service.name,
      version: release.candidate.name,
      namespace: opts.namespace,
      ...(release.candidate.workload ? { workload: release.candidate.workload } : {}),
      release: release.name,
    });
  }
  const withCandidate: TrafficServiceInput = exists
    ? service
    : {
        ...service,
        versions: [
          ...service.versions,
          { name: release.candidate.name, labels: {}, workload: { kind: 'kubernetes', image: 'candidate', env: {}, replicas: 1 } },
        ],
      };
  const rules = effectiveRules({ versions: withCandidate.versions, routes: [] }, release as Release);
  return { candidate, traffic: renderTrafficObjects(withCandidate, rules, opts) };
}

/** Traffic objects once a release is finished: every request to `keep`, subsets only for the versions that remain. */
export function renderFinishedTraffic(
  service: TrafficServiceInput,
  keep: string,
  retire: string | null,
  opts: KubernetesRenderOptions,
): KubeObject[] {
  const remaining = { ...service, versions: service.versions.filter((v) => v.name !== retire) };
  return renderTrafficObjects(remaining, singleVersionRules(keep), opts);
}
