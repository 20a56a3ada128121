import type { Release, Service } from '../core/index.js';
import type { KubeClient } from './kube-client.js';
import { httpServicePort } from './cluster-inventory.js';
import { type Deployment, type KubeObject, type KubeService, RESOURCES } from './kube-object.js';
import type { PlanAction } from './plan.js';
import {
  type KubernetesRenderOptions,
  type TrafficServiceInput,
  renderFinishedTraffic,
  renderReleaseObjects,
  renderTrafficObjects,
} from './render.js';
import { TrafficApplier } from './traffic-applier.js';

export interface ClusterTrafficOptions extends KubernetesRenderOptions {
  client: KubeClient;
  /** Take over traffic objects Canary Mesh did not create, and fields others changed (--adopt). */
  adopt?: boolean;
  fieldManager?: string;
  /** The Kubernetes Service of a name as the cluster has it now (its port's targetPort is copied). */
  kubeService?: (name: string) => KubeService | undefined;
}

/**
 * Keeps a service's traffic objects on the cluster equal to what its rules say: the control plane calls
 * `sync` after every release change (create, traffic patch, takeover, rollback, resume) and `finish` when a
 * release ends. Candidate Deployments are the KubernetesRuntime's; this only routes.
 */
export class ClusterTraffic {
  private readonly applier: TrafficApplier;

  constructor(private readonly options: ClusterTrafficOptions) {
    this.applier = new TrafficApplier(options.client, options.fieldManager ? { fieldManager: options.fieldManager } : {});
  }

  /** The objects for the rules in force now (the release's, or the service's own when none is active). */
  render(service: Service, release: Release | undefined): KubeObject[] {
    if (!release) return renderTrafficObjects(this.withPort(service), service.routes, this.options);
    return renderReleaseObjects({ service: this.withPort(service), release }, this.options).traffic;
  }

  /** The service with its Kubernetes Service's port entry, so per-version Services target the same pod port. */
  private withPort<S extends TrafficServiceInput>(service: S): S {
    const svc = this.options.kubeService?.(service.name);
    const chosen = svc ? httpServicePort(svc) : undefined;
    return chosen && 'port' in chosen && chosen.port.port === service.port ? { ...service, servicePort: chosen.port } : service;
  }

  /**
   * The dry-run plan of creating `release` (its service as it is now, without the candidate): the candidate's
   * Deployment copied from the baseline's as it runs, and the traffic objects. Reads the cluster, changes nothing.
   */
  async planRelease(service: Service, release: Release): Promise<PlanAction[]> {
    const { items } = await this.options.client.list<Deployment>(RESOURCES.Deployment, {
      namespace: this.options.namespace,
      labelSelector: `app=${service.name},version=${release.baseline}`,
    });
    const baselineDeployment = items.find((d) => d.spec?.template?.metadata?.labels?.version === release.baseline);
    const out = renderReleaseObjects(
      { service: this.withPort(service), release, ...(baselineDeployment ? { baselineDeployment } : {}) },
      this.options,
    );
    return this.applier.plan([...(out.candidate ? [out.candidate] : []), ...out.traffic], { adopt: this.options.adopt ?? false });
  }

  async sync(service: Service, release: Release | undefined, opts: { dryRun?: boolean } = {}): Promise<PlanAction[]> {
    return this.applier.apply(this.render(service, release), { adopt: this.options.adopt ?? false, ...opts });
  }

  /** Every request to `keep`; the retired version's subset (or per-version Service) removed. */
  async finish(service: Service, keep: string, retire: string | null, opts: { dryRun?: boolean } = {}): Promise<PlanAction[]> {
    const { objects, deletes } = this.renderFinish(service, keep, retire);
    return this.applier.apply(objects, { adopt: this.options.adopt ?? false, deletes, ...opts });
  }

  /** The objects of a finish (every request to `keep`) and those it deletes (the retired per-version Service). */
  renderFinish(service: Service, keep: string, retire: string | null): { objects: KubeObject[]; deletes: KubeObject[] } {
    const objects = renderFinishedTraffic(this.withPort(service), keep, retire, this.options);
    const deletes: KubeObject[] =
      (this.options.traffic ?? 'istio') === 'gateway-api' && retire
        ? [{ apiVersion: 'v1', kind: 'Service', metadata: { name: `${service.name}-${retire}`, namespace: this.options.namespace } }]
        : [];
    return { objects, deletes };
  }
}
