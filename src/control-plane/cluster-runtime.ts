import type { Endpoint, OutboundListener, Release, Service } from '../core/index.js';
import {
  type Deployment,
  FIELD_MANAGER,
  type KubernetesBackend,
  MANAGED_BY,
  type PlanAction,
  type TrafficMode,
  TrafficApplier,
  describeObject,
  formatPlan,
} from '../kubernetes/index.js';
import type { SqliteStore } from '../store/index.js';
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
 * The workload runtime of cluster mode: the KubernetesRuntime (versions are Deployments), with what the
 * control plane adds. Before workloads change (a candidate created, a retired version's Deployment
 * deleted) the traffic objects are brought up to date first, so a Deployment is only deleted once no route
 * sends it requests. It plans release and route changes against the cluster (`?dryRun=true`, and the
 * ownership check made before anything is written). And when a version is retired but its Deployment is left
 * running (Canary Mesh did not create it, no --adopt), it remembers that in the store, so the cluster import
 * does not bring the version back, not even after a restart.
 */
export class ClusterRuntime implements WorkloadRuntime, ChangePlanner {
  private readonly backend: KubernetesBackend;
  private readonly applier: TrafficApplier;
  private sync: ClusterSync | null = null;
  private store: SqliteStore | null = null;
  /** The versions of the last reconcile (`service/version`), to see which ones are retired by the next. */
  private lastDesired: Map<string, DesiredVersion> | null = null;
  /** Versions of services that left the cluster: still given to the runtime so it deletes none of their Deployments. */
  private readonly leftAlone = new Map<string, DesiredVersion>();

  constructor(private readonly options: ClusterRuntimeOptions) {
    this.backend = options.backend;
    this.applier = new TrafficApplier(options.backend.client);
  }

  /** The traffic sync, once the control plane (and so the store and route table) exists. */
  bindSync(sync: ClusterSync): void {
    this.sync = sync;
  }

  /** The store, where retired versions left running are remembered. */
  bindStore(store: SqliteStore): void {
    this.store = store;
  }

  async reconcile(desired: DesiredVersion[]): Promise<void> {
    if (this.sync) await this.sync.settle();
    const now = new Map(desired.map((d) => [`${d.service}/${d.version.name}`, d]));
    const before = this.lastDesired;
    this.lastDesired = now;
    const inCluster = new Set(this.backend.inventory().services.map((s) => s.name));
    const inStore = new Set(desired.map((d) => d.service));
    for (const [k, d] of before ?? []) {
      if (now.has(k)) continue;
      // The service is gone from the store because it left the cluster (its Kubernetes Service was deleted):
      // its versions are not retired, and their Deployments are left as they are.
      if (!inCluster.has(d.service) && !inStore.has(d.service)) this.leftAlone.set(k, d);
      else this.rememberRetired(d);
    }
    for (const [k, d] of this.leftAlone) {
      if (now.has(k) || !this.backend.runtime.deploymentOf(d.service, d.version.name)) this.leftAlone.delete(k);
    }
    const store = this.store;
    if (store) {
      for (const r of store.listRetiredVersions())
        if (now.has(`${r.service}/${r.version}`)) store.forgetRetiredVersion(r.service, r.version);
    }
    await this.backend.runtime.reconcile([...desired, ...this.leftAlone.values()]);
  }

  /**
   * A version the store dropped whose Deployment the runtime leaves running (Canary Mesh did not create it and
   * there is no --adopt) is remembered with the Deployment's uid, so the cluster import does not bring it back.
   */
  private rememberRetired(d: DesiredVersion): void {
    const store = this.store;
    if (!store || this.options.adopt) return; // with --adopt the runtime deletes what it retires
    const deployment = this.backend.runtime.deploymentOf(d.service, d.version.name);
    if (!deployment?.metadata.uid || deployment.metadata.labels?.[MANAGED_BY] === FIELD_MANAGER) return;
    store.rememberRetiredVersion({
      service: d.service,
      version: d.version.name,
      deployment: deployment.metadata.name,
      uid: deployment.metadata.uid,
    });
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

  async planRoutes(service: Service): Promise<ChangePlan> {
    // A service never routed by Canary Mesh and given no rules stays untouched (see ClusterSync).
    if (service.routes.length === 0 && !this.sync?.touches(service.name)) return { steps: [], text: '' };
    return planOf(await this.applier.plan(this.backend.traffic.render(service, undefined), { adopt: this.options.adopt ?? false }));
  }

  serviceDeleteProblem(name: string): string | null {
    const spec = this.backend.inventory().services.find((s) => s.name === name);
    if (!spec) return null;
    const ns = this.backend.namespace;
    const deployments = spec.versions
      .map((v) => this.backend.runtime.deploymentOf(name, v.name)?.metadata.name)
      .filter((n): n is string => n !== undefined);
    return (
      `service "${name}" runs in the cluster (Service ${ns}/${name}, Deployments ${deployments.join(', ')}) and Canary Mesh ` +
      'follows the cluster: deleting it here would remove nothing there, and it would come back. Delete the Kubernetes ' +
      `Service (kubectl delete service ${name} -n ${ns}); Canary Mesh then removes "${name}" from its store`
    );
  }

  async planFinish(service: Service, release: Release, keep: string): Promise<ChangePlan> {
    const retire = keep === release.baseline ? release.candidate.name : release.baseline;
    // Rendered as the finish itself renders it (ports, gateways), so the plan shows what would be written.
    const { objects, deletes } = this.backend.traffic.renderFinish(service, keep, retire);
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
