import type { Endpoint, OutboundListener, Release, Service } from '../core/index.js';
import {
  type Deployment,
  type KubeObject,
  type KubernetesBackend,
  type PlanAction,
  type TrafficMode,
  TrafficApplier,
  describeObject,
  formatPlan,
  renderFinishedTraffic,
} from '../kubernetes/index.js';
import type { DesiredVersion, InstanceStatus, LogLine, VersionHealth, WorkloadRuntime } from '../workloads/workload-runtime.js';
import type { ChangePlan, ChangePlanner } from './change-planner.js';
import type { ClusterSync } from './cluster-sync.js';

export interface ClusterRuntimeOptions {
  backend: KubernetesBackend;
  traffic?: TrafficMode;
  /** --adopt: objects Canary Mesh did not create are taken over (and retired Deployments deleted). */
  adopt?: boolean;
  /** --gateway for Gateway API routes, `namespace/name`. */
  gateway?: string;
}

/**
 * The workload runtime of cluster mode: the KubernetesRuntime (versions are Deployments), with two additions
 * the control plane uses. Before workloads change (a candidate created, a retired version's Deployment
 * deleted) the traffic objects are brought up to date first, so a Deployment is only deleted once no route
 * sends it requests. And it plans release changes against the cluster (`?dryRun=true`, and the ownership
 * check made before anything is written).
 */
export class ClusterRuntime implements WorkloadRuntime, ChangePlanner {
  private readonly backend: KubernetesBackend;
  private readonly applier: TrafficApplier;
  private sync: ClusterSync | null = null;

  constructor(private readonly options: ClusterRuntimeOptions) {
    this.backend = options.backend;
    this.applier = new TrafficApplier(options.backend.client);
  }

  /** The traffic sync, once the control plane (and so the store and route table) exists. */
  bindSync(sync: ClusterSync): void {
    this.sync = sync;
  }

  async reconcile(desired: DesiredVersion[]): Promise<void> {
    if (this.sync) await this.sync.settle();
    await this.backend.runtime.reconcile(desired);
  }

  endpoints(service: string, version: string): Endpoint[] {
    return this.backend.runtime.endpoints(service, version);
  }

  listeners(): OutboundListener[] {
    return [];
  }

  instances(service: string, version: string): InstanceStatus[] {
    return this.backend.runtime.instances(service, version);
  }

  health(service: string, version: string): VersionHealth {
    return this.backend.runtime.health(service, version);
  }

  logs(service: string, version: string, opts?: { tail?: number; instance?: string }): LogLine[] {
    return this.backend.runtime.logs(service, version, opts);
  }

  onChange(listener: () => void): void {
    this.backend.runtime.onChange(listener);
  }

  /** Stops watching; the cluster keeps running what it runs. */
  async stopAll(): Promise<void> {
    await this.backend.runtime.stopAll();
  }

  async settle(): Promise<void> {
    await this.sync?.settle();
  }

  async planCreate(service: Service, release: Release): Promise<ChangePlan> {
    return planOf(await this.backend.traffic.planRelease(service, release));
  }

  async planSync(service: Service, release: Release): Promise<ChangePlan> {
    return planOf(await this.applier.plan(this.backend.traffic.render(service, release), { adopt: this.options.adopt ?? false }));
  }

  async planFinish(service: Service, release: Release, keep: string): Promise<ChangePlan> {
    const retire = keep === release.baseline ? release.candidate.name : release.baseline;
    const namespace = this.backend.namespace;
    const mode = this.options.traffic ?? 'istio';
    const gateway = parseGateway(this.options.gateway);
    const objects = renderFinishedTraffic(service, keep, retire, { namespace, traffic: mode, ...(gateway ? { gateway } : {}) });
    const deletes: KubeObject[] =
      mode === 'gateway-api' ? [{ apiVersion: 'v1', kind: 'Service', metadata: { name: `${service.name}-${retire}`, namespace } }] : [];
    const deployment = this.backend.runtime.deploymentOf(service.name, retire);
    if (deployment) deletes.push(deployment);
    const actions = await this.applier.plan(objects, { adopt: this.options.adopt ?? false, deletes });
    // The runtime leaves a Deployment it did not create running (with a warning) rather than refusing the finish.
    return planOf(actions.map((a) => (a.action === 'refuse' && a.object.kind === 'Deployment' ? leftRunning(a.object as Deployment) : a)));
  }
}

function leftRunning(d: Deployment): PlanAction {
  return {
    action: 'unchanged',
    object: d,
    changes: [],
    reason: `${describeObject(d)} was not created by Canary Mesh; it is left running (start with --adopt to delete it)`,
  };
}

function planOf(actions: PlanAction[]): ChangePlan {
  return {
    steps: actions.map((a) => ({
      action: a.action,
      kind: a.object.kind,
      name: a.object.metadata.name,
      ...(a.object.metadata.namespace ? { namespace: a.object.metadata.namespace } : {}),
      changes: a.changes,
      ...(a.reason ? { reason: a.reason } : {}),
      object: a.object as unknown as Record<string, unknown>,
    })),
    text: formatPlan(actions),
  };
}

function parseGateway(text: string | undefined): { name: string; namespace?: string } | undefined {
  if (!text) return undefined;
  const [a, b] = text.split('/');
  return b === undefined ? { name: a! } : { namespace: a!, name: b };
}
