import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RouteTable } from '../core/index.js';
import { applyRouteTableDelta, type RouteTableDelta } from '../core/route-table-delta.js';
import { consoleProxyLogger, type ProxyLogger } from './proxy-logger.js';
import type { RouteSource } from './route-source.js';

export interface ControlPlaneRouteSourceOptions {
  /** Control plane base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  token: string;
  logger?: ProxyLogger;
  /** First reconnect delay; doubles up to maxBackoffMs. Default 250. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** No byte (snapshot or `: ping`) for this long means the stream is dead: reconnect. Default 45000 (3 pings). */
  idleTimeoutMs?: number;
  /** How long start() waits for the first snapshot before returning anyway. Default 5000. */
  initialWaitMs?: number;
}

function looksLikeRouteTable(value: unknown): value is RouteTable {
  const t = value as Partial<RouteTable> | null;
  return typeof t === 'object' && t !== null && typeof t.revision === 'number' && Array.isArray(t.services) && Array.isArray(t.listeners);
}

function looksLikeDelta(value: unknown): value is RouteTableDelta {
  const d = value as Partial<RouteTableDelta> | null;
  const part = (p: unknown) => {
    const q = p as { upsert?: unknown; remove?: unknown } | null;
    return typeof q === 'object' && q !== null && Array.isArray(q.upsert) && Array.isArray(q.remove);
  };
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof d.fromRevision === 'number' &&
    typeof d.revision === 'number' &&
    typeof d.generatedAt === 'string' &&
    part(d.services) &&
    part(d.listeners)
  );
}

/**
 * Follows the control plane's `GET /api/v1/route-table/watch?deltas=1` (server-sent events: `event: snapshot`
 * with the table as data on connect, then `event: delta` with what changed for each new revision; `: ping` every
 * 15 s). A delta applied to the last table received gives the new table, which goes the same way as a snapshot
 * (the proxy reuses the compiled routers of unchanged services); a delta that does not start from the last table
 * received makes it reconnect, for a snapshot. Applies each table of a higher revision; keeps serving the last
 * table while the control plane is away; reconnects with exponential back-off and resyncs from the snapshot sent
 * on connect. That first snapshot of a connection is applied whenever its revision differs, so a control plane
 * that restarted with a fresh store (revisions counting from 1 again) is followed too. A control plane that knows
 * no deltas ignores the parameter and sends snapshots only, which are followed as before.
 */
export class ControlPlaneRouteSource implements RouteSource {
  readonly description: string;
  private readonly logger: ProxyLogger;
  private readonly watchUrl: URL;
  private apply: ((table: RouteTable) => Promise<void>) | null = null;
  private revision = 0;
  /** The last whole table the control plane sent or a delta led to (applied or refused): what deltas build on. */
  private received: RouteTable | null = null;
  private attempts = 0;
  private closed = false;
  private req: ClientRequest | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private connected = false;
  private away = false;
  private firstSnapshot: (() => void) | null = null;
  /** Applies run one after another, in arrival order. */
  private applying: Promise<void> = Promise.resolve();

  constructor(private readonly options: ControlPlaneRouteSourceOptions) {
    this.logger = options.logger ?? consoleProxyLogger;
    const base = options.url.endsWith('/') ? options.url : `${options.url}/`;
    this.watchUrl = new URL('api/v1/route-table/watch?deltas=1', base);
    this.description = `control plane ${options.url}`;
  }

  /** Revision of the last table applied (0 before the first). */
  get appliedRevision(): number {
    return this.revision;
  }

  /** Whether a watch stream is open now. */
  get isConnected(): boolean {
    return this.connected;
  }

  async start(apply: (table: RouteTable) => Promise<void>): Promise<void> {
    this.apply = apply;
    const first = new Promise<void>((resolve) => {
      this.firstSnapshot = resolve;
    });
    this.connect();
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.options.initialWaitMs ?? 5_000);
    });
    const got = await Promise.race([first.then(() => true), waited]);
    clearTimeout(timer);
    if (!got) this.logger.warn(`no route table from ${this.options.url} yet; answering 404 until one arrives (still trying)`);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.req?.destroy();
    this.req = null;
    await this.applying;
  }

  private connect(): void {
    if (this.closed) return;
    const url = this.watchUrl;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, {
      headers: { authorization: `Bearer ${this.options.token}`, accept: 'text/event-stream' },
    });
    this.req = req;
    req.on('response', (res) => this.onResponse(req, res));
    req.on('error', (err) => this.lost(req, `cannot reach ${this.options.url}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    req.end();
    this.armIdleTimer(req);
  }

  private onResponse(req: ClientRequest, res: IncomingMessage): void {
    if (res.statusCode !== 200) {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 500) body += c;
      });
      res.on('end', () => {
        const hint = res.statusCode === 401 || res.statusCode === 403 ? ' (check --token / CANARY_TOKEN)' : '';
        this.lost(req, `${this.watchUrl.href} answered ${res.statusCode}${hint}: ${body.trim().slice(0, 300)}`);
      });
      res.on('error', () => undefined);
      return;
    }
    this.connected = true;
    let firstOnConnection = true;
    let buffer = '';
    /** Where to look for the next newline: a megabyte-long data line is scanned once, not once per chunk. */
    let scanFrom = 0;
    let event = '';
    let data: string[] = [];
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (req !== this.req) return;
      this.armIdleTimer(req);
      buffer += chunk;
      for (let nl = buffer.indexOf('\n', scanFrom); nl !== -1; nl = buffer.indexOf('\n')) {
        let line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          if (data.length > 0 && (event === 'snapshot' || event === '')) {
            // Until this stream's snapshot is read, a delta has nothing of this stream to build on.
            if (this.onSnapshot(data.join('\n'), firstOnConnection)) firstOnConnection = false;
          } else if (data.length > 0 && event === 'delta') {
            // Deltas build on this stream's snapshot only: a revision number alone may come from another store.
            if (firstOnConnection) this.logger.error(`ignored a route table delta from ${this.options.url} before any snapshot`);
            else if (!this.onDelta(req, data.join('\n'))) return;
          }
          event = '';
          data = [];
        } else if (line.startsWith(':')) {
          // comment (ping): only keeps the idle timer alive
        } else {
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          let value = colon === -1 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
        }
      }
      scanFrom = buffer.length;
    });
    res.on('end', () => this.lost(req, `the watch stream of ${this.options.url} ended`));
    res.on('error', (err) => this.lost(req, `the watch stream of ${this.options.url} failed: ${err.message}`));
  }

  /** Takes a snapshot; false when it could not be read (and was ignored). */
  private onSnapshot(text: string, firstOnConnection: boolean): boolean {
    let table: unknown;
    try {
      table = JSON.parse(text);
    } catch {
      this.logger.error(`ignored a snapshot from ${this.options.url} that is not JSON`);
      return false;
    }
    if (!looksLikeRouteTable(table)) {
      this.logger.error(`ignored a snapshot from ${this.options.url} without revision, services and listeners`);
      return false;
    }
    if (firstOnConnection || this.received === null || table.revision > this.received.revision) this.received = table;
    const newer = firstOnConnection ? table.revision !== this.revision : table.revision > this.revision;
    if (this.away) {
      this.away = false;
      this.logger.info(`control plane ${this.options.url} is back (revision ${table.revision})`);
    }
    this.attempts = 0;
    if (!newer) {
      this.firstSnapshot?.();
      this.firstSnapshot = null;
      return true;
    }
    this.enqueue(table);
    return true;
  }

  /** Applies a delta to the last table received; false when the stream `req` was dropped to resync. */
  private onDelta(req: ClientRequest, text: string): boolean {
    let delta: unknown;
    try {
      delta = JSON.parse(text);
    } catch {
      delta = null;
    }
    // A revision it cannot read is a revision missed: the next delta could not follow it.
    if (!looksLikeDelta(delta)) {
      this.logger.error(`a route table delta from ${this.options.url} is not JSON with fromRevision, revision and upsert/remove lists`);
      this.resync(req, 'route table delta unreadable');
      return false;
    }
    const base = this.received;
    if (base === null || delta.fromRevision !== base.revision) {
      this.resync(req, `route table delta ${delta.fromRevision} -> ${delta.revision} does not follow revision ${base?.revision ?? 'none'}`);
      return false;
    }
    if (delta.revision <= delta.fromRevision) return true;
    let table: RouteTable;
    try {
      table = applyRouteTableDelta(base, delta);
    } catch (err) {
      this.resync(req, `route table delta ${delta.fromRevision} -> ${delta.revision} cannot apply: ${(err as Error).message}`);
      return false;
    }
    this.received = table;
    this.attempts = 0;
    this.enqueue(table);
    return true;
  }

  /** Queues `table` to be applied after those before it. */
  private enqueue(table: RouteTable): void {
    const apply = this.apply;
    if (!apply) return;
    this.applying = this.applying.then(async () => {
      try {
        await apply(table);
        this.revision = table.revision;
      } catch (err) {
        this.logger.error(`route table revision ${table.revision} refused: ${(err as Error).message}; keeping revision ${this.revision}`);
      }
      this.firstSnapshot?.();
      this.firstSnapshot = null;
    });
  }

  private armIdleTimer(req: ClientRequest): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.lost(req, `no data from ${this.options.url} for ${this.idleTimeoutMs()} ms`),
      this.idleTimeoutMs(),
    );
    this.idleTimer.unref();
  }

  private idleTimeoutMs(): number {
    return this.options.idleTimeoutMs ?? 45_000;
  }

  /** Drops the stream `req` and opens a new one at once: the control plane starts every stream with a snapshot. */
  private resync(req: ClientRequest, why: string): void {
    if (req !== this.req || this.closed) return;
    this.logger.info(`${why}; reconnecting for a snapshot`);
    this.req = null;
    this.connected = false;
    req.destroy();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.connect();
  }

  /** The stream `req` is over: log once per outage, keep the table, reconnect after a back-off. */
  private lost(req: ClientRequest, why: string): void {
    if (req !== this.req || this.closed) return;
    this.req = null;
    this.connected = false;
    req.destroy();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (!this.away) {
      this.away = true;
      this.logger.warn(`${why}; keeping route table revision ${this.revision} and reconnecting`);
    }
    const min = this.options.minBackoffMs ?? 250;
    const max = this.options.maxBackoffMs ?? 10_000;
    const delay = Math.min(max, min * 2 ** this.attempts) * (0.8 + Math.random() * 0.4);
    this.attempts++;
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.retryTimer.unref();
  }
}
