import { type ChildProcess, spawn } from 'node:child_process';
import type { GroupLedger } from '../workloads/process/group-ledger.js';
import { signalGroup, stopGroupsSync } from '../workloads/process/process-groups.js';

/** Restart timings of the proxy; the defaults are the documented behaviour, tests shorten them. */
export interface ProxySupervisorTimings {
  /** Delay before the second restart of a crash series (the first is at once); doubles per crash up to backoffMaxMs. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** A proxy that served this long before it crashed starts a new series: restarted at once again. */
  backoffResetAfterMs: number;
}

export const defaultProxySupervisorTimings: ProxySupervisorTimings = {
  backoffInitialMs: 200,
  backoffMaxMs: 30_000,
  backoffResetAfterMs: 30_000,
};

export interface ProxySupervisorEvent {
  type: 'started' | 'ready' | 'exited' | 'restarting';
  at: number;
  pid: number | null;
  /** For `restarting`: the delay before a process serves again (0 when the standby takes over). */
  delayMs?: number;
  message: string;
}

export interface ProxySupervisorOptions {
  /** How to start the proxy: `canary proxy --control-plane URL ...` with CANARY_SUPERVISED=1 (supervisor-link.ts). */
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** The ingress listening handle, bound once and kept across restarts; asked for by each proxy when it is ready to serve. */
  ingress: () => Promise<object>;
  /** The process ledger of the data directory: the proxy is listed with the workloads. */
  ledger?: GroupLedger | null;
  timings?: Partial<ProxySupervisorTimings>;
  /** Keep a standby proxy beside the serving one; default true. */
  standby?: boolean;
  log?: (line: string) => void;
  onEvent?: (e: ProxySupervisorEvent) => void;
}

interface ProxyProcess {
  child: ChildProcess;
  pid: number | null;
  /** When it started serving (0 while it has not). */
  servingSince: number;
  /** It asked for the ingress and waits for it. */
  asking: boolean;
}

/**
 * Runs the mesh proxy of `canary up` as a child process and keeps it running, with a standby beside it: a second
 * proxy process that has loaded and follows the route table but binds nothing. When the serving proxy dies, the
 * standby gets the ingress at once (it binds the outbound listeners and serves within milliseconds) and a new
 * standby starts. New processes after a crash series back off (200 ms, 400 ms, ... 30 s; the first at once), and a
 * proxy that served 30 s starts a new series, so a crash a day never costs more than the first. Each proxy has its
 * own process group, is listed in the ledger (a later `canary up` on the same data directory finds it), and holds
 * an IPC channel to this process: it learns from it that we died, however we died. The ingress socket stays here,
 * so connections made while no proxy accepts queue in the kernel rather than being refused.
 */
export class ProxySupervisor {
  private readonly timings: ProxySupervisorTimings;
  private active: ProxyProcess | null = null;
  private standby: ProxyProcess | null = null;
  private crashesInRow = 0;
  private standbyFailures = 0;
  private stopping = false;
  private spawnTimer: NodeJS.Timeout | null = null;
  private firstStart: { resolve: () => void; reject: (err: Error) => void } | null = null;
  /** Restarts after crashes so far. */
  restarts = 0;

  constructor(private readonly opts: ProxySupervisorOptions) {
    this.timings = { ...defaultProxySupervisorTimings, ...opts.timings };
  }

  /** The serving proxy's pid (null between a crash and a restart). */
  get pid(): number | null {
    return this.active?.pid ?? null;
  }

  /** The standby's pid, if one runs. */
  get standbyPid(): number | null {
    return this.standby?.pid ?? null;
  }

  /** A standby has its route table and waits for the ingress: a crash now costs no process start. */
  get standbyWaiting(): boolean {
    return this.standby?.asking ?? false;
  }

  /** Starts the proxy; resolves once it serves, rejects when the first one ends before (it printed why). */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.firstStart = { resolve, reject };
      this.active = this.spawnProxy('proxy');
    });
  }

  private spawnProxy(name: 'proxy' | 'proxy-standby'): ProxyProcess {
    const child = spawn(this.opts.command, this.opts.args, {
      env: name === 'proxy-standby' ? { ...this.opts.env, CANARY_PROXY_STANDBY: '1' } : this.opts.env,
      // Its own group: a Ctrl-C in our terminal reaches us, and we stop it in order (requests in flight finish).
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const p: ProxyProcess = { child, pid: child.pid ?? null, servingSince: 0, asking: false };
    if (p.pid !== null) this.opts.ledger?.add(p.pid, name, 'proxy');
    this.emit({ type: 'started', at: Date.now(), pid: p.pid, message: `${name} started (pid ${p.pid})` });
    child.on('error', (err) => this.opts.log?.(`proxy: ${err.message}`));
    child.on('message', (message: unknown) => {
      const what = (message as { canaryProxy?: unknown } | null)?.canaryProxy;
      if (what === 'need-ingress') {
        p.asking = true;
        this.standbyFailures = 0;
        if (p === this.active) this.handIngress(p);
      } else if (what === 'ready') {
        p.servingSince = Date.now();
        this.emit({ type: 'ready', at: p.servingSince, pid: p.pid, message: `proxy serving (pid ${p.pid})` });
        this.firstStart?.resolve();
        this.firstStart = null;
        this.ensureStandby(0);
      }
    });
    child.once('exit', (code, signal) => this.onExit(p, signal ?? `code ${code}`));
    return p;
  }

  private handIngress(p: ProxyProcess): void {
    p.asking = false;
    this.opts.ingress().then(
      (handle) => {
        if (p.child.connected) p.child.send({ canaryUp: 'ingress' }, handle as Parameters<ChildProcess['send']>[1]);
      },
      (err: Error) => {
        this.opts.log?.(`proxy: no ingress: ${err.message}`);
        p.child.kill('SIGKILL');
      },
    );
  }

  /** After `delayMs`, a new serving proxy if there is none, else a standby if there is none (and standbys are on). */
  private ensureStandby(delayMs: number): void {
    if (this.standby || this.spawnTimer || this.stopping) return;
    if (this.active && this.opts.standby === false) return;
    this.spawnTimer = setTimeout(() => {
      this.spawnTimer = null;
      if (this.stopping || this.standby) return;
      if (this.active) {
        if (this.opts.standby !== false) this.standby = this.spawnProxy('proxy-standby');
      } else this.active = this.spawnProxy('proxy');
    }, delayMs);
  }

  private onExit(p: ProxyProcess, how: string): void {
    if (p.pid !== null) {
      // Whatever it left in its group goes with it.
      signalGroup(p.pid, 'SIGKILL');
      this.opts.ledger?.remove(p.pid);
    }
    const wasActive = p === this.active;
    if (wasActive) this.active = null;
    if (p === this.standby) this.standby = null;
    this.emit({ type: 'exited', at: Date.now(), pid: p.pid, message: `proxy (pid ${p.pid}) exited (${how})` });
    if (this.stopping) return;
    if (this.firstStart && wasActive) {
      this.firstStart.reject(new Error(`the mesh proxy exited before it served (${how})`));
      this.firstStart = null;
      return;
    }
    if (!wasActive) {
      // A standby died: another one, unhurried, and slower each time one dies before it got its table.
      this.standbyFailures = p.asking ? 0 : this.standbyFailures + 1;
      this.ensureStandby(Math.min(1000 * 2 ** this.standbyFailures, this.timings.backoffMaxMs));
      return;
    }
    if (p.servingSince > 0 && Date.now() - p.servingSince >= this.timings.backoffResetAfterMs) this.crashesInRow = 0;
    this.crashesInRow++;
    // The first crash of a series is replaced at once; a series waits longer before each new process.
    const delay =
      this.crashesInRow === 1 ? 0 : Math.min(this.timings.backoffInitialMs * 2 ** (this.crashesInRow - 2), this.timings.backoffMaxMs);
    this.restarts++;
    const standby = this.standby;
    if (standby) {
      // The standby takes over now, whatever the series: it costs no start.
      this.standby = null;
      this.active = standby;
      if (standby.pid !== null) this.opts.ledger?.add(standby.pid, 'proxy', 'proxy');
      if (standby.asking) this.handIngress(standby);
    }
    this.emit({
      type: 'restarting',
      at: Date.now(),
      pid: p.pid,
      delayMs: standby ? 0 : delay,
      message: standby
        ? `proxy exited (${how}); the standby (pid ${standby.pid}) serves, a new standby in ${delay} ms`
        : `proxy exited (${how}); restarting in ${delay} ms`,
    });
    this.ensureStandby(delay);
  }

  private emit(e: ProxySupervisorEvent): void {
    if (e.type === 'restarting') this.opts.log?.(e.message);
    this.opts.onEvent?.(e);
  }

  /** SIGTERM (requests in flight finish), up to `graceMs`, then SIGKILL; no restart. */
  async stop(graceMs = 3000): Promise<void> {
    this.stopping = true;
    if (this.spawnTimer) clearTimeout(this.spawnTimer);
    await Promise.all([this.active, this.standby].map((p) => (p ? stopProcess(p.child, graceMs) : undefined)));
  }

  /** For exit handlers: stops the proxies synchronously. */
  stopSync(graceMs = 1000): void {
    this.stopping = true;
    if (this.spawnTimer) clearTimeout(this.spawnTimer);
    const pids = [this.active, this.standby].flatMap((p) =>
      p?.pid != null && p.child.exitCode === null && p.child.signalCode === null ? [p.pid] : [],
    );
    if (pids.length === 0) return;
    stopGroupsSync(pids, graceMs);
    for (const pid of pids) this.opts.ledger?.remove(pid);
  }
}

async function stopProcess(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    signalGroup(child.pid, 'SIGKILL');
    await exited;
  }
}
