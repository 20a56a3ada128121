import type { Endpoint, KubernetesWorkload, OutboundListener } from '../core/index.js';
import type { DesiredVersion, InstanceStatus, LogLine, VersionHealth, WorkloadRuntime } from '../workloads/workload-runtime.js';
import type { KubeClient } from './kube-client.js';
import { KubeInformer } from './kube-informer.js';
import { type Deployment, FIELD_MANAGER, MANAGED_BY, type Pod, RESOURCES, describeObject } from './kube-object.js';
import { candidateDeploymentName, cloneDeployment, deploymentLabelProblems, mainContainer } from './render.js';

export interface KubernetesRuntimeOptions {
  client: KubeClient;
  namespace?: string;
  /** How long a Deployment this runtime created may take to roll out before its version is failed; default 300 s. */
  rolloutDeadlineMs?: number;
  /** Delete Deployments Canary Mesh did not create when their version is retired (--adopt); default false. */
  retireForeign?: boolean;
  fieldManager?: string;
  log?: { info(msg: string): void; warn(msg: string): void };
}

interface Tracked {
  service: string;
  version: string;
  /** Name of the Deployment running it (found by labels, or the one created). */
  deployment: string | null;
  createdAt: number | null;
  /** Why it could not be created, when it could not. */
  error: string;
}

const key = (service: string, version: string) => `${service}/${version}`;

/**
 * Versions as Deployments: a version runs as the Deployment whose pods carry app=<service>, version=<version>.
 * A desired version without one gets a copy of a sibling version's Deployment with its image, env and args
 * (server-side applied as "canary-mesh"); it is ready once rolled out and failed, with the pods' reasons,
 * when not ready within the deadline. Deployments and pods are watched, so health and endpoints stay current.
 * It never deletes a Deployment it did not create unless told to (retireForeign); stopAll stops watching only:
 * the cluster keeps running when the control plane stops.
 */
export class KubernetesRuntime implements WorkloadRuntime {
  readonly deployments: KubeInformer<Deployment>;
  readonly pods: KubeInformer<Pod>;
  private readonly client: KubeClient;
  private readonly namespace: string;
  private readonly deadlineMs: number;
  private readonly retireForeign: boolean;
  private readonly fieldManager: string;
  private readonly log: NonNullable<KubernetesRuntimeOptions['log']>;
  private readonly tracked = new Map<string, Tracked>();
  private readonly listenersOfChange: (() => void)[] = [];
  private started: Promise<void> | null = null;

  constructor(options: KubernetesRuntimeOptions) {
    this.client = options.client;
    this.namespace = options.namespace ?? options.client.namespace;
    this.deadlineMs = options.rolloutDeadlineMs ?? 300_000;
    this.retireForeign = options.retireForeign ?? false;
    this.fieldManager = options.fieldManager ?? FIELD_MANAGER;
    this.log = options.log ?? { info: () => {}, warn: () => {} };
    // Only objects of some app: the selector "app" asks for the label's presence.
    this.deployments = new KubeInformer<Deployment>(this.client, RESOURCES.Deployment, { namespace: this.namespace });
    this.pods = new KubeInformer<Pod>(this.client, RESOURCES.Pod, { namespace: this.namespace, labelSelector: 'app' });
    const changed = () => this.emit();
    this.deployments.onChange(changed);
    this.pods.onChange(changed);
  }

  /** Lists and starts watching; the first reconcile does this by itself. */
  start(): Promise<void> {
    this.started ??= Promise.all([this.deployments.start(), this.pods.start()]).then(() => undefined);
    return this.started;
  }

  async reconcile(desired: DesiredVersion[]): Promise<void> {
    await this.start();
    const wanted = desired.filter((d) => d.version.workload.kind === 'kubernetes');
    const wantedKeys = new Set(wanted.map((d) => key(d.service, d.version.name)));
    for (const d of wanted) {
      const k = key(d.service, d.version.name);
      const existing = this.deploymentOf(d.service, d.version.name);
      const t = this.tracked.get(k) ?? { service: d.service, version: d.version.name, deployment: null, createdAt: null, error: '' };
      this.tracked.set(k, t);
      if (existing) {
        t.deployment = existing.metadata.name;
        t.error = '';
        continue;
      }
      await this.create(t, d.version.workload as KubernetesWorkload, wanted);
    }
    for (const [k, t] of this.tracked) {
      if (wantedKeys.has(k)) continue;
      this.tracked.delete(k);
      const d = this.deploymentOf(t.service, t.version);
      if (!d) continue;
      const ours = d.metadata.labels?.[MANAGED_BY] === FIELD_MANAGER;
      if (!ours && !this.retireForeign) {
        this.log.warn(
          `${describeObject(d)} runs retired version ${t.version} but Canary Mesh did not create it; left running (use --adopt to delete it)`,
        );
        continue;
      }
      this.log.info(`deleting ${describeObject(d)}: version ${t.version} is retired`);
      await this.client.delete(RESOURCES.Deployment, d.metadata.name, this.namespace);
    }
    this.emit();
  }

  endpoints(service: string, version: string): Endpoint[] {
    const d = this.deploymentOf(service, version);
    const port = d ? (mainContainer(d.spec.template.spec.containers, service).ports?.[0]?.containerPort ?? 80) : 80;
    return this.podsOf(service, version)
      .filter((p) => p.status?.podIP)
      .map((p) => ({ address: `${p.status!.podIP}:${port}`, instance: p.metadata.name, ready: isPodReady(p) }));
  }

  listeners(): OutboundListener[] {
    return []; // pods reach each other through the mesh (Envoy), not through our listeners
  }

  instances(service: string, version: string): InstanceStatus[] {
    return this.podsOf(service, version).map((p) => {
      const ready = isPodReady(p);
      const restarts = (p.status?.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0);
      return {
        name: p.metadata.name,
        address: p.status?.podIP ?? '',
        pid: null,
        ready,
        restarts,
        state: ready ? 'ready' : p.metadata.deletionTimestamp ? 'stopping' : p.status?.phase === 'Failed' ? 'exited' : 'starting',
        startedAt: p.status?.startTime ?? null,
        outboundPort: null,
      };
    });
  }

  health(service: string, version: string): VersionHealth {
    const t = this.tracked.get(key(service, version));
    if (t?.error) return { ready: false, failed: true, reason: t.error };
    const d = this.deploymentOf(service, version);
    if (!d)
      return {
        ready: false,
        failed: false,
        reason: `no Deployment in namespace ${this.namespace} has pods labelled app=${service}, version=${version}`,
      };
    const want = d.spec.replicas ?? 1;
    const s = d.status ?? {};
    const pods = this.podProblems(service, version);
    if (want === 0) {
      // Nothing can serve: a version scaled to zero is not ready (traffic sent to it would get 503s).
      return { ready: false, failed: false, reason: `${describeObject(d)} is scaled to 0 replicas; no pod can serve it` };
    }
    // The status describes an older spec until the controller has seen this generation: none of it counts yet,
    // neither "rolled out" nor a ProgressDeadlineExceeded left over from the previous rollout.
    const observed = (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 1);
    if (!observed) {
      return this.pendingOrLate(d, t, `waiting for the Deployment controller to see generation ${d.metadata.generation ?? 1}`, pods);
    }
    const updated = s.updatedReplicas ?? 0;
    const available = s.availableReplicas ?? 0;
    const total = s.replicas ?? 0;
    // As `kubectl rollout status`: all replicas updated, none of the old ones left (terminating), all available.
    if (updated >= want && total <= updated && available >= updated) {
      return { ready: true, failed: false, reason: `${available} of ${want} replicas available` };
    }
    const stuck = s.conditions?.find((c) => c.type === 'Progressing' && c.status === 'False');
    if (stuck)
      return {
        ready: false,
        failed: true,
        reason: `${describeObject(d)}: ${stuck.reason ?? 'not progressing'}${stuck.message ? `: ${stuck.message}` : ''}${pods}`,
      };
    // Pods that cannot even be created (quota, PodSecurity admission) never show up as pods: say why now.
    const replicaFailure = s.conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
    const failure = replicaFailure ? `; ${replicaFailure.reason ?? 'ReplicaFailure'}: ${replicaFailure.message ?? ''}` : '';
    const progress =
      total > updated
        ? `${updated} of ${want} replicas updated, ${total - updated} old replicas pending termination`
        : `${s.readyReplicas ?? 0} of ${want} replicas ready`;
    return this.pendingOrLate(d, t, `rolling out: ${progress}`, `${failure}${pods}`);
  }

  /**
   * Not ready yet: failed once the rollout deadline has passed since the Deployment was created, if Canary Mesh
   * created it. The time comes from the object (metadata.creationTimestamp), not from memory, so a candidate
   * still times out after the control plane restarted.
   */
  private pendingOrLate(d: Deployment, t: Tracked | undefined, reason: string, detail: string): VersionHealth {
    const ours = d.metadata.labels?.[MANAGED_BY] === FIELD_MANAGER;
    const created = ours && d.metadata.creationTimestamp ? Date.parse(d.metadata.creationTimestamp) : (t?.createdAt ?? null);
    if (created !== null && !Number.isNaN(created) && Date.now() - created > this.deadlineMs) {
      const s = d.status ?? {};
      return {
        ready: false,
        failed: true,
        reason: `${describeObject(d)} not ready within ${duration(this.deadlineMs)} (${s.readyReplicas ?? 0} of ${d.spec.replicas ?? 1} ready)${detail}`,
      };
    }
    return { ready: false, failed: false, reason: `${reason}${detail}` };
  }

  logs(_service: string, _version: string, _opts?: { tail?: number; instance?: string }): LogLine[] {
    return []; // pod logs are the cluster's: kubectl logs -l app=<service>,version=<version>
  }

  onChange(listener: () => void): void {
    this.listenersOfChange.push(listener);
  }

  async stopAll(): Promise<void> {
    await Promise.all([this.deployments.stop(), this.pods.stop()]);
  }

  /** The Deployment whose pods are `service` at `version` (by pod template labels). */
  deploymentOf(service: string, version: string): Deployment | undefined {
    return this.deployments.items().find((d) => {
      const l = d.spec?.template?.metadata?.labels ?? {};
      return l.app === service && l.version === version && !d.metadata.deletionTimestamp;
    });
  }

  private podsOf(service: string, version: string): Pod[] {
    return this.pods.items().filter((p) => p.metadata.labels?.app === service && p.metadata.labels?.version === version);
  }

  /** `; pod x: ImagePullBackOff: ...` for the pods that are not ready, so a failure says why. */
  private podProblems(service: string, version: string): string {
    const out: string[] = [];
    for (const p of this.podsOf(service, version)) {
      if (isPodReady(p)) continue;
      for (const c of p.status?.containerStatuses ?? []) {
        const waiting = c.state?.waiting ?? c.state?.terminated;
        if (waiting?.reason) out.push(`pod ${p.metadata.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`);
      }
    }
    return out.length > 0 ? `; ${out.slice(0, 3).join('; ')}` : '';
  }

  private async create(t: Tracked, workload: KubernetesWorkload, wanted: DesiredVersion[]): Promise<void> {
    // A sibling version of the same service that runs: prefer one Canary Mesh did not create (the original).
    const siblings = wanted
      .filter((w) => w.service === t.service && w.version.name !== t.version)
      .map((w) => this.deploymentOf(w.service, w.version.name))
      .filter((d): d is Deployment => d !== undefined)
      .sort(
        (a, b) => Number(a.metadata.labels?.[MANAGED_BY] === FIELD_MANAGER) - Number(b.metadata.labels?.[MANAGED_BY] === FIELD_MANAGER),
      );
    const base =
      siblings[0] ??
      this.deployments
        .items()
        .find((d) => d.spec?.template?.metadata?.labels?.app === t.service && deploymentLabelProblems(d, t.service).length === 0);
    if (!base) {
      const anyOfApp = this.deployments.items().find((d) => d.spec?.template?.metadata?.labels?.app === t.service);
      t.error = anyOfApp
        ? `cannot copy ${describeObject(anyOfApp)} for ${t.version}: ${deploymentLabelProblems(anyOfApp, t.service)
            .map((p) => `${p.path.split(': ')[1]} ${p.message}`)
            .join('; ')}`
        : `no Deployment in namespace ${this.namespace} runs service ${t.service} (pods labelled app=${t.service}, version=<v>) to copy for ${t.version}`;
      return;
    }
    try {
      const clone = cloneDeployment(base, {
        service: t.service,
        version: t.version,
        namespace: this.namespace,
        workload: {
          image: workload.image,
          env: workload.env,
          replicas: workload.replicas,
          ...(workload.args ? { args: workload.args } : {}),
        },
      });
      const created = await this.client.apply(clone, { fieldManager: this.fieldManager });
      t.deployment = created.metadata.name;
      t.createdAt = Date.now();
      t.error = '';
      this.log.info(`created ${describeObject(created)} from ${describeObject(base)} with image ${workload.image}`);
    } catch (err) {
      t.error = `cannot create Deployment ${candidateDeploymentName(t.service, t.version)}: ${(err as Error).message}`;
    }
  }

  private emit(): void {
    for (const l of this.listenersOfChange) {
      try {
        l();
      } catch {
        // a listener's failure is its own business
      }
    }
  }
}

function duration(ms: number): string {
  return ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

function isPodReady(p: Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}
