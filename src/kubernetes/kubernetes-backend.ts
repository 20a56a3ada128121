import { type ClusterInventory, inventoryFromCluster } from './cluster-inventory.js';
import { ClusterTraffic } from './cluster-traffic.js';
import { JaegerTraces } from './jaeger-traces.js';
import { KubeApiError, type KubeConfigSource, KubeClient } from './kube-client.js';
import { KubeInformer } from './kube-informer.js';
import { type KubeService, RESOURCES } from './kube-object.js';
import { KubernetesRuntime } from './kubernetes-runtime.js';
import { PrometheusTelemetry } from './prometheus-telemetry.js';
import type { TrafficMode } from './render.js';

/** What `canary up --kubernetes` takes; each field is the flag of the same name. */
export interface KubernetesBackendOptions extends KubeConfigSource {
  /** istio (VirtualService + DestinationRule, default) or gateway-api (HTTPRoute). */
  traffic?: TrafficMode;
  /** Take over objects Canary Mesh did not create, and delete retired Deployments it did not create. */
  adopt?: boolean;
  prometheus?: string;
  /** Jaeger query URL (Tempo through its Jaeger-compatible frontend). */
  tracing?: string;
  /**
   * The Gateway traffic enters through, `namespace/name`: Gateway API routes attach to it (default: GAMMA, the
   * route's parent is the Service); Istio VirtualServices bind to it besides the mesh (default: the mesh only).
   */
  gateway?: string;
  /** With istio and a gateway: host names requests carry through the gateway (e.g. bookinfo.example.com). */
  gatewayHosts?: string[];
  rolloutDeadlineMs?: number;
  /** An existing client (tests: one pointed at the fake API server). */
  client?: KubeClient;
  log?: { info(msg: string): void; warn(msg: string): void };
}

/**
 * The cluster side of the control plane, in one object for the wiring of `canary up --kubernetes`:
 * the workload runtime (Deployments), the traffic objects (ClusterTraffic), the services and versions as
 * the cluster has them (kept current by watches), and, when configured, metrics and traces.
 */
export class KubernetesBackend {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly runtime: KubernetesRuntime;
  readonly traffic: ClusterTraffic;
  readonly telemetry: PrometheusTelemetry | null;
  readonly traces: JaegerTraces | null;
  private readonly services: KubeInformer<KubeService>;
  private readonly listeners: ((inventory: ClusterInventory) => void)[] = [];

  private constructor(client: KubeClient, options: KubernetesBackendOptions) {
    this.client = client;
    this.namespace = options.namespace ?? client.namespace;
    this.runtime = new KubernetesRuntime({
      client,
      namespace: this.namespace,
      retireForeign: options.adopt ?? false,
      ...(options.rolloutDeadlineMs !== undefined ? { rolloutDeadlineMs: options.rolloutDeadlineMs } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    const gateway = parseGateway(options.gateway);
    this.traffic = new ClusterTraffic({
      client,
      namespace: this.namespace,
      traffic: options.traffic ?? 'istio',
      adopt: options.adopt ?? false,
      ...(gateway ? { gateway } : {}),
      ...(options.gatewayHosts?.length ? { gatewayHosts: options.gatewayHosts } : {}),
      kubeService: (name) => this.services.get(name),
    });
    this.telemetry = options.prometheus ? new PrometheusTelemetry({ url: options.prometheus, namespace: this.namespace }) : null;
    this.traces = options.tracing ? new JaegerTraces({ url: options.tracing, namespace: this.namespace }) : null;
    this.services = new KubeInformer<KubeService>(client, RESOURCES.Service, { namespace: this.namespace });
    const changed = () => {
      const inv = this.inventory();
      for (const l of this.listeners) l(inv);
    };
    this.services.onChange(changed);
    this.runtime.deployments.onChange(changed);
  }

  /** Connects (kubeconfig, or the pod's service account) and lists what the namespace runs. */
  static async connect(options: KubernetesBackendOptions = {}): Promise<KubernetesBackend> {
    const client = options.client ?? (await KubeClient.fromKubeConfig(options));
    const backend = new KubernetesBackend(client, options);
    try {
      await Promise.all([backend.services.start(), backend.runtime.start()]);
    } catch (err) {
      await backend.close();
      // deploy/base's Role is namespaced: a control plane pointed at another namespace is refused there.
      const hint =
        err instanceof KubeApiError && err.status === 403
          ? `. The Role in deploy/base grants access to the namespace it is applied in only: to manage namespace ${backend.namespace}, ` +
            `apply that Role there and bind it to this service account (docs/kubernetes.md, "Another namespace")`
          : '';
      throw new Error(`cannot read namespace ${backend.namespace} on ${client.server}: ${(err as Error).message}${hint}`);
    }
    return backend;
  }

  /** Services and versions as the cluster runs them now. */
  inventory(): ClusterInventory {
    return inventoryFromCluster(this.services.items(), this.runtime.deployments.items());
  }

  /** Called whenever a Service or Deployment of the namespace changes. */
  onInventoryChange(listener: (inventory: ClusterInventory) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    await Promise.all([this.services.stop(), this.runtime.stopAll()]);
  }
}

function parseGateway(text: string | undefined): { name: string; namespace?: string } | undefined {
  if (!text) return undefined;
  const [a, b] = text.split('/');
  return b === undefined ? { name: a! } : { namespace: a!, name: b };
}
