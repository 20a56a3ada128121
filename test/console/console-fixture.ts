import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { startTestControlPlane, type TestControlPlane } from '../support/test-harness.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const webDir = join(repoRoot, 'web');
const webDist = join(webDir, 'dist');
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((f) => newestMtime(join(path, f))));
}

/** Builds web/dist when it is missing or older than the console's sources, so a test never runs a stale console. */
export function ensureConsoleBuilt(): void {
  const index = join(webDist, 'index.html');
  const sources = Math.max(
    newestMtime(join(webDir, 'src')),
    newestMtime(join(webDir, 'index.html')),
    newestMtime(join(webDir, 'vite.config.ts')),
  );
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  const r = spawnSync('npm', ['run', 'build', '-w', 'web'], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`npm run build -w web failed:\n${r.stdout}\n${r.stderr}`);
}

/** A tiny HTTP server standing in for a running version (an `endpoints` workload). */
export async function startUpstream(name: string): Promise<{ address: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`served by ${name}\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { address: `127.0.0.1:${port}`, server };
}

export interface ConsoleBrowser {
  context: BrowserContext;
  page: Page;
  /** Where screenshots go: test/console/screenshots/ with SAVE_SCREENSHOTS set, else a temp dir. */
  shotsDir: string;
  /** Uncaught errors thrown in the page so far. */
  pageErrors: string[];
}

/** Headless Debian Chromium with a fresh profile under `root`. */
export async function launchConsoleBrowser(root: string): Promise<ConsoleBrowser> {
  const shotsDir = process.env.SAVE_SCREENSHOTS ? resolve(repoRoot, 'test', 'console', 'screenshots') : join(root, 'screenshots');
  mkdirSync(shotsDir, { recursive: true });
  const context = await chromium.launchPersistentContext(join(root, 'chromium-profile'), {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 900 },
    locale: 'en-US',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  // A crash in the page shows up in the test output rather than as a mysterious timeout.
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => {
    pageErrors.push(err.message);
    process.stderr.write(`[console page error] ${err.message}\n`);
  });
  return { context, page, shotsDir, pageErrors };
}

export interface ConsoleEnv extends ConsoleBrowser {
  cp: TestControlPlane;
  url: string;
  token: string;
  /** The v2 upstream's address, for the wizard's "addresses" field. */
  v2Address: string;
  close(): Promise<void>;
}

/**
 * A real control plane (SQLite in a temp dir, endpoints workloads, the built console) on an ephemeral
 * loopback port, with `reviews` v1 registered, and a headless Chromium with a fresh profile.
 */
export async function startConsoleEnv(): Promise<ConsoleEnv> {
  ensureConsoleBuilt();
  const root = mkdtempSync(join(tmpdir(), 'canary-console-'));
  const v1 = await startUpstream('reviews-v1');
  const v2 = await startUpstream('reviews-v2');
  const cp = await startTestControlPlane({ root, consoleDir: webDist });
  const url = (await cp.cp.app.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1');
  const created = await cp.call('POST', '/api/v1/services', {
    name: 'reviews',
    port: 9080,
    ingress: { paths: ['/reviews'] },
    versions: [{ name: 'v1', workload: { kind: 'endpoints', addresses: [v1.address] } }],
  });
  if (created.status !== 201) throw new Error(`registering reviews failed: ${created.status} ${created.text}`);

  const browser = await launchConsoleBrowser(root);
  return {
    cp,
    url,
    token: cp.token,
    ...browser,
    v2Address: v2.address,
    async close() {
      await browser.context.close().catch(() => {});
      await cp.stop();
      await new Promise((r) => v1.server.close(r));
      await new Promise((r) => v2.server.close(r));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
