import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import type { ProcessWorkload } from '../../core/model.js';
import type { InstanceStatus } from '../workload-runtime.js';
import { LogRing } from './log-ring.js';
import { signalGroup } from './process-groups.js';

/** Timings of the supervisor; the defaults are the documented behaviour, tests shorten some of them. */
export interface ProcessTimings {
  /** Probe period until the instance is ready. */
  probeStartingMs: number;
  /** Probe period once it is ready. */
  probeReadyMs: number;
  /** How long one probe may take. */
  probeTimeoutMs: number;
  /** Failed probes in a row that make a ready instance unready. */
  unreadyAfterFailures: number;
  /** First restart delay after a crash; doubles per crash up to backoffMaxMs. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** An instance up this long before it crashed restarts after backoffInitialMs again. */
  backoffResetAfterMs: number;
  /** Crashes in a row before the first ready that make the instance fail for good. */
  maxCrashesBeforeReady: number;
}

export const defaultProcessTimings: ProcessTimings = {
  probeStartingMs: 200,
  probeReadyMs: 2000,
  probeTimeoutMs: 1000,
  unreadyAfterFailures: 3,
  backoffInitialMs: 200,
  backoffMaxMs: 30_000,
  backoffResetAfterMs: 60_000,
  maxCrashesBeforeReady: 5,
};

export type ProcessEventType = 'started' | 'ready' | 'unready' | 'exited' | 'restarting' | 'failed' | 'stopping' | 'stopped';

/** What happened to an instance, for the event log and the console. */
export interface ProcessRuntimeEvent {
  type: ProcessEventType;
  at: string;
  service: string;
  version: string;
  instance: string;
  pid: number | null;
  message: string;
}

export interface ProcessInstanceConfig {
  service: string;
  version: string;
  name: string;
  port: number;
  outboundPort: number;
  workload: ProcessWorkload;
  /** The child's working directory. */
  cwd: string;
  /** Run the child as this user and group (and no supplementary groups); only root can. */
  runAs?: { uid: number; gid: number };
  /** The complete environment of the child. */
  env: NodeJS.ProcessEnv;
  logLines: number;
  timings: ProcessTimings;
  onChange: () => void;
  onEvent: (e: ProcessRuntimeEvent) => void;
  /** Told about every process group started and ended, so the runtime can kill them all on exit. */
  onGroup: (pgid: number, alive: boolean) => void;
}

const MAX_LINE = 8192;

/**
 * One supervised replica of a process workload: spawns it in its own process group, probes its readiness,
 * restarts it with exponential back-off when it crashes, keeps its recent output, and stops it gracefully.
 * Its ports stay the same across restarts, so its endpoint and its outbound listener do not move.
 */
export class ProcessInstance {
  readonly logs: LogRing;
  private child: ChildProcess | null = null;
  private pgid: number | null = null;
  private state: InstanceStatus['state'] = 'starting';
  private ready = false;
  private restarts = 0;
  private startedAt: Date | null = null;
  private everReady = false;
  private crashesBeforeReady = 0;
  private backoffMs: number;
  private probeFailures = 0;
  private lastProbe = 'no probe yet';
  /** The child's last non-empty stderr line (supervisor notes excluded), quoted in failure reasons. */
  private lastStderr: string | undefined;
  private generation = 0;
  private probeTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private exitWaiters: (() => void)[] = [];
  private stopping: Promise<void> | null = null;
  private halted = false;
  /** Set when the instance gave up for good: why. */
  failedReason: string | null = null;

  constructor(readonly config: ProcessInstanceConfig) {
    this.logs = new LogRing(config.logLines);
    this.backoffMs = config.timings.backoffInitialMs;
  }

  get name(): string {
    return this.config.name;
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** True while the process (leader of its group) runs. */
  get running(): boolean {
    return this.child !== null;
  }

  /** The live process group, for synchronous kill-all on exit. */
  get processGroup(): number | null {
    return this.pgid;
  }

  status(): InstanceStatus {
    return {
      name: this.config.name,
      address: `127.0.0.1:${this.config.port}`,
      pid: this.child?.pid ?? null,
      ready: this.ready,
      restarts: this.restarts,
      state: this.state,
      startedAt: this.startedAt?.toISOString() ?? null,
      outboundPort: this.config.outboundPort,
    };
  }

  /** Starts the first process and the readiness deadline. */
  start(): void {
    const timeoutSeconds = this.config.workload.readiness?.timeoutSeconds ?? 60;
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = null;
      if (this.everReady || this.stopping || this.failedReason) return;
      const path = this.config.workload.readiness?.path ?? '/health';
      this.fail(`not ready within ${timeoutSeconds} s (GET ${path} on port ${this.config.port}: ${this.lastProbe})${this.stderrSuffix()}`);
    }, timeoutSeconds * 1000);
    this.spawnProcess();
  }

  private spawnProcess(): void {
    const { workload, env } = this.config;
    const gen = ++this.generation;
    this.state = 'starting';
    this.ready = false;
    this.probeFailures = 0;
    let child: ChildProcess;
    try {
      // detached: its own session and process group, so a stop reaches its children too and a Ctrl-C in our
      // terminal does not kill it behind the supervisor's back.
      // With uid/gid, libuv also drops root's supplementary groups (setgroups(0)) before exec.
      child = spawn(workload.command, workload.args, {
        cwd: this.config.cwd,
        env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(this.config.runAs ? { uid: this.config.runAs.uid, gid: this.config.runAs.gid } : {}),
      });
    } catch (err) {
      this.fail(`cannot start "${workload.command}": ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    child.once('error', (err) => {
      // Only a failed spawn (no pid) is fatal here; errors of a running child also end in 'exit'.
      if (child.pid === undefined && gen === this.generation) {
        this.child = null;
        this.fail(`cannot start "${workload.command}": ${err.message}`);
      }
    });
    if (child.pid === undefined) return; // the 'error' event follows
    this.child = child;
    this.pgid = child.pid;
    this.config.onGroup(child.pid, true);
    this.startedAt = new Date();
    this.captureLines(child, 'stdout');
    this.captureLines(child, 'stderr');
    child.once('exit', (code, signal) => this.handleExit(gen, code, signal));
    this.emit('started', `started pid ${child.pid}: ${workload.command} ${workload.args.join(' ')}`.trim());
    this.config.onChange();
    this.scheduleProbe(gen, this.config.timings.probeStartingMs);
  }

  private captureLines(child: ChildProcess, stream: 'stdout' | 'stderr'): void {
    const source = stream === 'stdout' ? child.stdout : child.stderr;
    if (!source) return;
    source.setEncoding('utf8');
    let partial = '';
    const push = (line: string) => {
      if (line.endsWith('\r')) line = line.slice(0, -1);
      this.logs.push({ at: new Date().toISOString(), instance: this.config.name, stream, line });
      if (stream === 'stderr' && line.trim() !== '') this.lastStderr = line;
    };
    source.on('data', (chunk: string) => {
      partial += chunk;
      let nl = partial.indexOf('\n');
      while (nl !== -1) {
        push(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
        nl = partial.indexOf('\n');
      }
      // A line without end is cut rather than kept growing.
      if (partial.length > MAX_LINE) {
        push(partial.slice(0, MAX_LINE));
        partial = partial.slice(MAX_LINE);
      }
    });
    source.on('end', () => {
      if (partial !== '') push(partial);
      partial = '';
    });
  }

  private scheduleProbe(gen: number, delayMs: number): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      this.probe(gen);
    }, delayMs);
  }

  private probe(gen: number): void {
    const path = this.config.workload.readiness?.path ?? '/health';
    let settled = false;
    const done = (ok: boolean, what: string) => {
      if (settled) return;
      settled = true;
      if (gen !== this.generation || !this.child || this.stopping) return;
      this.onProbe(gen, ok, what);
    };
    const req = request(
      { host: '127.0.0.1', port: this.config.port, path, method: 'GET', agent: false, timeout: this.config.timings.probeTimeoutMs },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        done(code >= 200 && code < 300, `answered ${code}`);
      },
    );
    req.on('timeout', () => {
      req.destroy();
      done(false, `no answer within ${this.config.timings.probeTimeoutMs} ms`);
    });
    req.on('error', (err: NodeJS.ErrnoException) => done(false, `failed: ${err.code ?? err.message}`));
    req.end();
  }

  private onProbe(gen: number, ok: boolean, what: string): void {
    const t = this.config.timings;
    this.lastProbe = what;
    if (ok) {
      this.probeFailures = 0;
      if (!this.ready) {
        this.ready = true;
        this.everReady = true;
        this.crashesBeforeReady = 0;
        this.state = 'ready';
        if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
        this.deadlineTimer = null;
        this.emit('ready', `ready on 127.0.0.1:${this.config.port}`);
        this.config.onChange();
      }
    } else if (this.ready) {
      this.probeFailures++;
      if (this.probeFailures >= t.unreadyAfterFailures) {
        this.ready = false;
        this.state = 'unready';
        this.emit('unready', `${this.probeFailures} readiness probes in a row failed (last ${what})`);
        this.config.onChange();
      }
    }
    this.scheduleProbe(gen, this.ready ? t.probeReadyMs : t.probeStartingMs);
  }

  private handleExit(gen: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (gen !== this.generation) return;
    const pid = this.child?.pid ?? null;
    const upMs = this.startedAt ? Date.now() - this.startedAt.getTime() : 0;
    this.child = null;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    this.ready = false;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    for (const w of this.exitWaiters.splice(0)) w();
    if (this.stopping || this.failedReason) {
      if (this.state !== 'stopping' || this.halted) this.state = 'exited';
      this.emit('exited', `pid ${pid} ended (${how})`, pid);
      return;
    }
    // A crash: whatever it left behind in its group goes too, then it restarts after a back-off.
    if (this.pgid !== null) {
      signalGroup(this.pgid, 'SIGKILL');
      this.config.onGroup(this.pgid, false);
      this.pgid = null;
    }
    this.emit('exited', `pid ${pid} ended (${how}) after ${upMs} ms`, pid);
    const t = this.config.timings;
    if (!this.everReady) {
      this.crashesBeforeReady++;
      if (this.crashesBeforeReady >= t.maxCrashesBeforeReady) {
        this.fail(`exited ${this.crashesBeforeReady} times in a row before becoming ready (last: ${how})${this.stderrSuffix()}`);
        return;
      }
    }
    if (upMs >= t.backoffResetAfterMs) this.backoffMs = t.backoffInitialMs;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, t.backoffMaxMs);
    this.restarts++;
    this.state = 'backoff';
    this.emit('restarting', `crashed (${how}); restart ${this.restarts} in ${delay} ms${this.stderrSuffix()}`);
    this.config.onChange();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopping && !this.failedReason) this.spawnProcess();
    }, delay);
  }

  private stderrSuffix(): string {
    const line = this.lastStderr;
    return line === undefined ? '' : `; last stderr: "${line.length > 300 ? `${line.slice(0, 300)}...` : line}"`;
  }

  /** Gives up for good: kills what runs and reports why. */
  private fail(reason: string): void {
    if (this.failedReason) return;
    this.failedReason = reason;
    this.clearTimers();
    this.ready = false;
    this.state = 'exited';
    if (this.pgid !== null) {
      signalGroup(this.pgid, 'SIGKILL');
      this.config.onGroup(this.pgid, false);
      this.pgid = null;
    }
    this.emit('failed', reason);
    this.config.onChange();
  }

  private clearTimers(): void {
    for (const t of [this.probeTimer, this.restartTimer, this.deadlineTimer]) if (t) clearTimeout(t);
    this.probeTimer = this.restartTimer = this.deadlineTimer = null;
  }

  /**
   * For the synchronous kill-all of exit handlers: from now on nothing restarts or probes; the caller kills
   * the process group itself.
   */
  halt(): void {
    this.halted = true;
    this.stopping ??= Promise.resolve();
    this.clearTimers();
    this.ready = false;
    this.state = this.child ? 'stopping' : 'exited';
  }

  /**
   * Graceful stop: unready at once (onChange, so routing drops it), `unreadyDelayMs` for the route table to
   * reach the proxies, SIGTERM to the process group, up to `drainMs` to exit, then SIGKILL to the group.
   */
  stop(drainMs: number, unreadyDelayMs: number): Promise<void> {
    this.stopping ??= this.doStop(drainMs, unreadyDelayMs);
    return this.stopping;
  }

  private async doStop(drainMs: number, unreadyDelayMs: number): Promise<void> {
    this.clearTimers();
    const wasReady = this.ready;
    this.ready = false;
    this.state = 'stopping';
    this.emit('stopping', `stopping (drain ${drainMs} ms)`);
    this.config.onChange();
    if (wasReady && unreadyDelayMs > 0 && this.child) await sleep(unreadyDelayMs);
    if (this.child && this.pgid !== null) {
      const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
      signalGroup(this.pgid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, drainMs)))]);
      clearTimeout(timer);
      if (this.child) {
        const killed = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
        signalGroup(this.pgid, 'SIGKILL');
        await Promise.race([killed, sleep(2000)]);
      }
    }
    if (this.pgid !== null) {
      // The leader is gone; anything it left in its group goes with it.
      signalGroup(this.pgid, 'SIGKILL');
      this.config.onGroup(this.pgid, false);
      this.pgid = null;
    }
    this.state = 'exited';
    this.emit('stopped', 'stopped');
    this.config.onChange();
  }

  private emit(type: ProcessEventType, message: string, pid: number | null = this.child?.pid ?? null): void {
    const { service, version, name } = this.config;
    const e: ProcessRuntimeEvent = { type, at: new Date().toISOString(), service, version, instance: name, pid, message };
    if (type === 'failed' || type === 'restarting' || type === 'unready') {
      this.logs.push({ at: e.at, instance: name, stream: 'stderr', line: `[supervisor] ${message}` });
    }
    this.config.onEvent(e);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
