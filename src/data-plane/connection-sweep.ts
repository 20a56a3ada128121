import type { Socket } from 'node:net';
import type { ProxyLimits } from './proxy-settings.js';

/** A client connection the sweep looks at once per period. */
export interface SweptConnection {
  sweep(): void;
}

/** Longest sweep period: a timeout fires within one period of its value. */
const MAX_PERIOD_MS = 1000;
const MIN_PERIOD_MS = 10;

/**
 * The proxy's client-side timeouts (header, idle, send, queue) are enforced by one coarse sweep per proxy rather
 * than a timer per socket or per request: a socket timer is re-armed on every read and every write (four times per
 * proxied request, counting the upstream's), the sweep costs nothing per request. Each connection counts sweeps
 * since its last event of interest and compares the count with the limits below, expressed in sweeps; a timeout
 * therefore fires within one period of its value (the period is a quarter of the shortest timeout, at most 1 s).
 */
export class ConnectionSweep {
  periodMs: number;
  /** The limits in sweeps. */
  headerSweeps = 0;
  idleSweeps = 0;
  sendSweeps = 0;
  queueSweeps = 0;
  private limits: ProxyLimits;
  private readonly members = new Set<SweptConnection>();
  private timer: NodeJS.Timeout | null = null;

  constructor(limits: ProxyLimits) {
    this.limits = limits;
    this.periodMs = periodFor(limits);
    this.setLimits(limits);
  }

  get current(): ProxyLimits {
    return this.limits;
  }

  /** New limits for every connection, open ones included (a reloaded file); the period follows the shortest. */
  setLimits(limits: ProxyLimits): void {
    this.limits = limits;
    const period = periodFor(limits);
    if (period !== this.periodMs) {
      this.periodMs = period;
      if (this.timer !== null) {
        clearInterval(this.timer);
        this.timer = null;
        this.start();
      }
    }
    const inSweeps = (ms: number): number => Math.max(1, Math.ceil(ms / this.periodMs));
    this.headerSweeps = inSweeps(limits.headerTimeoutMs);
    this.idleSweeps = inSweeps(limits.idleTimeoutMs);
    this.sendSweeps = inSweeps(limits.sendTimeoutMs);
    this.queueSweeps = inSweeps(limits.queueTimeoutMs);
  }

  get size(): number {
    return this.members.size;
  }

  add(conn: SweptConnection): void {
    this.members.add(conn);
    if (this.timer === null) this.start();
  }

  private start(): void {
    this.timer = setInterval(() => {
      for (const c of this.members) c.sweep();
    }, this.periodMs);
    this.timer.unref();
  }

  delete(conn: SweptConnection): void {
    this.members.delete(conn);
    if (this.members.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

/** A quarter of the shortest timeout, within 10 ms..1 s. */
function periodFor(limits: ProxyLimits): number {
  const shortest = Math.min(limits.headerTimeoutMs, limits.idleTimeoutMs, limits.sendTimeoutMs, limits.queueTimeoutMs);
  return Math.max(MIN_PERIOD_MS, Math.min(MAX_PERIOD_MS, Math.floor(shortest / 4)));
}

type HandleWithQueue = { writeQueueSize?: unknown };

/**
 * Bytes of `socket` not yet taken by the kernel. `writableLength` counts a chunk until the whole of it is written,
 * so a 64 KB chunk read slowly looks stuck; libuv's own count (`writeQueueSize` on the handle, updated as each
 * partial write lands) shows the progress. Node does not document that field: without it, `writableLength` alone
 * serves (a slow reader of big chunks may then be cut sooner). fast-connection.test.ts fails loudly if it goes.
 */
export function unsentBytes(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: HandleWithQueue | null })._handle;
  const queued = handle?.writeQueueSize;
  return typeof queued === 'number' ? socket.writableLength + queued : socket.writableLength;
}

/**
 * Watches the answer bytes waiting for one client: `check()`, once per sweep, counts the sweeps in which bytes were
 * waiting and none left, and says when they reach the send timeout. A client reading slowly makes progress and is
 * never cut; one that stopped reading is.
 */
export class SendWatch {
  private last = 0;
  private stalls = 0;

  /** True when the client has taken nothing for `limit` sweeps while bytes waited for it. */
  check(socket: Socket, limit: number): boolean {
    if (socket.writableLength === 0) {
      this.last = 0;
      this.stalls = 0;
      return false;
    }
    const unsent = unsentBytes(socket);
    if (unsent < this.last) this.stalls = 0;
    else this.stalls++;
    this.last = unsent;
    return this.stalls >= limit;
  }

  /** The client drained what was queued: progress. */
  reset(): void {
    this.last = 0;
    this.stalls = 0;
  }
}
