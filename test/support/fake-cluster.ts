import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type RunningCluster, startClusterControlPlane } from '../../src/control-plane/cluster-mode.js';
import { KubeClient, type KubeObject, KubernetesBackend } from '../../src/kubernetes/index.js';
import { reviewsService, reviewsV1Deployment } from './kubernetes/bookinfo-objects.js';
import { controlPlaneUser, deployRbac } from './kubernetes/deploy-rbac.js';
import { FakeApiServer, type FakeApiServerOptions } from './kubernetes/fake-api-server.js';
import { repoRoot } from './dist.js';

/**
 * A fake cluster for the tests of cluster mode (`canary up --kubernetes`): the in-process API server seeded
 * with Bookinfo's reviews as the sample deploys it (Service + reviews-v1) in namespace `demo`, a kubeconfig
 * that reaches it with a token, and on request the control plane in cluster mode connected through that
 * kubeconfig, in-process, as `canary up --kubernetes --kubeconfig FILE --context kind-canary` wires it.
 * `close()` stops the control planes it started and the API server, and removes its directory.
 *
 * It sits in test/support rather than beside the fake API server in src/kubernetes/testing because it starts
 * the control plane: the Kubernetes part must not import the control plane (dependencies point one way), and
 * test/ is not compiled into dist/.
 */

/** The namespace the cluster's objects and the control plane live in. */
export const NAMESPACE = 'demo';
/** The admin token of the control planes the tests start (in-process or `canary up`), and of the CLI. */
export const ADMIN_TOKEN = 'fake-cluster-token-0123456789';
export const V2_IMAGE = 'kubesphere/examples-bookinfo-reviews-v2:1.16.2';

/** The release the tests make: reviews v2, a copy of reviews-v1 with another image, at 50/50. As the API's body: */
export const reviewsCanary = {
  name: 'reviews-canary',
  service: 'reviews',
  candidate: { name: 'v2', workload: { image: V2_IMAGE } },
  traffic: { weights: { v1: 50, v2: 50 } },
};
/** ... and as the CLI's arguments (add `--dry-run`, `--server URL`). */
export const reviewsCanaryArgs: readonly string[] = [
  'release',
  'create',
  'reviews-canary',
  '--service',
  'reviews',
  '--candidate',
  'v2',
  '--image',
  V2_IMAGE,
  '--weights',
  'v1=50,v2=50',
];

export interface FakeClusterOptions {
  /** Objects to create besides reviews' Service and reviews-v1. */
  seed?: KubeObject[];
  podBehaviour?: FakeApiServerOptions['podBehaviour'];
}

/** The flags of `canary up --kubernetes` a test varies. */
export interface FakeClusterControlPlaneOptions {
  adopt?: boolean;
  /** `--traffic`: istio (default) or gateway-api. */
  traffic?: 'istio' | 'gateway-api';
  prometheus?: string;
  tracing?: string;
  rolloutDeadlineMs?: number;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of `node bin/canary.js` in these tests: nothing of the caller's but PATH and HOME, and the token. */
export function cliEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', CANARY_TOKEN: ADMIN_TOKEN };
}

/** `node bin/canary.js ARGS` as a user runs it (from dist/: call `ensureBuilt()` first). */
export function canaryCli(args: readonly string[]): Promise<CliRun> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(repoRoot, 'bin', 'canary.js'), ...args],
      { env: cliEnv(), cwd: repoRoot, timeout: 30_000 },
      (err, stdout, stderr) => {
        done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

export class FakeCluster {
  /** The kubeconfig's context, cluster and user token. */
  static readonly context = 'kind-canary';
  static readonly userToken = 'dev-token';
  /** kubectl's token (group system:masters), for changes made behind the control plane's back. */
  static readonly adminToken = 'admin-token';

  /** The control planes started, the last one current. */
  private readonly started: RunningCluster[] = [];
  private lastOptions: FakeClusterControlPlaneOptions = {};

  private constructor(
    readonly api: FakeApiServer,
    /** A temporary directory for the kubeconfig and the control plane's data. */
    readonly dir: string,
  ) {}

  get kubeconfig(): string {
    return join(this.dir, 'kubeconfig');
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** The control plane started last. */
  get up(): RunningCluster {
    const up = this.started.at(-1);
    if (!up) throw new Error('no control plane started on the fake cluster');
    return up;
  }

  static async start(options: FakeClusterOptions = {}): Promise<FakeCluster> {
    // The control plane authenticates as deploy/base's service account and is authorized by deploy/base's
    // Role, so every request it makes runs through the RBAC it ships with; kubectl (client()) is an admin.
    const api = new FakeApiServer({
      controllerDelayMs: 5,
      tokens: {
        [FakeCluster.userToken]: controlPlaneUser(NAMESPACE),
        [FakeCluster.adminToken]: { user: 'kubernetes-admin', groups: ['system:masters'] },
      },
      rbac: deployRbac(NAMESPACE),
      ...(options.podBehaviour ? { podBehaviour: options.podBehaviour } : {}),
    });
    await api.start();
    for (const o of [reviewsService(NAMESPACE), reviewsV1Deployment(NAMESPACE), ...(options.seed ?? [])]) api.seed(o);
    const cluster = new FakeCluster(api, mkdtempSync(join(tmpdir(), 'canary-fake-cluster-')));
    writeFileSync(
      cluster.kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: FakeCluster.context, cluster: { server: api.url } }],
        users: [{ name: 'dev', user: { token: FakeCluster.userToken } }],
        contexts: [{ name: FakeCluster.context, context: { cluster: FakeCluster.context, user: 'dev', namespace: 'default' } }],
        'current-context': FakeCluster.context,
      }),
    );
    return cluster;
  }

  /** A client as kubectl is, for changes made behind the control plane's back. */
  client(): KubeClient {
    return new KubeClient({
      server: this.api.url,
      namespace: NAMESPACE,
      prepare: async (o) => {
        o.headers = { ...o.headers, authorization: `Bearer ${FakeCluster.adminToken}` };
      },
    });
  }

  /** Starts the control plane in cluster mode, in-process, on an ephemeral loopback port. */
  async startControlPlane(options: FakeClusterControlPlaneOptions = {}): Promise<RunningCluster> {
    this.lastOptions = options;
    const backend = await KubernetesBackend.connect({
      kubeconfig: this.kubeconfig,
      context: FakeCluster.context,
      namespace: NAMESPACE,
      ...options,
    });
    const up = await startClusterControlPlane({
      backend,
      dataDir: this.dataDir,
      host: '127.0.0.1',
      port: 0,
      adminToken: ADMIN_TOKEN,
      drainGraceMs: 50,
      logLevel: 'silent',
      log: () => {},
      ...(options.adopt ? { adopt: true } : {}),
    });
    this.started.push(up);
    return up;
  }

  /** Stops the current control plane and starts another with the same options on the same data and cluster. */
  async restartControlPlane(): Promise<RunningCluster> {
    await this.up.stop();
    return this.startControlPlane(this.lastOptions);
  }

  /** A call to the current control plane's API as the admin; the body parsed from JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: tests assert response bodies field by field
  async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.up.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  async close(): Promise<void> {
    for (const up of this.started.splice(0).reverse()) await up.stop();
    await this.api.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
