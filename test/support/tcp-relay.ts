import { type Server, type Socket, createConnection, createServer } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 in front of a server, for the failures a load balancer or an API server failover
 * causes: `stall()` stops forwarding on every connection open now, without closing any (the peers see a
 * silent, open connection); connections made afterwards are forwarded normally.
 */
export class TcpRelay {
  private server: Server | null = null;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; stalled: boolean }>();

  constructor(private readonly target: { host: string; port: number }) {}

  /** Listens on an ephemeral port; resolves to the relay's URL (http://127.0.0.1:PORT). */
  async start(): Promise<string> {
    this.server = createServer((client) => {
      const upstream = createConnection(this.target);
      const pair = { client, upstream, stalled: false };
      this.pairs.add(pair);
      client.on('data', (d) => {
        if (!pair.stalled) upstream.write(d);
      });
      upstream.on('data', (d) => {
        if (!pair.stalled) client.write(d);
      });
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end);
      upstream.on('close', end);
      client.on('error', end);
      upstream.on('error', end);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address() as { port: number };
    return `http://127.0.0.1:${addr.port}`;
  }

  /** Connections open now (through the relay). */
  connections(): number {
    return this.pairs.size;
  }

  /** Every connection open now goes silent (bytes are dropped both ways) but stays open. */
  stall(): void {
    for (const p of this.pairs) p.stalled = true;
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
