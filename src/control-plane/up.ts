import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProxySupervisorTimings } from './proxy-supervisor.js';
import { UP_DEFAULTS } from './up-config.js';
import { stopOnSignal } from './stop-on-signal.js';

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
  /** Share of new traces sampled, 0..1; default 1 with a demo, else the control plane's. */
  traceSampling?: number;
  /** Also export spans over OTLP/HTTP JSON to this collector (e.g. http://127.0.0.1:4318). */
  otlpEndpoint?: string;
  /** When run as root: the user process workloads run as (default: up-config.ts). No effect otherwise. */
  runAs?: string;
  /** Host names the API answers to besides loopback and the bound address (`--allowed-hosts`). */
  allowedHosts?: string[];
  /**
   * How long the proxy and the workloads outlive this process when it is killed unseen (SIGKILL): they keep
   * serving so that a new `canary up` on the same data directory takes over without an outage (default: up-config.ts).
   */
  orphanGraceMs?: number;
  /** Finishing a release waits this long before retiring the other version (default: control-plane-config.ts). */
  drainGraceMs?: number;
  /** Restart back-off of the proxy (tests shorten it). */
  proxyTimings?: Partial<ProxySupervisorTimings>;
  /** Extra arguments for the proxy process: its limit flags (`--header-timeout 5000`, ...). */
  proxyArgs?: string[];
  log?: (line: string) => void;
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunningUp {
  url: string;
  ingressUrl: string;
  tokenFile: string | null;
  stop(): Promise<void>;
}

/** The embedded deployment: the proxy is a child of this process. */
export interface RunningLocalUp extends RunningUp {
  /** The proxy's pid now (null between a crash and its restart). */
  proxyPid(): number | null;
  /** For exit handlers: stops the proxy synchronously (the workloads have their own handlers). */
  stopSync(): void;
}

export async function startUp(opts: UpOptions): Promise<RunningLocalUp> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  const { ProcessRuntime, installExitHandlers } = await import('../workloads/process-runtime.js');
  const { GroupLedger } = await import('../workloads/process/group-ledger.js');
  const { signalGroup } = await import('../workloads/process/process-groups.js');
  const { ProxySupervisor } = await import('./proxy-supervisor.js');
  const { bindIngressSocket, closeIngressSocket } = await import('./ingress-socket.js');
  const { EndpointsRuntime } = await import('../workloads/endpoints-runtime.js');
  const { RuntimeByKind } = await import('../workloads/runtime-by-kind.js');
  const { createControlPlane } = await import('./index.js');

  // As root, workloads run as an unprivileged user (nobody by default), so they cannot read the data directory.
  // One ledger for the proxy and the workloads. What an earlier run on this data directory left (it was killed
  // unseen) keeps serving until this run can take over, then goes: see the handover below.
  const orphanGraceMs = opts.orphanGraceMs ?? UP_DEFAULTS.orphanGrace * 1000;
  const runAs = opts.runAs ?? UP_DEFAULTS.runAs;
  const ledger = new GroupLedger(dataDir, { orphanGraceMs });
  const alive = ledger.leftovers().find((e) => e.kind === 'supervisor');
  if (alive)
    throw new Error(`another canary up (pid ${alive.pgid}) is running on ${dataDir}: stop it first, or use another --data directory`);
  // This process too, so that a later start sees whether it still runs. Not a group of ours to signal: the
  // watchdog and takeovers leave it alone.
  ledger.add(process.pid, 'canary up', 'supervisor');
  const earlier = ledger.leftovers();
  const earlierProxies = earlier.filter((e) => e.kind === 'proxy');
  if (earlier.length > 0)
    log(
      `an earlier canary up on ${dataDir} was killed and left ${earlier.length} process(es) running ` +
        `(${earlier.map((e) => `${e.name} pid ${e.pgid}`).join(', ')}): they serve until this one is ready, then stop`,
    );
  // This process binds the ingress socket (first, so a port in use is said before anything starts) and keeps it:
  // a proxy restart never closes the port. With an earlier run's proxy on it, it is bound at the handover.
  let ingressHandle: object | null = earlierProxies.length === 0 ? await bindIngressSocket(opts.host, opts.ingressPort) : null;
  const processRuntime = new ProcessRuntime({ dataDir, ledger, runAs });
  installExitHandlers(processRuntime);
  const runtime = new RuntimeByKind({ process: processRuntime, endpoints: new EndpointsRuntime() });
  const cp = await createControlPlane({
    dataDir,
    runtime,
    logLevel: 'warn',
    ...(opts.drainGraceMs !== undefined ? { drainGraceMs: opts.drainGraceMs } : {}),
    ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}),
    analysis: { ingressUrl: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.ingressPort}` },
    telemetry: {
      // The demo traces every request (the seed's tracing page); otherwise the control plane's default unless told.
      ...(opts.traceSampling !== undefined || opts.demo ? { traceSampling: opts.traceSampling ?? 1 } : {}),
      ...(opts.otlpEndpoint ? { otlpEndpoint: opts.otlpEndpoint } : {}),
      ...(opts.demo
        ? { demoTrafficUrl: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.ingressPort}/productpage` }
        : {}),
    },
  });
  const url = await cp.app.listen({ host: opts.host, port: opts.port });
  const tokenFile = cp.adminTokenFile;
  // The proxy gets a credential of its own that reads route tables and sends telemetry, nothing else; it lives
  // in this process's memory only, so it ends with this run (and restarts of the proxy reuse it).
  const proxyToken = cp.tokens.mintInMemory('proxy', 'proxy');
  log(`control plane and console: ${url}`);
  if (process.getuid?.() === 0) log(`process workloads run as user ${runAs} (--run-as), each in its own directory`);
  log(
    tokenFile ? `admin token: ${tokenFile} (the console asks for it; the CLI reads it from there)` : 'admin token: from CANARY_ADMIN_TOKEN',
  );

  if (opts.demo) {
    if (opts.demo !== 'bookinfo') throw new Error(`--demo: unknown demo "${opts.demo}"; the only one is "bookinfo"`);
    const { bookinfoServices } = await import('../demo/bookinfo/index.js');
    const specs = bookinfoServices(join(packageRoot, 'dist'));
    for (const spec of specs) {
      if (!cp.store.getService(spec.name)) await cp.services.createService(spec, 'canary-up');
    }
    log(`demo: bookinfo (${specs.map((s) => s.name).join(', ')}); product page: http://${opts.host}:${opts.ingressPort}/productpage`);
  }

  // The proxy runs in its own process, as it would on another host; it follows the control plane's watch stream.
  const takeIngress = async (): Promise<object> => {
    if (ingressHandle) return ingressHandle;
    // A proxy of an earlier run serves the port: it closes its listener on SIGTERM (its requests in flight
    // finish), and the port is bound here the moment it is free: tens of milliseconds of refused connections.
    const t0 = Date.now();
    for (const e of earlierProxies) signalGroup(e.pgid, 'SIGTERM');
    try {
      ingressHandle = await bindIngressSocket(opts.host, opts.ingressPort, 5000);
    } catch {
      for (const e of earlierProxies) signalGroup(e.pgid, 'SIGKILL');
      ingressHandle = await bindIngressSocket(opts.host, opts.ingressPort, 2000);
    }
    log(`handover: the ingress port was bound here ${Date.now() - t0} ms after the earlier proxy was told to stop`);
    return ingressHandle;
  };
  const supervisor = new ProxySupervisor({
    command: process.execPath,
    args: [
      join(packageRoot, 'bin', 'canary.js'),
      'proxy',
      '--control-plane',
      url,
      '--listen',
      `${opts.host}:${opts.ingressPort}`,
      // One process on one machine: the workloads need the other core (and the ingress socket is handed to one).
      '--workers',
      '1',
      ...(opts.proxyArgs ?? []),
    ],
    env: { ...proxyEnv(proxyToken), CANARY_SUPERVISED: '1', CANARY_ORPHAN_GRACE_MS: String(orphanGraceMs) },
    ingress: takeIngress,
    ledger,
    log,
    ...(opts.proxyTimings ? { timings: opts.proxyTimings } : {}),
  });
  if (earlier.length > 0) {
    // Handover: the earlier run's proxy and instances keep serving until this run's instances are ready and its
    // proxy has the route table; only then does the ingress change hands.
    await waitForWorkloads(cp.store, processRuntime, 30_000, log);
  }
  await supervisor.start();
  log(`mesh ingress: http://${opts.host}:${opts.ingressPort}`);
  if (earlier.length > 0) {
    // The old proxy drains its requests in flight (which may still call the old instances), then everything of
    // the earlier run goes.
    await ledger.stopLeftovers(earlierProxies, 10_000);
    await ledger.stopLeftovers(
      earlier.filter((e) => e.kind !== 'proxy'),
      5000,
    );
    log(`stopped what the earlier run left: ${earlier.map((e) => `${e.name} (pid ${e.pgid})`).join(', ')}`);
  }

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      await supervisor.stop(3000);
      await cp.close();
      await runtime.stopAll();
      if (ingressHandle) closeIngressSocket(ingressHandle);
      ingressHandle = null;
      ledger.release();
      ledger.remove(process.pid);
    })();
    return stopping;
  };
  const stopSync = () => {
    supervisor.stopSync(1000);
    ledger.release();
    ledger.remove(process.pid);
  };
  return { url, ingressUrl: `http://${opts.host}:${opts.ingressPort}`, tokenFile, proxyPid: () => supervisor.pid, stop, stopSync };
}

/**
 * Waits until every process version in the store has a ready instance (or has failed for good), up to
 * `timeoutMs`: a handover must not move the ingress to instances that cannot answer yet.
 */
async function waitForWorkloads(
  store: { listServices(): { name: string; versions: { name: string; workload: { kind: string } }[] }[] },
  runtime: { health(service: string, version: string): { ready: boolean; failed: boolean } },
  timeoutMs: number,
  log: (line: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const waiting = store
      .listServices()
      .flatMap((s) => s.versions.filter((v) => v.workload.kind === 'process').map((v) => ({ service: s.name, version: v.name })))
      .filter((v) => {
        const h = runtime.health(v.service, v.version);
        return !h.ready && !h.failed;
      });
    if (waiting.length === 0) return;
    if (Date.now() > deadline) {
      log(`handover: not ready after ${timeoutMs} ms: ${waiting.map((v) => `${v.service}/${v.version}`).join(', ')}; taking over anyway`);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The proxy's environment: ours without the admin token, with the proxy's own credential. */
function proxyEnv(token: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CANARY_TOKEN: token };
  delete env.CANARY_ADMIN_TOKEN;
  return env;
}

/** Runs until a signal; the CLI's `canary up`. */
export async function runUp(opts: UpOptions): Promise<void> {
  const up = await startUp(opts);
  stopOnSignal(() => up.stop(), 'stopping proxy, workloads and control plane');
  process.on('exit', () => up.stopSync());
}
