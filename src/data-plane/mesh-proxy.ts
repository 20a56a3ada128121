import type { AddressInfo, Socket } from 'node:net';
import { type ErrorDetail, InputError } from '../core/errors.js';
import { emptyRouteTable, type RouteTable } from '../core/route-table.js';
import { ConnectionSweep } from './connection-sweep.js';
import type { FastConnection, FastPathHost } from './fast-connection.js';
import { HttpRequestPath } from './http-request-path.js';
import { rawHeader } from './forward-headers.js';
import { type RequestHead, setRequestLimits } from './http1-wire.js';
import { llhttpParser } from './llhttp.js';
import { DEFAULT_MIRROR_LIMITS, MirrorComparisons, type MirrorLimits } from './mirror/mirror-comparisons.js';
import { OutlierDetector } from './outlier-detector.js';
import { OwnAnswerReporter } from './own-answer-reporter.js';
import type { ExchangeSettings } from './proxy-exchange.js';
import { ProxyListeners } from './proxy-listeners.js';
import { consoleProxyLogger, type ProxyLogger } from './proxy-logger.js';
import { checkProxyLimits, DEFAULT_PROXY_SETTINGS, type ProxyLimits } from './proxy-settings.js';
import type { RequestObserver } from './request-observer.js';
import { RequestRouter } from './request-router.js';
import { compileSnapshot } from './route-snapshot.js';
import type { ProxyTracer } from './telemetry/proxy-tracer.js';
import { UpgradeRequests } from './upgrade-request.js';
import { UpstreamPools } from './upstream-pools.js';

export interface MeshProxyOptions {
  /** Time an upstream has to send response headers (and between body chunks) before a 504. Defaults: DEFAULT_PROXY_SETTINGS. */
  upstreamTimeoutMs?: number;
  /** Time allowed to open a connection to an upstream. Default: the smaller of 5000 and upstreamTimeoutMs. */
  connectTimeoutMs?: number;
  /** Add `x-canary-version: <version>` to every proxied response (default: no extra headers). */
  exposeVersionHeader?: boolean;
  /** Called once per finished request (telemetry). Default: none, and then no records are built. */
  observer?: RequestObserver;
  /** Starts or continues traces and rewrites propagation headers (W3C, B3). Default: none (trace headers pass untouched). */
  tracer?: ProxyTracer;
  logger?: ProxyLogger;
  /** Most keep-alive connections per upstream endpoint. Default 256. */
  connectionsPerEndpoint?: number;
  /** Interface the outbound listeners bind. Default 127.0.0.1. */
  outboundHost?: string;
  /** How long closing a listener waits for requests in flight before cutting connections. */
  drainTimeoutMs?: number;
  /**
   * Carry plain HTTP/1.1 exchanges on the hand-written fast path (docs/adr/0004-proxy-http1-fast-path.md); anything unusual
   * still goes through node:http + undici. Default true; false: node:http + undici for everything.
   */
  fastPath?: boolean;
  /** Clock of outlier detection (milliseconds); tests inject one. Default Date.now. */
  clock?: () => number;
  /** Limits and timeouts (docs/proxy.md, "Limits and timeouts"); each unset one takes its default. Throws InputError when one is out of range. */
  limits?: Partial<ProxyLimits>;
  /** Bounds of mirroring: copies in flight (256), their body bytes (64 MiB), the pair's timeout (upstreamTimeoutMs). */
  mirror?: Partial<MirrorLimits>;
}

/**
 * The mesh proxy (data plane). `applyRouteTable` compiles a table once and swaps it in atomically: each request
 * reads the current snapshot once and uses it to the end, so a swap never fails a request in flight. The ingress
 * routes by the Host header's first label, else by the longest ingress path prefix; each outbound listener
 * knows its caller (one per workload instance) and routes by Host.
 *
 * A request moves forward through stages, each in its own file: a listener accepts (proxy-listeners.ts), the fast
 * path (fast-connection.ts) or node:http (http-request-path.ts, upgrade-request.ts) frames it, the router decides
 * (request-router.ts, mirror/), an exchange forwards it, and its outcome goes to telemetry.
 */
export class MeshProxy implements FastPathHost {
  private readonly pools: UpstreamPools;
  /** Passive outlier detection: what each endpoint has answered lately, and which are ejected. */
  readonly outliers: OutlierDetector;
  readonly settings: ExchangeSettings;
  private readonly router: RequestRouter;
  private readonly reporter: OwnAnswerReporter;
  private readonly listeners: ProxyListeners;
  private readonly sweeper: ConnectionSweep;
  /** Mirror copies in flight and the comparison of their answers, drained by the telemetry into each batch. */
  readonly mirrors: MirrorComparisons;
  private closed = false;

  constructor(options: MeshProxyOptions = {}) {
    const upstreamTimeoutMs = options.upstreamTimeoutMs ?? DEFAULT_PROXY_SETTINGS.upstreamTimeoutMs;
    const connectTimeoutMs = options.connectTimeoutMs ?? Math.min(5_000, upstreamTimeoutMs);
    const problems: ErrorDetail[] = [];
    const limits = checkProxyLimits(options.limits ?? {}, 'limits.', problems);
    if (problems.length > 0) throw InputError.fromDetails(problems);
    this.sweeper = new ConnectionSweep(limits);
    setRequestLimits(limits.maxHeadBytes, limits.maxTargetBytes);
    this.settings = {
      upstreamTimeoutMs,
      connectTimeoutMs,
      exposeVersionHeader: options.exposeVersionHeader ?? DEFAULT_PROXY_SETTINGS.exposeVersionHeader,
      observer: options.observer ?? null,
      limits,
    };
    const connectionsPerEndpoint = options.connectionsPerEndpoint ?? 256;
    this.pools = new UpstreamPools({ connectionsPerEndpoint, connectTimeoutMs, upstreamTimeoutMs });
    const logger: ProxyLogger = options.logger ?? consoleProxyLogger;
    this.outliers = new OutlierDetector({
      ...(options.clock ? { clock: options.clock } : {}),
      onEject: (e, ms) =>
        logger.warn(
          `outlier detection: ejected ${e.version.service} version ${e.version.name} endpoint ${e.address} (${e.instance}) ` +
            `for ${Math.round(ms / 1000)} s after consecutive errors`,
        ),
    });
    const snapshot = compileSnapshot(emptyRouteTable(), this.pools, this.outliers);
    this.mirrors = new MirrorComparisons({ ...DEFAULT_MIRROR_LIMITS, timeoutMs: upstreamTimeoutMs, ...options.mirror });
    this.router = new RequestRouter(snapshot, options.tracer ?? null, this.mirrors);
    this.reporter = new OwnAnswerReporter(this.settings, this.router.hop);
    this.listeners = new ProxyListeners({
      settings: this.settings,
      sweeper: this.sweeper,
      // The fast path frames with Node's own llhttp, driven directly: when that interface is not what it checks for,
      // node:http and undici carry everything (slower, same behaviour).
      fastPath: (options.fastPath ?? true) && llhttpParser() !== null,
      host: this,
      httpPath: new HttpRequestPath(this.router, this.reporter, this.settings, this.sweeper, connectionsPerEndpoint),
      upgrades: new UpgradeRequests(this.router, this.reporter, this.settings),
      logger,
      outboundHost: options.outboundHost ?? '127.0.0.1',
      drainTimeoutMs: options.drainTimeoutMs ?? DEFAULT_PROXY_SETTINGS.drainTimeoutMs,
    });
  }

  /** Client connections open now, over every listener. */
  get openConnections(): number {
    return this.listeners.openConnections;
  }

  /**
   * New limits for every listener and connection, open ones included (a static file's edited `proxy:` block). The
   * sweep keeps its period; node:http's own timeouts follow at once. Throws InputError when one is out of range.
   */
  setLimits(input: Partial<ProxyLimits>): void {
    const problems: ErrorDetail[] = [];
    const limits = checkProxyLimits(input, 'limits.', problems);
    if (problems.length > 0) throw InputError.fromDetails(problems);
    this.settings.limits = limits;
    this.sweeper.setLimits(limits);
    setRequestLimits(limits.maxHeadBytes, limits.maxTargetBytes);
    this.listeners.applyLimits(limits);
  }

  /** Revision of the route table in force (0 before the first). */
  get revision(): number {
    return this.router.snapshot.revision;
  }

  /**
   * Compiles `table` and makes it the one in force for every request that starts from now on. Throws, keeping
   * the previous table, when a rule does not compile. The returned promise settles once the outbound listeners
   * match the table (a port that cannot be bound is logged, not thrown).
   */
  applyRouteTable(table: RouteTable): Promise<void> {
    if (this.closed) return Promise.resolve();
    const next = compileSnapshot(table, this.pools, this.outliers, this.router.snapshot);
    this.router.snapshot = next;
    this.pools.retainOnly(next.addresses);
    this.outliers.retainOnly(next.health);
    return this.listeners.reconcile(next.listeners);
  }

  /**
   * Opens an ingress listener. Port 0 picks a free port; the address says which. With `handle` (a listening socket
   * someone else bound and keeps, as `canary up` does), it accepts on that instead of binding host:port.
   */
  listenIngress(host = '127.0.0.1', port = 8000, handle?: object): Promise<AddressInfo> {
    return this.listeners.listenIngress(host, port, handle);
  }

  /** Ports of the outbound listeners open now. */
  outboundPorts(): number[] {
    return this.listeners.outboundPorts();
  }

  /** Stops accepting, lets requests in flight finish (up to the drain timeout), then closes upstream pools. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listeners.close();
    await this.pools.closeAll();
  }

  /** FastPathHost: the connection goes to node:http for good, unread bytes first. */
  handOff(socket: Socket, pending: Buffer | null): void {
    this.listeners.handOff(socket, pending);
  }

  /** FastPathHost: the fast path's request, routed like any other and forwarded over the HTTP/1.1 pools. */
  routeFast(conn: FastConnection, head: RequestHead, body: Buffer | null): void {
    const observer = this.settings.observer;
    const startedAt = observer === null ? 0 : performance.now();
    const listener = conn.listener;
    const d = this.router.decide(head.method, head.url, head.raw, conn.remoteAddress, listener);
    if (d.status !== 0) {
      conn.answer(d.status, d.code, d.message);
      if (observer !== null) {
        this.reporter.report(
          listener,
          d.router,
          head.method,
          d.path,
          d.status,
          startedAt,
          d.versionName,
          rawHeader(head.raw, 'traceparent'),
          conn.remoteAddress,
        );
      }
      conn.done();
      return;
    }
    const h = d.headers;
    let text = `${head.method} ${d.url} HTTP/1.1\r\n`;
    for (let i = 0; i < h.length; i += 2) text += `${h[i]}: ${h[i + 1]}\r\n`;
    text += '\r\n';
    // The fast path has the body whole: the copy goes at once (unless the body is over the bound).
    let mirror = d.mirror;
    if (mirror !== null && !mirror.sendWith(body)) mirror = null;
    conn.forward(d.version!, d.endpoint!, d.path, text, body, mirror, startedAt, this.router.hop);
  }
}
