import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningUp, startUp } from '../../src/control-plane/up.js';
import { ensureBuilt } from '../support/dist.js';
import { type ConsoleBrowser, ensureConsoleBuilt, launchConsoleBrowser } from './console-fixture.js';

export interface DemoEnv extends ConsoleBrowser {
  up: RunningUp;
  /** The console and API, e.g. http://127.0.0.1:41234. */
  url: string;
  token: string;
  /** GET an API path with the admin token; the JSON body. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies field by field
  api(path: string): Promise<any>;
  /** What `canary up` logged, for a failing test's message. */
  log: string[];
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/**
 * `canary up --demo bookinfo` in this process (control plane with the built console on an ephemeral port, the
 * proxy and the Bookinfo services as child processes, data in a temp dir), and a headless Chromium.
 */
export async function startDemoEnv(): Promise<DemoEnv> {
  ensureConsoleBuilt();
  ensureBuilt();
  const root = mkdtempSync(join(tmpdir(), 'canary-console-demo-'));
  const token = 'console-demo-token-0123456789';
  const previousToken = process.env.CANARY_ADMIN_TOKEN;
  process.env.CANARY_ADMIN_TOKEN = token;
  const log: string[] = [];
  let up: RunningUp;
  try {
    up = await startUp({
      dataDir: join(root, 'data'),
      host: '127.0.0.1',
      port: 0,
      ingressPort: await freePort(),
      demo: 'bookinfo',
      log: (line) => log.push(line),
    });
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  const url = up.url.replace('localhost', '127.0.0.1');
  let browser: ConsoleBrowser;
  try {
    browser = await launchConsoleBrowser(root);
  } catch (err) {
    await up.stop();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  return {
    ...browser,
    up,
    url,
    token,
    log,
    async api(path: string) {
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
      return res.json();
    },
    async close() {
      await browser.context.close().catch(() => {});
      await up.stop();
      if (previousToken === undefined) delete process.env.CANARY_ADMIN_TOKEN;
      else process.env.CANARY_ADMIN_TOKEN = previousToken;
      rmSync(root, { recursive: true, force: true });
    },
  };
}
