import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningUp, startUp } from '../../src/control-plane/up.js';
import { ensureBuilt } from '../support/dist.js';
import { http, type Reply } from '../support/http.js';
import { freePort } from '../support/ports.js';
import { type ConsoleBrowser, ensureConsoleBuilt, launchConsoleBrowser } from './console-fixture.js';

/**
 * A `reviews` version as a JSON server: `GET /reviews/{id}` -> `{"id","rating","timestamp"}` with an
 * `x-served-by` header; `answer` lets a version differ on some ids (a status, a field).
 */
export async function startReviews(
  version: string,
  answer: (id: number) => { status: number; body: Record<string, unknown>; headers?: Record<string, string> } = (id) => ({
    status: 200,
    body: { id, rating: 5 },
  }),
): Promise<{ address: string; server: Server; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${req.headers['x-canary-preview'] ?? ''}`.trim());
      const id = Number(/^\/reviews\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      const a = answer(id);
      res.writeHead(a.status, { 'content-type': 'application/json', 'x-served-by': version, ...a.headers });
      // The timestamp differs between any two answers: the mirror wizard is told to ignore it.
      res.end(JSON.stringify({ ...a.body, timestamp: new Date().toISOString() }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { address: `127.0.0.1:${port}`, server, seen };
}

export interface MeshEnv extends ConsoleBrowser {
  up: RunningUp;
  url: string;
  ingressUrl: string;
  token: string;
  /** An API call with the admin token; the JSON body parsed. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies field by field
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** A request through the mesh ingress. */
  ingress(path: string, headers?: Record<string, string>): Promise<Reply>;
  close(): Promise<void>;
}

/**
 * `canary up` without a demo (control plane with the built console, the real proxy as a child process, data in a
 * temp dir) with `reviews` v1 as an endpoints workload in front of `v1`, and a headless Chromium.
 */
export async function startMeshEnv(v1Address: string): Promise<MeshEnv> {
  ensureConsoleBuilt();
  ensureBuilt();
  const root = mkdtempSync(join(tmpdir(), 'canary-console-mesh-'));
  const token = 'console-mesh-token-0123456789';
  const previousToken = process.env.CANARY_ADMIN_TOKEN;
  process.env.CANARY_ADMIN_TOKEN = token;
  const restoreToken = () => {
    if (previousToken === undefined) delete process.env.CANARY_ADMIN_TOKEN;
    else process.env.CANARY_ADMIN_TOKEN = previousToken;
  };
  let up: RunningUp;
  try {
    up = await startUp({ dataDir: join(root, 'data'), host: '127.0.0.1', port: 0, ingressPort: await freePort(), log: () => {} });
  } catch (err) {
    restoreToken();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  const url = up.url.replace('localhost', '127.0.0.1');
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await http(method, `${url}${path}`, { token, body });
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.body);
    } catch {
      parsed = r.body;
    }
    return { status: r.status, body: parsed };
  };
  const stop = async () => {
    await up.stop();
    restoreToken();
    rmSync(root, { recursive: true, force: true });
  };
  const created = await api('POST', '/api/v1/services', {
    name: 'reviews',
    port: 9080,
    ingress: { paths: ['/reviews'] },
    versions: [{ name: 'v1', workload: { kind: 'endpoints', addresses: [v1Address] } }],
  });
  if (created.status !== 201) {
    await stop();
    throw new Error(`registering reviews failed: ${created.status} ${JSON.stringify(created.body)}`);
  }
  let browser: ConsoleBrowser;
  try {
    browser = await launchConsoleBrowser(root);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    ...browser,
    up,
    url,
    ingressUrl: up.ingressUrl,
    token,
    api,
    ingress: (path, headers = {}) => http('GET', `${up.ingressUrl}${path}`, { headers }),
    async close() {
      await browser.context.close().catch(() => {});
      await stop();
    },
  };
}
