import { createRequire } from 'node:module';
import type { Pool } from 'undici';
import { Http1Pool } from './http1-upstream.js';
import { DEFAULT_PROXY_SETTINGS } from './proxy-settings.js';

// undici (about 20 MB of RSS with its wasm parser) serves only what the fast path hands over (node:http requests,
// mirrors), so it is loaded the first time one needs it rather than at start-up.
let undiciPool: typeof Pool | null = null;
function PoolClass(): typeof Pool {
  undiciPool ??= (createRequire(import.meta.url)('undici') as typeof import('undici')).Pool;
  return undiciPool;
}

export interface UpstreamPoolOptions {
  /** Most connections kept open to one endpoint. */
  connectionsPerEndpoint: number;
  /** Time allowed to open a TCP connection to an endpoint. */
  connectTimeoutMs: number;
  /** Inactivity allowed while waiting for an answer (fast path); default: the proxy's `upstreamTimeoutMs`. */
  upstreamTimeoutMs?: number;
}

/**
 * Keep-alive connection pools, one undici Pool per endpoint address (docs/adr/0002-proxy-upstream-client.md says
 * why undici). Pools outlive route-table snapshots: a new table reuses the warm connections of every endpoint it
 * keeps, and pools of endpoints it drops are closed gracefully (requests in flight on them finish first).
 */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();
  private readonly fast = new Map<string, Http1Pool>();

  constructor(private readonly options: UpstreamPoolOptions) {}

  get(address: string): Pool {
    let pool = this.pools.get(address);
    if (pool === undefined) {
      pool = new (PoolClass())(`http://${address}`, {
        connections: this.options.connectionsPerEndpoint,
        pipelining: 1,
        connect: { timeout: this.options.connectTimeoutMs },
      });
      this.pools.set(address, pool);
    }
    return pool;
  }

  /** The fast path's HTTP/1.1 pool for `address`. */
  http1(address: string): Http1Pool {
    let pool = this.fast.get(address);
    if (pool === undefined) {
      pool = new Http1Pool(address, {
        maxConnections: this.options.connectionsPerEndpoint,
        connectTimeoutMs: this.options.connectTimeoutMs,
        timeoutMs: this.options.upstreamTimeoutMs ?? DEFAULT_PROXY_SETTINGS.upstreamTimeoutMs,
      });
      this.fast.set(address, pool);
    }
    return pool;
  }

  /** Closes the pools of addresses not in `keep`, after their requests in flight complete. */
  retainOnly(keep: ReadonlySet<string>): void {
    for (const [address, pool] of this.fast) {
      if (keep.has(address)) continue;
      this.fast.delete(address);
      pool.close();
    }
    for (const [address, pool] of this.pools) {
      if (keep.has(address)) continue;
      this.pools.delete(address);
      pool.close().catch(() => undefined);
    }
  }

  async closeAll(): Promise<void> {
    for (const pool of this.fast.values()) pool.close();
    this.fast.clear();
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.close().catch(() => undefined)));
  }

  /** Aborts every upstream request and closes every connection at once. */
  async destroyAll(): Promise<void> {
    for (const pool of this.fast.values()) pool.close();
    this.fast.clear();
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => undefined)));
  }
}
