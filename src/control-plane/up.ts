import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `canary up`: the embedded deployment on one machine. Starts the control plane (API + console), the local
 * workload runtimes, one mesh proxy process that follows the control plane, and optionally the Bookinfo demo.
 * Ctrl-C (or SIGTERM/SIGHUP) stops everything, children included.
 */
export interface UpOptions {
  dataDir: string;
  host: string;
  port: number;
  ingressPort: number;
  demo?: string;
  /** Share of new traces sampled, 0..1; default 1 with a demo, else 0.01. */
  traceSampling?: number;
  /** Also export spans over OTLP/HTTP JSON to this collector (e.g. http://127.0.0.1:4318). */
  otlpEndpoint?: string;
  /** Extra arguments for the proxy process: its limit flags (`--header-timeout 5000`, ...). */
  proxyArgs?: string[];
  /** Proxy worker processes; default 1 in the embedded mode. */
  proxyWorkers?: number;
  log?: (line: string) => void;
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunningUp {
  url: string;
  ingressUrl: string;
  tokenFile: string | null;
  stop(): Promise<void>;
}

export async function startUp(opts: UpOptions): Promise<RunningUp> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const { ProcessRuntime, installExitHandlers } = await import('../workloads/process-runtime.js');
  const { EndpointsRuntime } = await import('../workloads/endpoints-runtime.js');
  const { RuntimeByKind } = await import('../workloads/runtime-by-kind.js');
  const { createControlPlane } = await import('./index.js');

  const processRuntime = new ProcessRuntime({ dataDir });
  installExitHandlers(processRuntime);
  const runtime = new RuntimeByKind({ process: processRuntime, endpoints: new EndpointsRuntime() });
  const cp = await createControlPlane({
    dataDir,
    runtime,
    logLevel: 'warn',
    telemetry: {
      // The demo traces every request (the seed's tracing page); otherwise 1% unless told.
      traceSampling: opts.traceSampling ?? (opts.demo ? 1 : 0.01),
      ...(opts.otlpEndpoint ? { otlpEndpoint: opts.otlpEndpoint } : {}),
      ...(opts.demo
        ? { demoTrafficUrl: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.ingressPort}/productpage` }
        : {}),
    },
  });
  const url = await cp.app.listen({ host: opts.host, port: opts.port });
  const tokenFile = process.env.CANARY_ADMIN_TOKEN ? null : join(dataDir, 'admin-token');
  const token = process.env.CANARY_ADMIN_TOKEN ?? readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  log(`control plane and console: ${url}`);
  log(
    tokenFile ? `admin token: ${tokenFile} (the console asks for it; the CLI reads it from there)` : 'admin token: from CANARY_ADMIN_TOKEN',
  );

  if (opts.demo) {
    if (opts.demo !== 'bookinfo') throw new Error(`--demo: unknown demo "${opts.demo}"; the only one is "bookinfo"`);
    const { bookinfoServices } = await import('../demo/bookinfo/index.js');
    const specs = bookinfoServices(join(packageRoot, 'dist'));
    for (const spec of specs) {
      if (!cp.store.getService(spec.name)) await cp.controller.createService(spec, 'canary-up');
    }
    log(`demo: bookinfo (${specs.map((s) => s.name).join(', ')}); product page: http://${opts.host}:${opts.ingressPort}/productpage`);
  }

  // The proxy runs in its own process, as it would on another host; it follows the control plane's watch stream.
  let proxy: ChildProcess | null = null;
  let stopping = false;
  let restarts = 0;
  const startProxy = () => {
    const child = spawn(
      process.execPath,
      [
        join(packageRoot, 'bin', 'canary.js'),
        'proxy',
        '--control-plane',
        url,
        '--listen',
        `${opts.host}:${opts.ingressPort}`,
        // One worker by default on one machine: the workloads need the other core.
        '--workers',
        String(opts.proxyWorkers ?? 1),
        ...(opts.proxyArgs ?? []),
      ],
      { env: { ...process.env, CANARY_TOKEN: token }, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    proxy = child;
    child.on('exit', (code, signal) => {
      if (stopping) return;
      restarts++;
      const delay = Math.min(200 * 2 ** Math.min(restarts, 7), 30_000);
      log(`proxy exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      setTimeout(() => !stopping && startProxy(), delay).unref();
    });
  };
  startProxy();
  log(`mesh ingress: http://${opts.host}:${opts.ingressPort}`);

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const p = proxy as ChildProcess | null;
    if (p && p.exitCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (p.exitCode === null) p.kill('SIGKILL');
    }
    await cp.close();
    await runtime.stopAll();
  };
  return { url, ingressUrl: `http://${opts.host}:${opts.ingressPort}`, tokenFile, stop };
}

/** Runs until a signal; the CLI's `canary up`. */
export async function runUp(opts: UpOptions): Promise<void> {
  const up = await startUp(opts);
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    process.stdout.write(`\n${sig}: stopping proxy, workloads and control plane...\n`);
    up.stop().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`error while stopping: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
}
