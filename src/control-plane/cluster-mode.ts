import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { KubernetesBackend, type KubernetesBackendOptions } from '../kubernetes/index.js';
import { ClusterInventorySync } from './cluster-inventory-sync.js';
import { ClusterRuntime } from './cluster-runtime.js';
import { ClusterSync } from './cluster-sync.js';
import { ClusterTelemetry } from './cluster-telemetry.js';
import { PrometheusAnalysisMetrics } from './analysis-metrics.js';
import { type ControlPlane, createControlPlane } from './create-control-plane.js';
import type { RunningUp } from './up.js';
import { stopOnSignal } from './stop-on-signal.js';

/**
 * `canary up --kubernetes`: the same control plane, API and console, against a cluster. Services and
 * versions come from the namespace (kept current by watches), a release's candidate is a copy of the
 * baseline's Deployment, and every change of the route table is applied as the Istio VirtualService +
 * DestinationRule (or Gateway API HTTPRoute) of the service. No local proxy and no local workloads: Envoy
 * is the data plane.
 */
export interface ClusterControlPlaneOptions {
  /** A connected backend (see `KubernetesBackend.connect`); stopping closes it. */
  backend: KubernetesBackend;
  dataDir: string;
  host: string;
  port: number;
  traffic?: KubernetesBackendOptions['traffic'];
  adopt?: boolean;
  gateway?: string;
  adminToken?: string;
  /** Host names the API answers to besides loopback and the bound address (`--allowed-hosts`). */
  allowedHosts?: string[];
  /** Finishing waits this long between routing to the kept version and deleting the other (default: control-plane-config.ts). */
  drainGraceMs?: number;
  consoleDir?: string;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logStream?: NodeJS.WritableStream;
  log?: (line: string) => void;
}

export interface RunningCluster extends RunningUp {
  controlPlane: ControlPlane;
  backend: KubernetesBackend;
  /** Resolves once the store has the cluster's latest inventory and the cluster the store's traffic. */
  settle(): Promise<void>;
}

export async function startClusterControlPlane(opts: ClusterControlPlaneOptions): Promise<RunningCluster> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const { backend } = opts;
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const runtime = new ClusterRuntime({
    backend,
    ...(opts.traffic ? { traffic: opts.traffic } : {}),
    ...(opts.adopt !== undefined ? { adopt: opts.adopt } : {}),
    ...(opts.gateway ? { gateway: opts.gateway } : {}),
  });
  // Envoy reports to Prometheus and Jaeger (when given); the proxies' telemetry endpoint stays but sees nothing.
  let warn: (m: string) => void = (m) => log(`warning: ${m}`);
  const external = new ClusterTelemetry({ prometheus: backend.telemetry, traces: backend.traces, log: { warn: (m) => warn(m) } });
  const cp = await createControlPlane({
    dataDir,
    runtime,
    telemetry: { external },
    ...(backend.telemetry
      ? { analysis: { metrics: new PrometheusAnalysisMetrics({ url: backend.telemetry.url, namespace: backend.namespace }) } }
      : {}),
    logLevel: opts.logLevel ?? 'warn',
    ...(opts.logStream ? { logStream: opts.logStream } : {}),
    ...(opts.adminToken !== undefined ? { adminToken: opts.adminToken } : {}),
    ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}),
    ...(opts.drainGraceMs !== undefined ? { drainGraceMs: opts.drainGraceMs } : {}),
    ...(opts.consoleDir !== undefined ? { consoleDir: opts.consoleDir } : {}),
  });
  const appLog = { info: (m: string) => cp.app.log.info(m), warn: (m: string) => cp.app.log.warn(m) };
  warn = appLog.warn;
  const sync = new ClusterSync({ store: cp.store, feed: cp.feed, traffic: backend.traffic, log: appLog });
  const inventory = new ClusterInventorySync({ backend, store: cp.store, services: cp.services, log: appLog });
  const stopParts = async () => {
    inventory.close();
    sync.close();
    await cp.close();
    await backend.close();
  };
  let url: string;
  try {
    runtime.bindSync(sync);
    runtime.bindStore(cp.store);
    await inventory.start();
    await sync.start();
    url = await cp.app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    await stopParts();
    throw err;
  }
  const services = cp.store.listServices();
  log(`control plane and console: ${url}`);
  log(
    `cluster: namespace ${backend.namespace} on ${backend.client.server}; ${services.length} services (${services.map((s) => s.name).join(', ')})`,
  );
  if (backend.telemetry) log('observed shares and topology: from Prometheus');
  if (backend.traces) log('traces: from Jaeger');
  log(
    cp.adminTokenFile
      ? `admin token: ${cp.adminTokenFile} (the console asks for it; the CLI reads it from there)`
      : 'admin token: from CANARY_ADMIN_TOKEN or the adminToken option',
  );

  let stopping: Promise<void> | null = null;
  return {
    url,
    ingressUrl: '', // the cluster's ingress gateway serves; no local proxy
    tokenFile: cp.adminTokenFile,
    controlPlane: cp,
    backend,
    async settle() {
      await inventory.settle();
      await sync.settle();
    },
    stop() {
      stopping ??= stopParts();
      return stopping;
    },
  };
}

export interface ClusterUpOptions extends Omit<KubernetesBackendOptions, 'log'> {
  dataDir: string;
  host: string;
  port: number;
  allowedHosts?: string[];
  /** Finishing a release waits this long before retiring the other version (default: control-plane-config.ts). */
  drainGraceMs?: number;
  log?: (line: string) => void;
}

/** Connects to the cluster (kubeconfig or in-cluster service account) and starts the control plane on it. */
export async function startClusterUp(opts: ClusterUpOptions): Promise<RunningCluster> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const backend = await KubernetesBackend.connect({
    ...opts,
    log: { info: (m) => log(m), warn: (m) => log(`warning: ${m}`) },
  });
  return startClusterControlPlane({
    backend,
    dataDir: opts.dataDir,
    host: opts.host,
    port: opts.port,
    ...(opts.traffic ? { traffic: opts.traffic } : {}),
    ...(opts.adopt !== undefined ? { adopt: opts.adopt } : {}),
    ...(opts.gateway ? { gateway: opts.gateway } : {}),
    ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}),
    ...(opts.drainGraceMs !== undefined ? { drainGraceMs: opts.drainGraceMs } : {}),
    log,
  });
}

/** Runs until a signal; the CLI's `canary up --kubernetes`. The cluster keeps running what it runs. */
export async function runClusterUp(opts: ClusterUpOptions): Promise<void> {
  const up = await startClusterUp(opts);
  stopOnSignal(() => up.stop(), 'stopping the control plane (the cluster keeps its workloads and routing)');
}
