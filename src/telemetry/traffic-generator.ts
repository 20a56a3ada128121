import { Agent, request } from 'node:http';
import { durationSlot, FINE_SLOTS, quantileOf } from '../telemetry-wire/histogram-layout.js';

export interface TrafficGeneratorOptions {
  /** The URL to GET (http only). */
  url: string;
  /** Requests per second (open loop: sent on schedule whether or not earlier ones have answered). */
  rate: number;
  /** Stop after this long; default: until stop(). */
  durationMs?: number;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** Most requests in flight; past it a scheduled request is skipped and counted. Default 256. */
  maxInFlight?: number;
  headers?: Record<string, string>;
}

export interface TrafficStats {
  sent: number;
  completed: number;
  /** 2xx-3xx answers. */
  ok: number;
  /** 4xx/5xx answers. */
  failed: number;
  /** Connection errors and timeouts. */
  errors: number;
  skipped: number;
  statuses: Record<string, number>;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  elapsedMs: number;
  /** Completed requests per second since the start. */
  rate: number;
  successRate: number | null;
}

/**
 * A steady open-loop HTTP load (the seed curls the product page every 0.5 s): `canary load` and the demo's
 * traffic switch. Keeps counts and a latency histogram; `window()` gives the stats since the last call for a
 * live line.
 */
export class TrafficGenerator {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly target: URL;
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private startedAt = 0;
  private readonly total = newCounts();
  private recent = newCounts();
  private recentSince = 0;
  private done: Promise<void> | null = null;
  private resolveDone: (() => void) | null = null;
  running = false;

  constructor(private readonly options: TrafficGeneratorOptions) {
    if (!(options.rate > 0 && options.rate <= 10_000))
      throw new Error(`rate: must be from 0 to 10000 requests per second, got ${options.rate}`);
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new Error(`url: must be an http:// URL such as http://127.0.0.1:8000/productpage, got "${options.url}"`);
    }
    if (url.protocol !== 'http:') throw new Error(`url: only http:// is supported, got "${options.url}"`);
    this.target = url;
  }

  get rate(): number {
    return this.options.rate;
  }

  get url(): string {
    return this.options.url;
  }

  /** Starts sending; the promise of `finished()` settles at the end of the duration or on stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.startedAt = performance.now();
    this.recentSince = this.startedAt;
    this.done = new Promise((r) => (this.resolveDone = r));
    const interval = 1000 / this.options.rate;
    let next = this.startedAt;
    const until = this.options.durationMs === undefined ? Number.POSITIVE_INFINITY : this.startedAt + this.options.durationMs;
    // Ticks every 5-50 ms and sends what the schedule owes, so high rates do not need one timer per request.
    const tick = () => {
      const now = performance.now();
      while (next <= now && next < until) {
        this.fire();
        next += interval;
      }
      if (next >= until) {
        void this.stop();
        return;
      }
      this.timer = setTimeout(tick, Math.max(5, Math.min(50, next - performance.now())));
    };
    tick();
  }

  finished(): Promise<void> {
    return this.done ?? Promise.resolve();
  }

  /** Stops sending and waits (up to the timeout) for requests in flight. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const deadline = Date.now() + (this.options.timeoutMs ?? 10_000);
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.agent.destroy();
    this.resolveDone?.();
  }

  stats(): TrafficStats {
    return statsOf(this.total, (this.running ? performance.now() : performance.now()) - this.startedAt);
  }

  /** Stats since the previous call (for a live line). */
  window(): TrafficStats {
    const now = performance.now();
    const s = statsOf(this.recent, now - this.recentSince);
    this.recent = newCounts();
    this.recentSince = now;
    return s;
  }

  private fire(): void {
    const counts = [this.total, this.recent];
    if (this.inFlight >= (this.options.maxInFlight ?? 256)) {
      for (const c of counts) c.skipped++;
      return;
    }
    this.inFlight++;
    for (const c of counts) c.sent++;
    const t0 = performance.now();
    const finish = (status: number | null) => {
      this.inFlight--;
      const ms = performance.now() - t0;
      for (const c of [this.total, this.recent]) {
        c.completed++;
        if (status === null) c.errors++;
        else {
          c.statuses[status] = (c.statuses[status] ?? 0) + 1;
          if (status < 400) c.ok++;
          else c.failed++;
        }
        c.fine[durationSlot(ms)]!++;
      }
    };
    const req = request(
      {
        host: this.target.hostname,
        port: this.target.port || 80,
        path: `${this.target.pathname}${this.target.search}`,
        method: 'GET',
        agent: this.agent,
        headers: { 'user-agent': 'canary-load', ...this.options.headers },
        timeout: this.options.timeoutMs ?? 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode ?? 0));
        res.on('error', () => finish(null));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => finish(null));
    req.end();
  }
}

/** The counters behind `TrafficStats`, with the latency histogram its quantiles come from. */
type Counts = Pick<TrafficStats, 'sent' | 'completed' | 'ok' | 'failed' | 'errors' | 'skipped' | 'statuses'> & { fine: Uint32Array };

function newCounts(): Counts {
  return { sent: 0, completed: 0, ok: 0, failed: 0, errors: 0, skipped: 0, statuses: {}, fine: new Uint32Array(FINE_SLOTS) };
}

function statsOf(c: Counts, elapsedMs: number): TrafficStats {
  const round = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);
  return {
    sent: c.sent,
    completed: c.completed,
    ok: c.ok,
    failed: c.failed,
    errors: c.errors,
    skipped: c.skipped,
    statuses: { ...c.statuses },
    latencyMs: {
      p50: round(quantileOf(c.fine, c.completed, 0.5)),
      p95: round(quantileOf(c.fine, c.completed, 0.95)),
      p99: round(quantileOf(c.fine, c.completed, 0.99)),
    },
    elapsedMs: Math.round(elapsedMs),
    rate: elapsedMs > 0 ? Math.round((c.completed / elapsedMs) * 10000) / 10 : 0,
    successRate: c.completed === 0 ? null : Math.round((c.ok / c.completed) * 10000) / 10000,
  };
}

/** `30s`, `2m`, `1h`, `500ms` or a number of seconds -> milliseconds. */
export function parseDuration(text: string, flag = 'duration'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`${flag}: must be a duration such as 30s, 2m, 1h or 500ms, got "${text}"`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}
