import { Pool } from 'undici';
import { percentile } from './percentiles.js';

export interface FixedRateOptions {
  /** Base URL, e.g. http://127.0.0.1:8000 */
  origin: string;
  path?: string;
  headers?: Record<string, string>;
  rate: number;
  seconds: number;
  /** Keep-alive connections the requests spread over. Default 8. */
  connections?: number;
}

export interface FixedRateResult {
  sent: number;
  ok: number;
  failed: number;
  /** Latencies in ms, sorted. */
  latencies: Float64Array;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  /** Requests per second actually completed. */
  achievedRate: number;
  /** Wall-clock window of the run, for CPU accounting. */
  startedAt: number;
  endedAt: number;
}

/**
 * Open-loop load at a fixed rate: requests are started on schedule whether or not earlier ones have answered
 * (so a slow server is not hidden by a waiting client); latency is measured from the scheduled start, which
 * counts any delay the generator itself added (coordinated omission stays visible).
 */
export async function fixedRateLoad(o: FixedRateOptions): Promise<FixedRateResult> {
  const pool = new Pool(o.origin, { connections: o.connections ?? 8, pipelining: 1 });
  const total = Math.max(1, Math.round(o.rate * o.seconds));
  const latencies = new Float64Array(total);
  const interval = 1000 / o.rate;
  const path = o.path ?? '/';
  let sent = 0;
  let ok = 0;
  let failed = 0;
  let done = 0;
  const startedAt = performance.now();
  await new Promise<void>((resolve) => {
    const fire = (scheduled: number): void => {
      pool.request({ origin: o.origin, path, method: 'GET', ...(o.headers ? { headers: o.headers } : {}) }).then(
        async (res) => {
          await res.body.dump();
          const ms = performance.now() - scheduled;
          if (res.statusCode === 200) latencies[ok++] = ms;
          else failed++;
          if (++done === total) resolve();
        },
        () => {
          failed++;
          if (++done === total) resolve();
        },
      );
    };
    const tick = (): void => {
      const now = performance.now();
      while (sent < total && startedAt + sent * interval <= now) fire(startedAt + sent++ * interval);
      if (sent < total) setTimeout(tick, Math.max(0, Math.min(1, startedAt + sent * interval - performance.now())));
    };
    tick();
  });
  const endedAt = performance.now();
  await pool.close();
  const sorted = latencies.subarray(0, ok).sort();
  return {
    sent,
    ok,
    failed,
    latencies: sorted,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    achievedRate: (ok + failed) / ((endedAt - startedAt) / 1000),
    startedAt,
    endedAt,
  };
}

export interface PairedRateResult {
  /** One result per origin, in the order given. */
  results: FixedRateResult[];
}

/**
 * Open-loop load at a fixed rate to several origins at once: at every tick one request goes to each origin, so
 * that whatever delays the generator itself (a GC pause, a late timer, the other process on the core) falls on all
 * of them alike. Latency counts from the moment each request is handed to its client pool; the difference between
 * origins is what the paths differ by, which is what "added latency" means.
 */
export async function pairedFixedRateLoad(o: Omit<FixedRateOptions, 'origin'> & { origins: string[] }): Promise<PairedRateResult> {
  const total = Math.max(1, Math.round(o.rate * o.seconds));
  const interval = 1000 / o.rate;
  const path = o.path ?? '/';
  const lanes = o.origins.map((origin) => ({
    origin,
    pool: new Pool(origin, { connections: o.connections ?? 8, pipelining: 1 }),
    latencies: new Float64Array(total),
    ok: 0,
    failed: 0,
  }));
  let sent = 0;
  let done = 0;
  const expected = total * lanes.length;
  const startedAt = performance.now();
  await new Promise<void>((resolve) => {
    const fire = (lane: (typeof lanes)[number]): void => {
      const t0 = performance.now();
      lane.pool.request({ origin: lane.origin, path, method: 'GET', ...(o.headers ? { headers: o.headers } : {}) }).then(
        async (res) => {
          await res.body.dump();
          const ms = performance.now() - t0;
          if (res.statusCode === 200) lane.latencies[lane.ok++] = ms;
          else lane.failed++;
          if (++done === expected) resolve();
        },
        () => {
          lane.failed++;
          if (++done === expected) resolve();
        },
      );
    };
    const tick = (): void => {
      const now = performance.now();
      while (sent < total && startedAt + sent * interval <= now) {
        // Alternate which origin goes first, so neither always waits behind the other's send.
        for (let i = 0; i < lanes.length; i++) fire(lanes[(sent + i) % lanes.length]!);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, Math.min(1, startedAt + sent * interval - performance.now())));
    };
    tick();
  });
  const endedAt = performance.now();
  await Promise.all(lanes.map((l) => l.pool.close()));
  return {
    results: lanes.map((lane) => {
      const sorted = lane.latencies.subarray(0, lane.ok).sort();
      return {
        sent: total,
        ok: lane.ok,
        failed: lane.failed,
        latencies: sorted,
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
        achievedRate: (lane.ok + lane.failed) / ((endedAt - startedAt) / 1000),
        startedAt,
        endedAt,
      };
    }),
  };
}

export interface Sample {
  /** performance.now() when the request was sent and when its answer ended. */
  sentAt: number;
  doneAt: number;
  status: number;
  body: string;
}

/**
 * Closed-loop load: `concurrency` loops each send a request as soon as the previous one answered, recording every
 * answer, until `stop()`; returns the samples.
 */
export function closedLoopLoad(
  origin: string,
  concurrency: number,
  onSample: (s: Sample) => void,
  headers: Record<string, string> = {},
): { stop(): Promise<void> } {
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1 });
  let running = true;
  const loops: Promise<void>[] = [];
  for (let i = 0; i < concurrency; i++) {
    loops.push(
      (async () => {
        while (running) {
          const sentAt = performance.now();
          try {
            const res = await pool.request({ origin, path: '/', method: 'GET', headers });
            const body = await res.body.text();
            onSample({ sentAt, doneAt: performance.now(), status: res.statusCode, body });
          } catch (err) {
            onSample({ sentAt, doneAt: performance.now(), status: 0, body: (err as Error).message });
            await new Promise((r) => setTimeout(r, 5));
          }
        }
      })(),
    );
  }
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await pool.close();
    },
  };
}

/** Sends `count` requests one after another and counts the bodies (the version that answered). */
export async function countBodies(origin: string, count: number, headers: Record<string, string> = {}): Promise<Record<string, number>> {
  const pool = new Pool(origin, { connections: 1, pipelining: 1 });
  const counts: Record<string, number> = {};
  try {
    for (let i = 0; i < count; i++) {
      const res = await pool.request({ origin, path: '/', method: 'GET', headers });
      let body: string;
      if (res.statusCode === 200) body = await res.body.text();
      else {
        await res.body.dump();
        body = `status ${res.statusCode}`;
      }
      counts[body] = (counts[body] ?? 0) + 1;
    }
  } finally {
    await pool.close();
  }
  return counts;
}
