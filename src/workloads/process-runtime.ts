import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import type { ProcessWorkload } from '../core/model.js';
import { instanceName } from '../core/names.js';
import type { Endpoint, OutboundListener } from '../core/route-table.js';
import { freeLoopbackPort } from './process/free-port.js';
import { GroupLedger } from './process/group-ledger.js';
import { defaultProcessTimings, ProcessInstance, type ProcessRuntimeEvent, type ProcessTimings } from './process/process-instance.js';
import { stopGroupsSync } from './process/process-groups.js';
import { type RunAs, resolveRunAs } from './process/run-as.js';
import type { DesiredVersion, InstanceStatus, LogLine, VersionHealth, WorkloadRuntime } from './workload-runtime.js';

export type { ProcessRuntimeEvent, ProcessTimings } from './process/process-instance.js';

export interface ProcessRuntimeOptions {
  /** Lines kept per instance (stdout and stderr together); default 1000. */
  logLines?: number;
  /** SIGTERM -> SIGKILL grace when stopping an instance; default 5000 ms. */
  drainMs?: number;
  /** Between marking a stopping instance unready and SIGTERM, so proxies stop sending to it; default 1000 ms. */
  unreadyDelayMs?: number;
  /** Extra environment for every instance (the workload's own env wins). */
  env?: Record<string, string>;
  /**
   * When set, a ledger of running process groups is kept there, leftovers of a killed run are reaped on start, and
   * a watchdog ends the instances `orphanGraceMs` after this process dies unseen (SIGKILL).
   */
  dataDir?: string;
  /** A ledger shared with the caller (`canary up` lists its proxy there too); the caller handles leftovers. */
  ledger?: GroupLedger;
  /** With `dataDir`: how long instances outlive a supervisor killed unseen; default 10000 ms. */
  orphanGraceMs?: number;
  /** Every instance event: started, ready, unready, exited, restarting, failed, stopping, stopped. */
  onEvent?: (e: ProcessRuntimeEvent) => void;
  /** Supervisor timings (probe periods, back-off); the defaults are the documented behaviour. */
  timings?: Partial<ProcessTimings>;
  /**
   * When this process is root: the user (name or uid) workloads run as, with that user's group and no other
   * groups, so they cannot read the data directory (admin token, database). No effect when not root. Unset:
   * they run as this process's user (`canary up` sets `nobody`).
   */
  runAs?: string;
  /**
   * Where each instance gets its working directory (`<workDir>/<instance>-XXXXXX`, 0700, owned by the run-as
   * user), unless its workload names a `cwd`; default a fresh `canary-workloads-XXXXXX` in the OS temp dir.
   * Never the control plane's own working directory, never the data directory.
   */
  workDir?: string;
}

/** Environment variables never passed on to workloads: they would hand them the control plane's keys. */
const SECRET_ENV = ['CANARY_ADMIN_TOKEN', 'CANARY_TOKEN'];

interface VersionGroup {
  service: string;
  version: string;
  workload: ProcessWorkload;
  /** The workload minus its replica count: a change here replaces the instances, a replica change scales them. */
  specKey: string;
  instances: ProcessInstance[];
}

/**
 * The local supervisor for `process` workloads. For each replica of a desired version it picks two free
 * loopback ports (the instance's PORT and its outbound listener, MESH_OUTBOUND), spawns the command in its own
 * process group, probes readiness, restarts crashes with exponential back-off, keeps recent output, and stops
 * instances gracefully when their version leaves the desired set. It never leaves a child behind: stopAll()
 * stops everything, installExitHandlers() covers signals and exit, and with a data directory a ledger
 * covers even a SIGKILL of the supervisor.
 */
export class ProcessRuntime implements WorkloadRuntime {
  private readonly groups = new Map<string, VersionGroup>();
  /** Instances on their way out (version retired, replaced or scaled down): listed until they exit. */
  private readonly draining = new Set<ProcessInstance>();
  private readonly listenersOnChange: (() => void)[] = [];
  private readonly ports = new Set<number>();
  private readonly liveGroups = new Set<number>();
  private readonly ledger: GroupLedger | null;
  private readonly ownsLedger: boolean;
  private readonly timings: ProcessTimings;
  private readonly logLines: number;
  private readonly drainMs: number;
  private readonly unreadyDelayMs: number;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly stopsInFlight = new Set<Promise<void>>();
  private closed = false;
  private readonly runAs: RunAs | null;
  /** The root of the instances' working directories, once the first one is made. */
  private workRoot: string | null = null;
  private readonly workDirs = new Map<ProcessInstance, string>();

  constructor(private readonly opts: ProcessRuntimeOptions = {}) {
    this.logLines = opts.logLines ?? 1000;
    if (!Number.isInteger(this.logLines) || this.logLines < 1)
      throw new InputError(`logLines: must be a positive integer, got ${opts.logLines}`);
    this.drainMs = opts.drainMs ?? 5000;
    if (!(this.drainMs >= 0)) throw new InputError(`drainMs: must be 0 or more milliseconds, got ${opts.drainMs}`);
    this.unreadyDelayMs = opts.unreadyDelayMs ?? 1000;
    this.timings = { ...defaultProcessTimings, ...opts.timings };
    this.runAs = opts.runAs === undefined ? null : resolveRunAs(opts.runAs);
    this.ownsLedger = opts.ledger === undefined && opts.dataDir !== undefined;
    this.ledger = opts.ledger ?? (opts.dataDir ? new GroupLedger(opts.dataDir, { orphanGraceMs: opts.orphanGraceMs ?? 10_000 }) : null);
    const reaped = this.ownsLedger ? (this.ledger?.reapLeftovers() ?? []).filter((e) => e.kind === 'instance').map((e) => e.name) : [];
    if (reaped.length > 0) {
      opts.onEvent?.({
        type: 'stopped',
        at: new Date().toISOString(),
        service: '',
        version: '',
        instance: reaped.join(','),
        pid: null,
        message: `killed ${reaped.length} instance(s) left running by a previous run: ${reaped.join(', ')}`,
      });
    }
  }

  async reconcile(desired: DesiredVersion[]): Promise<void> {
    const wanted = new Map<string, { service: string; version: string; workload: ProcessWorkload }>();
    for (const d of desired) {
      const w = d.version.workload;
      if (w.kind !== 'process') {
        throw new InputError(`${d.service}/${d.version.name}: workload.kind must be "process" for the process runtime, got "${w.kind}"`);
      }
      wanted.set(key(d.service, d.version.name), { service: d.service, version: d.version.name, workload: w });
    }
    const stops: Promise<void>[] = [];
    // Reconciles run one at a time (port allocation awaits); stops are awaited outside, so a slow drain
    // never holds up the next change.
    const run = this.lock.then(async () => {
      if (this.closed) throw new Error('process runtime: reconcile after stopAll()');
      for (const [k, g] of this.groups) {
        const w = wanted.get(k);
        if (!w || specKey(w.workload) !== g.specKey) {
          this.groups.delete(k);
          for (const inst of g.instances) stops.push(this.retire(inst));
        }
      }
      for (const [k, w] of wanted) {
        let g = this.groups.get(k);
        if (!g) {
          g = { ...w, specKey: specKey(w.workload), instances: [] };
          this.groups.set(k, g);
        }
        g.workload = w.workload;
        const replicas = w.workload.replicas;
        while (g.instances.length > replicas) stops.push(this.retire(g.instances.pop()!));
        while (g.instances.length < replicas) g.instances.push(await this.startInstance(g, g.instances.length + 1));
      }
    });
    this.lock = run.catch(() => {});
    await run;
    if (stops.length > 0) this.changed();
    // Stops go on in the background (unready at once, SIGTERM after unreadyDelayMs, SIGKILL after drainMs) so
    // that an API call retiring a version does not wait for the drain; idle() waits for them.
    const all = Promise.all(stops).then(() => {});
    this.stopsInFlight.add(all);
    void all.finally(() => this.stopsInFlight.delete(all));
  }

  /** Resolves when every instance being stopped has exited. */
  async idle(): Promise<void> {
    while (this.stopsInFlight.size > 0) await Promise.all(this.stopsInFlight);
  }

  private async startInstance(g: VersionGroup, n: number): Promise<ProcessInstance> {
    const port = await freeLoopbackPort(this.ports);
    this.ports.add(port);
    const outboundPort = await freeLoopbackPort(this.ports);
    this.ports.add(outboundPort);
    const name = instanceName(g.service, g.version, n);
    const cwd = this.makeWorkDir(name);
    const inst = new ProcessInstance({
      service: g.service,
      version: g.version,
      name,
      port,
      outboundPort,
      workload: g.workload,
      cwd: g.workload.cwd ?? cwd,
      ...(this.runAs ? { runAs: { uid: this.runAs.uid, gid: this.runAs.gid } } : {}),
      env: this.envFor(g, name, port, outboundPort, cwd),
      logLines: this.logLines,
      timings: this.timings,
      onChange: () => this.changed(),
      onEvent: (e) => this.opts.onEvent?.(e),
      onGroup: (pgid, alive) => {
        if (alive) {
          this.liveGroups.add(pgid);
          this.ledger?.add(pgid, name);
        } else {
          this.liveGroups.delete(pgid);
          this.ledger?.remove(pgid);
        }
      },
    });
    this.workDirs.set(inst, cwd);
    inst.start();
    return inst;
  }

  /**
   * A fresh working directory for one instance, owned by the user it runs as. The root is 0711: each user can
   * enter its own directory but list no other. Unique per instance, so a replacement starting while its
   * predecessor drains never shares (or loses) a directory.
   */
  private makeWorkDir(name: string): string {
    if (this.workRoot === null) {
      if (this.opts.workDir) {
        mkdirSync(this.opts.workDir, { recursive: true, mode: 0o711 });
        this.workRoot = this.opts.workDir;
      } else {
        this.workRoot = mkdtempSync(join(tmpdir(), 'canary-workloads-'));
        chmodSync(this.workRoot, 0o711);
      }
    }
    const dir = mkdtempSync(join(this.workRoot, `${name}-`));
    if (this.runAs) chownSync(dir, this.runAs.uid, this.runAs.gid);
    return dir;
  }

  private removeWorkDir(inst: ProcessInstance): void {
    const dir = this.workDirs.get(inst);
    if (dir === undefined) return;
    this.workDirs.delete(inst);
    rmSync(dir, { recursive: true, force: true });
  }

  /** Removes what is left of the working directories (the root too, when it is ours). */
  private removeWorkRoot(): void {
    for (const dir of this.workDirs.values()) rmSync(dir, { recursive: true, force: true });
    this.workDirs.clear();
    if (this.workRoot !== null && !this.opts.workDir) rmSync(this.workRoot, { recursive: true, force: true });
    this.workRoot = null;
  }

  private envFor(g: VersionGroup, name: string, port: number, outboundPort: number, cwd: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of SECRET_ENV) delete env[k];
    if (this.runAs) {
      // root's HOME and USER would point the workload at files it may not touch.
      env.HOME = cwd;
      env.USER = env.LOGNAME = this.runAs.user;
    }
    env.SERVICE_NAME = g.service;
    env.SERVICE_VERSION = g.version;
    Object.assign(env, this.opts.env ?? {}, g.workload.env);
    // The mesh's own variables always win: the proxy and the route table rely on them.
    env.PORT = String(port);
    env.MESH_OUTBOUND = `http://127.0.0.1:${outboundPort}`;
    env.MESH_INSTANCE = name;
    return env;
  }

  private async retire(inst: ProcessInstance): Promise<void> {
    this.draining.add(inst);
    try {
      await inst.stop(this.drainMs, this.unreadyDelayMs);
    } finally {
      this.draining.delete(inst);
      this.ports.delete(inst.config.port);
      this.ports.delete(inst.config.outboundPort);
      this.removeWorkDir(inst);
      this.changed();
    }
  }

  /** Current instances of a version, then those still draining. */
  private instancesOf(service: string, version: string): ProcessInstance[] {
    const current = this.groups.get(key(service, version))?.instances ?? [];
    const leaving = [...this.draining].filter((i) => i.config.service === service && i.config.version === version);
    return [...current, ...leaving];
  }

  /** With the running child's pid (none between a crash and the restart), so spans name the process that served. */
  endpoints(service: string, version: string): Endpoint[] {
    return this.instancesOf(service, version).map((i) => {
      const ep: Endpoint = { address: `127.0.0.1:${i.config.port}`, instance: i.name, ready: i.isReady };
      const pid = i.status().pid;
      if (pid !== null) ep.pid = pid;
      return ep;
    });
  }

  /** With the running child's pid, as endpoints(): a restart changes the table, and proxies learn the new pid. */
  listeners(): OutboundListener[] {
    const all = [...[...this.groups.values()].flatMap((g) => g.instances), ...this.draining];
    return all.map((i) => {
      const l: OutboundListener = { port: i.config.outboundPort, service: i.config.service, version: i.config.version, instance: i.name };
      const pid = i.status().pid;
      if (pid !== null) l.pid = pid;
      return l;
    });
  }

  instances(service: string, version: string): InstanceStatus[] {
    return this.instancesOf(service, version).map((i) => i.status());
  }

  health(service: string, version: string): VersionHealth {
    const g = this.groups.get(key(service, version));
    if (!g) return { ready: false, failed: false, reason: `${service}/${version}: no process workload is running` };
    const ready = g.instances.filter((i) => i.isReady).length;
    const total = g.instances.length;
    if (ready > 0) return { ready: true, failed: false, reason: `${ready}/${total} instances ready` };
    const failed = g.instances.filter((i) => i.failedReason !== null);
    if (failed.length === total && total > 0) {
      return { ready: false, failed: true, reason: failed.map((i) => `${i.name}: ${i.failedReason}`).join('; ') };
    }
    const waiting = g.instances.map((i) => `${i.name} ${i.status().state}`).join(', ');
    return { ready: false, failed: false, reason: `0/${total} instances ready (${waiting})` };
  }

  logs(service: string, version: string, opts: { tail?: number; instance?: string } = {}): LogLine[] {
    const lines = this.instancesOf(service, version)
      .filter((i) => opts.instance === undefined || i.name === opts.instance)
      .flatMap((i) => i.logs.toArray());
    // Stable sort: each instance's lines keep their order; instances interleave by time.
    lines.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    const tail = opts.tail ?? this.logLines;
    return tail >= lines.length ? lines : lines.slice(lines.length - Math.max(0, tail));
  }

  onChange(listener: () => void): void {
    this.listenersOnChange.push(listener);
  }

  private changed(): void {
    for (const l of this.listenersOnChange) {
      try {
        l();
      } catch {
        // A listener's failure is its own; the supervisor keeps going.
      }
    }
  }

  async stopAll(): Promise<void> {
    this.closed = true;
    await this.lock;
    const all = [...this.groups.values()].flatMap((g) => g.instances);
    this.groups.clear();
    // Shutting down: no time to wait for proxies to notice, go straight to SIGTERM.
    await Promise.all([
      ...all.map(async (inst) => {
        this.draining.add(inst);
        try {
          await inst.stop(this.drainMs, 0);
        } finally {
          this.draining.delete(inst);
        }
      }),
      ...[...this.draining].map((inst) => inst.stop(this.drainMs, 0)),
    ]);
    await this.idle();
    this.ports.clear();
    this.removeWorkRoot();
    if (this.ownsLedger) this.ledger?.release();
    this.changed();
  }

  /**
   * Kills every process group synchronously (SIGTERM, up to `graceMs`, then SIGKILL): for signal and exit
   * handlers, where nothing asynchronous runs any more.
   */
  killAllSync(graceMs = 1000): void {
    this.closed = true;
    // First stop every supervisor, so that no instance is restarted when the kill below ends it.
    for (const inst of [...[...this.groups.values()].flatMap((g) => g.instances), ...this.draining]) inst.halt();
    const groups = [...this.liveGroups];
    if (groups.length > 0) stopGroupsSync(groups, graceMs);
    this.removeWorkRoot();
    for (const g of groups) {
      this.liveGroups.delete(g);
      this.ledger?.remove(g);
    }
    if (this.ownsLedger) this.ledger?.release();
  }
}

function key(service: string, version: string): string {
  return `${service}/${version}`;
}

function specKey(w: ProcessWorkload): string {
  const { replicas: _replicas, ...rest } = w;
  return stableJson(rest);
}

/** JSON with object keys sorted at every level, so equal workloads give equal keys. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const registered = new Set<ProcessRuntime>();
let installed = false;

/**
 * Makes sure no workload outlives this process: on SIGINT, SIGTERM, SIGHUP and at exit, every registered
 * runtime kills its process groups synchronously. Handlers are installed once per process, whatever the
 * number of runtimes. When nobody else listens for the signal, the signal's default action (exit) follows;
 * when someone does (e.g. `canary up` stopping its proxy), that listener decides when to exit.
 * Returns a function that unregisters this runtime.
 */
export function installExitHandlers(runtime: ProcessRuntime): () => void {
  registered.add(runtime);
  if (!installed) {
    installed = true;
    const killAll = (graceMs: number) => {
      for (const r of registered) r.killAllSync(graceMs);
    };
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const handler = () => {
        killAll(1000);
        if (process.listenerCount(sig) === 1) {
          // Only us: restore the default action and re-raise, so the process ends as the signal says.
          process.removeListener(sig, handler);
          process.kill(process.pid, sig);
        }
      };
      process.on(sig, handler);
    }
    process.on('exit', () => killAll(200));
  }
  return () => {
    registered.delete(runtime);
  };
}
