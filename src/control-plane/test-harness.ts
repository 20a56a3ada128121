import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EndpointsRuntime } from '../workloads/endpoints-runtime.js';
import { RuntimeByKind } from '../workloads/runtime-by-kind.js';
import { type ControlPlane, type ControlPlaneOptions, createControlPlane } from './create-control-plane.js';

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
  /** Everything the store holds, to assert that a refused call changed nothing. */
  snapshot(): { services: unknown; releases: unknown; events: unknown; revision: number };
  /** Closes the control plane and stops the runtime (the data dir stays). */
  stop(): Promise<void>;
  /** stop() and remove the data dir. */
  destroy(): Promise<void>;
}

export const testToken = 'test-admin-token-0123456789';

export async function startTestControlPlane(opts: Partial<ControlPlaneOptions> & { root?: string } = {}): Promise<TestControlPlane> {
  const root = opts.root ?? mkdtempSync(join(tmpdir(), 'canary-cp-'));
  const dataDir = opts.dataDir ?? join(root, 'data');
  const runtime = new RuntimeByKind({ endpoints: new EndpointsRuntime({ probeIntervalMs: 50 }) });
  const token = opts.adminToken ?? testToken;
  const cp = await createControlPlane({ logLevel: 'silent', drainGraceMs: 50, ...opts, dataDir, runtime, adminToken: token });
  let stopped = false;
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
    async call(method, url, body, headers = {}) {
      const res = await cp.app.inject({
        method: method as 'GET',
        url,
        headers: { authorization: `Bearer ${token}`, ...headers },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      let parsed: unknown;
      try {
        parsed = JSON.parse(res.body);
      } catch {
        parsed = undefined;
      }
      return { status: res.statusCode, body: parsed, text: res.body, headers: res.headers };
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
