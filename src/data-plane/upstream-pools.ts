import { Pool } from 'undici';

export interface UpstreamPoolOptions {
  /** Most connections kept open to one endpoint. */
  connectionsPerEndpoint: number;
  /** Time allowed to open a TCP connection to an endpoint. */
  connectTimeoutMs: number;
}

/**
 * Keep-alive connection pools, one undici Pool per endpoint address (docs/adr/0002-proxy-upstream-client.md says
 * why undici). Pools outlive route-table snapshots: a new table reuses the warm connections of every endpoint it
 * keeps, and pools of endpoints it drops are closed gracefully (requests in flight on them finish first).
 */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly options: UpstreamPoolOptions) {}

  get(address: string): Pool {
    let pool = this.pools.get(address);
    if (pool === undefined) {
      pool = new Pool(`http://${address}`, {
        connections: this.options.connectionsPerEndpoint,
        pipelining: 1,
        connect: { timeout: this.options.connectTimeoutMs },
      });
      this.pools.set(address, pool);
    }
    return pool;
  }

  /** Closes the pools of addresses not in `keep`, after their requests in flight complete. */
  retainOnly(keep: ReadonlySet<string>): void {
    for (const [address, pool] of this.pools) {
      if (keep.has(address)) continue;
      this.pools.delete(address);
      pool.close().catch(() => undefined);
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.close().catch(() => undefined)));
  }

  /** Aborts every upstream request and closes every connection at once. */
  async destroyAll(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => undefined)));
  }
}
