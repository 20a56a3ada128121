import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { repoRoot } from '../support/dist.js';

/** One request of the load: when it started and ended (ms, performance clock), and how it went. */
export interface LoadSample {
  path: string;
  start: number;
  end: number;
  ok: boolean;
  outcome: string;
}

/**
 * An open-loop load through the ingress: every `intervalMs` one request per path on a fresh connection (as the
 * seed's `curl` every 0.5 s does), whether or not earlier ones have answered, up to `maxInFlight`. Bounded: it
 * stops when told or after `maxMs`.
 */
export class IngressLoad {
  readonly samples: LoadSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private readonly started = Date.now();

  constructor(
    private readonly port: number,
    private readonly paths: string[],
    private readonly intervalMs = 50,
    private readonly timeoutMs = 3000,
    private readonly maxMs = 300_000,
    private readonly maxInFlight = 200,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (Date.now() - this.started > this.maxMs) return this.stop();
      for (const path of this.paths) if (this.inFlight < this.maxInFlight) this.fire(path);
    }, this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Resolves once every request sent has ended. */
  async drained(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs + 2000;
    while (this.inFlight > 0 && Date.now() < deadline) await sleep(20);
  }

  private fire(path: string): void {
    this.inFlight++;
    const start = performance.now();
    let done = false;
    const finish = (ok: boolean, outcome: string): void => {
      if (done) return;
      done = true;
      this.inFlight--;
      this.samples.push({ path, start, end: performance.now(), ok, outcome });
    };
    const req = request({ host: '127.0.0.1', port: this.port, path, agent: false, timeout: this.timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => finish(res.statusCode === 200, String(res.statusCode)));
      res.on('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
    req.end();
  }
}

/** What the load saw of one path between `from` and `to` (performance clock). */
export interface WindowFigures {
  requests: number;
  failed: number;
  outcomes: Record<string, number>;
  /** The longest time without a successful answer: from one success's end to the next's (ms). */
  outageMs: number;
}

export function figures(samples: readonly LoadSample[], path: string, from: number, to: number): WindowFigures {
  const inWindow = samples.filter((s) => s.path === path && s.start >= from && s.start < to);
  const outcomes: Record<string, number> = {};
  for (const s of inWindow) if (!s.ok) outcomes[s.outcome] = (outcomes[s.outcome] ?? 0) + 1;
  // Successes that ended around the window, in order of their end: the widest gap is the outage.
  const ends = samples
    .filter((s) => s.path === path && s.ok && s.end >= from - 1000 && s.end <= to + 1000)
    .map((s) => s.end)
    .sort((a, b) => a - b);
  let outageMs = 0;
  for (let i = 1; i < ends.length; i++) if (ends[i]! >= from) outageMs = Math.max(outageMs, ends[i]! - ends[i - 1]!);
  return { requests: inWindow.length, failed: inWindow.filter((s) => !s.ok).length, outcomes, outageMs: Math.round(outageMs) };
}

/** A ledger entry as `canary up` writes it (src/workloads/process/group-ledger.ts). */
export interface LedgerRow {
  pgid: number;
  name: string;
  kind: 'instance' | 'proxy' | 'watchdog' | 'supervisor';
  started: string | null;
  run: string;
}

export function readLedger(dataDir: string): LedgerRow[] {
  const file = join(dataDir, 'process-groups.json');
  if (!existsSync(file)) return [];
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LedgerRow[];
  } catch {
    return [];
  }
}

let bootId: string | undefined;

/** "<boot id>:<start ticks>" of a running process, as the ledger records it; null when it does not run. */
export function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (f[0] === 'Z' || f[0] === 'X') return null;
    bootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${bootId}:${f[19]}`;
  } catch {
    return null;
  }
}

/** Whether the very process a ledger row names still runs. */
export function stillRunning(row: LedgerRow): boolean {
  return row.started !== null && startTimeOf(row.pgid) === row.started;
}

/** Pids of running `canary proxy` processes that follow the control plane at `cpUrl` (read from /proc). */
export function proxiesFollowing(cpUrl: string): number[] {
  const out: number[] = [];
  for (const e of readdirNumeric('/proc')) {
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (argv.includes('proxy') && argv.includes(cpUrl) && startTimeOf(e) !== null) out.push(e);
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

function readdirNumeric(dir: string): number[] {
  return readdirSync(dir)
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** A `canary up` process with its output in a file. */
export interface UpProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<void>;
}

export function startUpProcess(args: string[], logFile: string): UpProcess {
  const env = { ...process.env };
  delete env.CANARY_ADMIN_TOKEN;
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'canary.js'), 'up', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let out = '';
  const log = createWriteStream(logFile, { flags: 'a' });
  for (const s of [child.stdout!, child.stderr!]) {
    s.setEncoding('utf8');
    s.on('data', (c: string) => {
      out += c;
      log.write(c);
    });
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, output: () => out, exited };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
