import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EndpointsRuntime } from '../../src/workloads/endpoints-runtime.js';
import { ProcessRuntime } from '../../src/workloads/process-runtime.js';
import { RuntimeByKind } from '../../src/workloads/runtime-by-kind.js';
import type { Role } from '../../src/control-plane/permissions.js';
import { type ControlPlane, type ControlPlaneOptions, createControlPlane } from '../../src/control-plane/create-control-plane.js';

/** A reply as tests see it. */
export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests assert response bodies field by field
  body: any;
  text: string;
  headers: Record<string, unknown>;
}

/** For tests: a control plane on a real SQLite file in a temp dir, with endpoints workloads. */
export interface TestControlPlane {
  cp: ControlPlane;
  dataDir: string;
  runtime: RuntimeByKind;
  token: string;
  /** An in-process request (app.inject) with the admin token; the JSON body parsed. */
  call(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  /** The same with another token (null: none). */
  callAs(token: string | null, method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  /** A stored token of that role (name defaults to the role), created as the admin would. */
  tokenFor(role: Role, name?: string): string;
  /** Everything the store holds, to assert that a refused call changed nothing. */
  snapshot(): { services: unknown; releases: unknown; events: unknown; revision: number };
  /** Closes the control plane and stops the runtime (the data dir stays). */
  stop(): Promise<void>;
  /** stop() and remove the data dir. */
  destroy(): Promise<void>;
}

export const testToken = 'test-admin-token-0123456789';

export async function startTestControlPlane(
  opts: Partial<ControlPlaneOptions> & { root?: string; processes?: boolean } = {},
): Promise<TestControlPlane> {
  const { processes, ...cpOptions } = opts;
  const root = opts.root ?? mkdtempSync(join(tmpdir(), 'canary-cp-'));
  const dataDir = opts.dataDir ?? join(root, 'data');
  // Process workloads only when a test asks: they run real commands.
  const runtime = new RuntimeByKind({
    endpoints: new EndpointsRuntime({ probeIntervalMs: 50 }),
    ...(processes ? { process: new ProcessRuntime({ dataDir: join(root, 'workloads') }) } : {}),
  });
  const token = opts.adminToken ?? testToken;
  const cp = await createControlPlane({ logLevel: 'silent', drainGraceMs: 50, ...cpOptions, dataDir, runtime, adminToken: token });
  let stopped = false;
  const callAs = async (who: string | null, method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await cp.app.inject({
      method: method as 'GET',
      url,
      headers: { ...(who === null ? {} : { authorization: `Bearer ${who}` }), ...headers },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, body: parsed, text: res.body, headers: res.headers };
  };
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await cp.close();
    await runtime.stopAll();
  };
  return {
    cp,
    dataDir,
    runtime,
    token,
    call(method, url, body, headers = {}) {
      return callAs(token, method, url, body, headers);
    },
    callAs,
    tokenFor(role, name = role) {
      return cp.tokens.create({ name, role }, 'admin').token;
    },
    snapshot() {
      const s = cp.store;
      return { services: s.listServices(), releases: s.listReleases(), events: s.listEvents(), revision: s.revision() };
    },
    stop,
    async destroy() {
      await stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** reviews with v1 and v2 as endpoints workloads (no health check, so ready at once). */
export const reviewsService = {
  name: 'reviews',
  port: 9080,
  ingress: { paths: ['/reviews'] },
  versions: [
    { name: 'v1', workload: { kind: 'endpoints', addresses: ['127.0.0.1:19001'] } },
    { name: 'v2', workload: { kind: 'endpoints', addresses: ['127.0.0.1:19002'] } },
  ],
};

/** The seed's release: reviews v2 beside v1 at 50/50 (v2 already registered in reviewsService). */
export const reviewsCanary = {
  name: 'reviews-canary',
  service: 'reviews',
  candidate: { name: 'v2' },
  traffic: { weights: { v1: 50, v2: 50 } },
};

/**
 * The same release on the bookinfo demo (`canary up --demo bookinfo`): v2 is made from v1's workload, told its
 * version by SERVICE_VERSION, so a page says which reviews served it.
 */
export const bookinfoReviewsCanary = {
  ...reviewsCanary,
  strategy: 'canary',
  baseline: 'v1',
  candidate: { name: 'v2', workload: { env: { SERVICE_VERSION: 'v2' } } },
};
