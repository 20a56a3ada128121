import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { cookieValue } from '../core/cookie.js';
import { type ErrorDetail, InputError } from '../core/errors.js';
import { emptyRouteTable, type OutboundListener, type RouteTable } from '../core/route-table.js';
import {
  absoluteTarget,
  emptyTraceHeaderIndexes,
  hostFirstLabel,
  rawHeader,
  shadowHost,
  upgradeRequestHeaders,
  upstreamRequestHeaders,
  type RequestHeaderFacts,
} from './forward-headers.js';
import { ConnectionSweep, SendWatch, type SweptConnection } from './connection-sweep.js';
import { FastConnection, type FastPathHost } from './fast-connection.js';
import {
  ANSWER_OPTIONS,
  FORWARD,
  REFUSE_CONNECT,
  REFUSE_TARGET,
  type Refusal,
  type RequestHead,
  proxyErrorAnswer,
  refusal,
  requestVerdict,
  setRequestLimits,
  targetTooLongSoFar,
} from './http1-wire.js';
import { llhttpParser } from './llhttp.js';
import { ProxyExchange, sendProxyError, type ExchangeSettings } from './proxy-exchange.js';
import { RequestOutcome, type ProxyErrorCode } from './request-outcome.js';
import { consoleProxyLogger, type ProxyLogger } from './proxy-logger.js';
import { checkProxyLimits, type ProxyLimits } from './proxy-settings.js';
import type { RequestObserver, RequestParty } from './request-observer.js';
import { ReusableRequestView } from './request-view.js';
import {
  compileSnapshot,
  isListenerParty,
  listenerParty,
  nextEndpoint,
  STICKY_COOKIE,
  STICKY_HEADER,
  STICKY_NONE,
  type CompiledEndpoint,
  type CompiledRule,
  type CompiledVersion,
  type RouteSnapshot,
  type ServiceRouter,
} from './route-snapshot.js';
import { emptyHopTrace, type HopTrace, type ProxyTracer } from './telemetry/proxy-tracer.js';
import { sendSocketError, type TunnelSettings, UpgradeTunnel } from './upgrade-tunnel.js';
import { UpstreamPools } from './upstream-pools.js';
import { OutlierDetector } from './outlier-detector.js';

export interface MeshProxyOptions {
  /** Time an upstream has to send response headers (and between body chunks) before a 504. Default 15000. */
  upstreamTimeoutMs?: number;
  /** Time allowed to open a connection to an upstream. Default: the smaller of 5000 and upstreamTimeoutMs. */
  connectTimeoutMs?: number;
  /** Add `x-canary-version: <version>` to every proxied response. Default false (no extra headers). */
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
  /** How long closing a listener waits for requests in flight before cutting connections. Default 10000. */
  drainTimeoutMs?: number;
  /**
   * Carry plain HTTP/1.1 exchanges on the hand-written fast path (docs/adr/0003-proxy-hot-path.md); anything unusual
   * still goes through node:http + undici. Default true; false: node:http + undici for everything.
   */
  fastPath?: boolean;
  /** Clock of outlier detection (milliseconds); tests inject one. Default Date.now. */
  clock?: () => number;
  /** Limits and timeouts (docs/proxy.md, "Limits and timeouts"); each unset one takes its default. Throws InputError when one is out of range. */
  limits?: Partial<ProxyLimits>;
}

interface ListenerState {
  /** The caller: null for the ingress. */
  source: RequestParty | null;
  ingress: boolean;
}

interface OpenListener {
  /** What accepts connections: the fast path's net server, or the node:http server itself. */
  server: NetServer;
  /** node:http for requests the fast path hands over (or all of them without the fast path). */
  http: Server;
  /** Connections on the fast path, for a graceful close (a connection handed over to node:http leaves it). */
  fast: Set<FastConnection>;
  /** Upgraded connections (WebSocket tunnels): cut at the drain deadline of a graceful close. */
  tunnels: Set<UpgradeTunnel>;
  state: ListenerState;
}

/** How long a refused connection (over the cap) may linger for its 503 to be read. */
const REFUSED_LINGER_MS = 1000;
/** At most one log line per this period about refused connections. */
const REFUSED_LOG_MS = 10_000;

/**
 * A connection node:http carries (handed over by the fast path, or every one without it): node:http applies the
 * header and idle timeouts itself; the sweep adds the send timeout, which node:http does not have.
 */
class HttpConnection implements SweptConnection {
  private readonly watch = new SendWatch();
  /** The latest request forwarded on this connection, and the sweeps it has been queued for. */
  exchange: ProxyExchange | null = null;
  queuedSweeps = 0;

  constructor(
    private readonly socket: Socket,
    private readonly sweeper: ConnectionSweep,
    private readonly connectionsPerEndpoint: number,
  ) {}

  sweep(): void {
    const sweeper = this.sweeper;
    if (this.watch.check(this.socket, sweeper.sendSweeps)) {
      this.socket.destroy();
      return;
    }
    const exchange = this.exchange;
    if (exchange === null) return;
    if (!exchange.queued) {
      this.queuedSweeps = 0;
      return;
    }
    if (++this.queuedSweeps >= sweeper.queueSweeps) {
      this.exchange = null;
      exchange.queueTimedOut(sweeper.current.queueTimeoutMs, this.connectionsPerEndpoint);
    }
  }
}

const kHttpConnection = Symbol('canary.httpConnection');
type WatchedSocket = Socket & { [kHttpConnection]?: HttpConnection };

/** What routing decided for one request; one scratch object per proxy (routing is synchronous). */
interface RouteDecision {
  /** 0: forward; else the status the proxy answers itself (404, 503). */
  status: number;
  code: ProxyErrorCode;
  message: string;
  headers: string[];
  url: string;
  path: string;
  hasBody: boolean;
  router: ServiceRouter | undefined;
  version: CompiledVersion | undefined;
  versionName: string;
  endpoint: CompiledEndpoint | undefined;
  mirrored: boolean;
}

// Requests whose copy goes to a mirror: a shared handler that ignores the answer (fire-and-forget).
const MIRROR_HANDLER: Dispatcher.DispatchHandlers = {
  onConnect: () => undefined,
  onHeaders: () => true,
  onData: () => true,
  onComplete: () => undefined,
  onError: () => undefined,
};

/** Requests of one node:http connection, forwarded one at a time in the order received. */
interface RequestLine {
  busy: boolean;
  /** A request was refused: nothing after it is forwarded. */
  refused: boolean;
  /** The answer to bytes llhttp refused, written once the requests before them are answered. */
  refusal: Refusal | null;
  /** The request being forwarded. */
  current: { req: IncomingMessage; res: ServerResponse } | null;
  waiting: { req: IncomingMessage; res: ServerResponse; listener: ListenerState }[];
}
const kLine = Symbol('canary.line');
type OrderedSocket = Socket & { [kLine]?: RequestLine };

const kHttpServer = Symbol('canary.http');
const kFastSet = Symbol('canary.fastSet');
const kFastConn = Symbol('canary.fastConn');
type HandedSocket = Socket & { [kHttpServer]?: Server; [kFastSet]?: Set<FastConnection>; [kFastConn]?: FastConnection };

function ignoreSocketError(): void {
  // The 'close' that follows ends whatever used the socket.
}

function newRequestId(): string {
  return randomUUID();
}

/** node:http's own timeouts for the connections it carries, from the proxy's limits. */
function applyHttpLimits(http: Server, limits: ProxyLimits): void {
  http.headersTimeout = limits.headerTimeoutMs;
  http.keepAliveTimeout = limits.idleTimeoutMs;
}

async function closeServer(listener: OpenListener, drainTimeoutMs: number): Promise<void> {
  const { server, http, fast, tunnels } = listener;
  if (!server.listening) return;
  const closeIdle = (): void => {
    http.closeIdleConnections();
    for (const conn of fast) if (!conn.busy) conn.socket.destroy();
  };
  await new Promise<void>((resolve) => {
    // Idle keep-alive connections go at once; busy ones when their request ends (polled), or at the deadline.
    const poll = setInterval(closeIdle, 50);
    const deadline = setTimeout(() => {
      http.closeAllConnections();
      for (const conn of fast) conn.socket.destroy();
      // Tunnels have no end of their own (a WebSocket may stay open for hours): they get the drain period too.
      for (const tunnel of tunnels) tunnel.destroy();
    }, drainTimeoutMs);
    server.close(() => {
      clearInterval(poll);
      clearTimeout(deadline);
      // The node:http server behind the fast path never listened: closing it only stops its connection checks.
      if (http !== server) http.close(() => undefined);
      resolve();
    });
    closeIdle();
  });
}

/**
 * The mesh proxy (data plane). `applyRouteTable` compiles a table once and swaps it in atomically: each request
 * reads the current snapshot once and uses it to the end, so a swap never fails a request in flight. The ingress
 * routes by the Host header's first label, else by the longest ingress path prefix; each outbound listener
 * knows its caller (one per workload instance) and routes by Host.
 */
export class MeshProxy implements FastPathHost {
  private snapshot: RouteSnapshot;
  private readonly pools: UpstreamPools;
  /** Passive outlier detection: what each endpoint has answered lately, and which are ejected. */
  readonly outliers: OutlierDetector;
  readonly settings: ExchangeSettings;
  private readonly tunnelSettings: TunnelSettings;
  private readonly fastPath: boolean;
  private readonly decision: RouteDecision = {
    status: 0,
    code: 'no-route',
    message: '',
    headers: [],
    url: '',
    path: '',
    hasBody: false,
    router: undefined,
    version: undefined,
    versionName: '',
    endpoint: undefined,
    mirrored: false,
  };
  private readonly logger: ProxyLogger;
  private readonly outboundHost: string;
  private readonly drainTimeoutMs: number;
  private readonly view = new ReusableRequestView();
  private readonly facts: RequestHeaderFacts = { host: '', hasBody: false, hostIndex: -1, trace: emptyTraceHeaderIndexes() };
  private readonly tracer: ProxyTracer | null;
  /** Outcome of the answers the proxy makes itself (reported at once, so one serves every request). */
  private readonly ownAnswer = new RequestOutcome();
  /** The current request's trace identity; route() is synchronous, so one scratch object serves every request. */
  private readonly hop: HopTrace = emptyHopTrace();
  private readonly ingress = new Set<OpenListener>();
  private readonly outbound = new Map<number, OpenListener>();
  private listenerWork: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly sweeper: ConnectionSweep;
  /** Client connections open now, over every listener (the `maxConnections` cap). */
  private connections = 0;
  private refused = 0;
  private refusedLoggedAt = 0;
  private readonly connectionsPerEndpoint: number;

  constructor(options: MeshProxyOptions = {}) {
    const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 15_000;
    const connectTimeoutMs = options.connectTimeoutMs ?? Math.min(5_000, upstreamTimeoutMs);
    const problems: ErrorDetail[] = [];
    const limits = checkProxyLimits(options.limits ?? {}, 'limits.', problems);
    if (problems.length > 0) throw InputError.fromDetails(problems);
    this.sweeper = new ConnectionSweep(limits);
    setRequestLimits(limits.maxHeadBytes, limits.maxTargetBytes);
    this.settings = {
      upstreamTimeoutMs,
      connectTimeoutMs,
      exposeVersionHeader: options.exposeVersionHeader ?? false,
      observer: options.observer ?? null,
      limits,
    };
    this.tunnelSettings = this.settings;
    this.connectionsPerEndpoint = options.connectionsPerEndpoint ?? 256;
    this.pools = new UpstreamPools({
      connectionsPerEndpoint: this.connectionsPerEndpoint,
      connectTimeoutMs,
      upstreamTimeoutMs,
    });
    // The fast path frames with Node's own llhttp, driven directly: when that interface is not what it checks for,
    // node:http and undici carry everything (slower, same behaviour).
    this.fastPath = (options.fastPath ?? true) && llhttpParser() !== null;
    this.tracer = options.tracer ?? null;
    this.logger = options.logger ?? consoleProxyLogger;
    this.outboundHost = options.outboundHost ?? '127.0.0.1';
    this.drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    const logger = this.logger;
    this.outliers = new OutlierDetector({
      ...(options.clock ? { clock: options.clock } : {}),
      onEject: (e, ms) =>
        logger.warn(
          `outlier detection: ejected ${e.version.service} version ${e.version.name} endpoint ${e.address} (${e.instance}) ` +
            `for ${Math.round(ms / 1000)} s after consecutive errors`,
        ),
    });
    this.snapshot = compileSnapshot(emptyRouteTable(), this.pools, this.outliers);
  }

  /** Client connections open now, over every listener. */
  get openConnections(): number {
    return this.connections;
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
    for (const l of [...this.ingress, ...this.outbound.values()]) applyHttpLimits(l.http, limits);
  }

  /** Revision of the route table in force (0 before the first). */
  get revision(): number {
    return this.snapshot.revision;
  }

  /**
   * Compiles `table` and makes it the one in force for every request that starts from now on. Throws, keeping
   * the previous table, when a rule does not compile. The returned promise settles once the outbound listeners
   * match the table (a port that cannot be bound is logged, not thrown).
   */
  applyRouteTable(table: RouteTable): Promise<void> {
    if (this.closed) return Promise.resolve();
    const next = compileSnapshot(table, this.pools, this.outliers, this.snapshot);
    this.snapshot = next;
    this.pools.retainOnly(next.addresses);
    this.outliers.retainOnly(next.health);
    const listeners = next.listeners;
    this.listenerWork = this.listenerWork.then(() => this.reconcileOutbound(listeners));
    return this.listenerWork;
  }

  /**
   * Opens an ingress listener. Port 0 picks a free port; the address says which. With `handle` (a listening socket
   * someone else bound and keeps, as `canary up` does), it accepts on that instead of binding host:port.
   */
  async listenIngress(host = '127.0.0.1', port = 8000, handle?: object): Promise<AddressInfo> {
    const state: ListenerState = { source: null, ingress: true };
    const listener = this.createListener(state);
    const server = listener.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const listening = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (handle) server.listen(handle, listening);
      else server.listen(port, host, listening);
    });
    server.on('error', (err) => this.logger.error(`ingress ${host}:${port}: ${err.message}`));
    this.ingress.add(listener);
    return server.address() as AddressInfo;
  }

  /** Ports of the outbound listeners open now. */
  outboundPorts(): number[] {
    return [...this.outbound.keys()].sort((a, b) => a - b);
  }

  /** Stops accepting, lets requests in flight finish (up to the drain timeout), then closes upstream pools. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listenerWork;
    const all = [...this.ingress, ...this.outbound.values()];
    this.ingress.clear();
    this.outbound.clear();
    await Promise.all(all.map((l) => closeServer(l, this.drainTimeoutMs)));
    await this.pools.closeAll();
  }

  private createListener(state: ListenerState): OpenListener {
    const limits = this.settings.limits;
    // Host is judged by requestVerdict, as on the fast path (node:http's own check answers without a reason).
    const http = createServer(
      {
        maxHeaderSize: limits.maxHeadBytes,
        requireHostHeader: false,
        // No cap on a whole request (a long upload streams through); the header timeout still applies.
        requestTimeout: 0,
        // node:http's own sweep of its connections, at the fast path's period (its default is 30 s).
        connectionsCheckingInterval: this.sweeper.periodMs,
      },
      (req, res) => this.inOrder(req, res, state),
    );
    applyHttpLimits(http, limits);
    // Bytes llhttp refuses get the fast path's answer (400, 431, 414) and a closed socket, never a crash.
    http.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        // node:http's header timeout, set from the proxy's: the same answer as the fast path's.
        const ms = this.settings.limits.headerTimeoutMs;
        socket.end(proxyErrorAnswer(408, 'header-timeout', `request head not received within ${ms} ms`, true));
        return;
      }
      const packet = err.rawPacket;
      const reason =
        err.code === 'HPE_HEADER_OVERFLOW' && packet !== undefined && targetTooLongSoFar(packet, packet.length)
          ? 'URI_TOO_LONG'
          : (err.code ?? 'HPE_UNKNOWN');
      const line = (socket as OrderedSocket)[kLine];
      if (line?.refused) return; // the request was refused already; its answer closes the connection
      const r = refusal(reason);
      const current = line?.current;
      if (current !== undefined && current !== null && !current.req.complete) {
        // The bad bytes are in the body being streamed upstream: that request cannot complete. Closing the client
        // connection aborts the upstream request; the client gets the 400 unless an answer had already started.
        line!.refused = true;
        if (current.res.headersSent) socket.destroy();
        else sendSocketError(socket, r.status, r.code, r.message);
        return;
      }
      if (line?.busy) {
        // Requests before the bad bytes are answered first, in order; the refusal follows them.
        line.refused = true;
        line.refusal = r;
        return;
      }
      sendSocketError(socket, r.status, r.code, r.message);
    });
    // CONNECT (a tunnel through the proxy) is not offered: a clear 501 rather than a silent close.
    http.on('connect', (_req: IncomingMessage, socket: Socket) => {
      socket.on('error', ignoreSocketError);
      const r = refusal(REFUSE_CONNECT);
      sendSocketError(socket, r.status, r.code, r.message);
    });
    const fast = new Set<FastConnection>();
    const tunnels = new Set<UpgradeTunnel>();
    http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head, state, tunnels));
    if (!this.fastPath) {
      // Without the fast path node:http accepts; a connection over the cap is closed before node:http reads it.
      http.prependListener('connection', (socket: Socket) => {
        if (this.connections >= this.settings.limits.maxConnections) {
          socket.destroy();
          return;
        }
        this.connections++;
        this.watchHttp(socket, true);
      });
      return { server: http, http, fast, tunnels, state };
    }
    // node:http checks its connections' header timeout (and knows which are idle, for a graceful close) only once
    // it has seen 'listening'; it never listens here (the fast path's net server does), so it is told so.
    // connection-sweep.test.ts fails if a handed-over connection stops getting its 408.
    http.emit('listening');
    const server = createNetServer({ noDelay: true }, (socket) => {
      if (!this.admit(socket)) return;
      const conn = new FastConnection(this, socket, state, this.sweeper);
      fast.add(conn);
      socket.once('close', () => {
        this.connections--;
        fast.delete(conn);
      });
      const handed = socket as HandedSocket;
      handed[kHttpServer] = http;
      handed[kFastSet] = fast;
      handed[kFastConn] = conn;
    });
    return { server, http, fast, tunnels, state };
  }

  /** FastPathHost: the connection goes to node:http for good, unread bytes first. */
  handOff(socket: Socket, pending: Buffer | null): void {
    const http = (socket as HandedSocket)[kHttpServer];
    if (http === undefined) {
      socket.destroy();
      return;
    }
    // node:http reads a socket it is given through its 'data' events (not straight from the handle), so the bytes
    // put back here come first, in order.
    // node:http owns it now (its idle and in-flight tracking apply at a graceful close, not the fast path's).
    const conn = (socket as HandedSocket)[kFastConn];
    if (conn !== undefined) (socket as HandedSocket)[kFastSet]?.delete(conn);
    const handle = (socket as unknown as { _handle?: { _consumed?: boolean } })._handle;
    if (handle) handle._consumed = true;
    this.watchHttp(socket, false);
    http.emit('connection', socket);
    if (pending !== null) socket.unshift(pending);
  }

  /**
   * Counts a new client connection against `maxConnections`; over the cap it is answered 503 and closed at once,
   * without reading it, so the connections already open keep all the proxy's attention.
   */
  private admit(socket: Socket): boolean {
    const max = this.settings.limits.maxConnections;
    if (this.connections < max) {
      this.connections++;
      return true;
    }
    socket.on('error', ignoreSocketError);
    socket.end(proxyErrorAnswer(503, 'connection-limit', `proxy connection limit reached: ${max} client connections open`, true));
    socket.resume(); // whatever the client sends is discarded; its close ends ours
    socket.setTimeout(REFUSED_LINGER_MS, () => socket.destroy());
    this.refused++;
    const now = Date.now();
    if (now - this.refusedLoggedAt >= REFUSED_LOG_MS) {
      this.refusedLoggedAt = now;
      this.logger.error(`refused ${this.refused} connection(s): ${max} open, the --max-connections limit`);
      this.refused = 0;
    }
    return false;
  }

  /** Puts a node:http connection under the sweep's send timeout; `counted`: its close ends its place in the count. */
  private watchHttp(socket: Socket, counted: boolean): void {
    const conn = new HttpConnection(socket, this.sweeper, this.connectionsPerEndpoint);
    (socket as WatchedSocket)[kHttpConnection] = conn;
    this.sweeper.add(conn);
    socket.once('close', () => {
      this.sweeper.delete(conn);
      if (counted) this.connections--;
    });
  }

  private async reconcileOutbound(listeners: OutboundListener[]): Promise<void> {
    if (this.closed) return;
    const wanted = new Map<number, OutboundListener>();
    for (const l of listeners) wanted.set(l.port, l);
    const closing: Promise<void>[] = [];
    for (const [port, open] of this.outbound) {
      if (wanted.has(port)) continue;
      this.outbound.delete(port);
      closing.push(closeServer(open, this.drainTimeoutMs));
    }
    const opening: Promise<void>[] = [];
    for (const [port, l] of wanted) {
      const open = this.outbound.get(port);
      if (open) {
        // Same port, another instance (or a restart's new pid): requests from now on are attributed to the new one.
        if (!isListenerParty(open.state.source, l)) open.state.source = listenerParty(l);
        continue;
      }
      const state: ListenerState = { source: listenerParty(l), ingress: false };
      const entry = this.createListener(state);
      const server = entry.server;
      this.outbound.set(port, entry);
      opening.push(
        new Promise<void>((resolve) => {
          server.once('error', (err) => {
            this.logger.error(`outbound listener for ${l.instance} on ${this.outboundHost}:${port}: ${err.message}`);
            if (this.outbound.get(port) === entry) this.outbound.delete(port);
            resolve();
          });
          server.listen(port, this.outboundHost, () => resolve());
        }),
      );
    }
    await Promise.all([...closing, ...opening]);
  }

  /**
   * Routing, shared by both paths: rewrites the headers, finds the service and rule, picks a version and an
   * endpoint, sends the mirror copy. Fills the proxy's scratch decision (synchronous, so one serves every request).
   */
  private decide(
    method: string,
    rawUrl: string,
    raw: readonly string[],
    clientAddress: string,
    listener: ListenerState,
    upgrade = false,
  ): RouteDecision {
    const d = this.decision;
    const snap = this.snapshot;
    let url = rawUrl;
    const facts = this.facts;
    const headers = upgrade
      ? upgradeRequestHeaders(raw, clientAddress, newRequestId, facts)
      : upstreamRequestHeaders(raw, clientAddress, newRequestId, facts);
    let host = facts.host;
    const hasBody = facts.hasBody;
    let hostIndex = facts.hostIndex;
    const tracer = this.tracer;
    if (tracer !== null) tracer.begin(headers, facts.trace, this.hop);
    if (url.charCodeAt(0) !== 47 /* / */) {
      // Absolute form (a client using the proxy as its HTTP proxy): the URL's authority replaces Host (RFC 9112 3.2.2).
      const target = absoluteTarget(url);
      if (target !== null) {
        url = target.path;
        host = target.authority;
        if (hostIndex >= 0) headers[hostIndex] = host;
        else hostIndex = headers.push('host', host) - 1;
      }
    }
    d.headers = headers;
    d.url = url;
    d.hasBody = hasBody;
    d.mirrored = false;
    d.version = undefined;
    d.endpoint = undefined;
    d.versionName = '';

    const view = this.view;
    view.reset(method, url, raw);
    let router: ServiceRouter | undefined = host === '' ? undefined : snap.services.get(hostFirstLabel(host));
    if (router === undefined && listener.ingress) {
      const path = view.path;
      const prefixes = snap.ingressPrefixes;
      for (let i = 0; i < prefixes.length; i++) {
        if (path.startsWith(prefixes[i]!.prefix)) {
          router = prefixes[i]!.router;
          break;
        }
      }
    }
    d.router = router;
    let rule: CompiledRule | undefined;
    if (router !== undefined) {
      const rules = router.rules;
      for (let i = 0; i < rules.length; i++) {
        const r = rules[i]!;
        if (r.match === null || r.match(view)) {
          rule = r;
          break;
        }
      }
    }
    if (rule === undefined) {
      const path = view.path;
      view.clear();
      const why = router === undefined ? 'no service by that name or ingress path' : `no rule of service ${router.name} matches`;
      d.status = 404;
      d.code = 'no-route';
      d.message = `no route for host ${host || '(none)'} path ${path}: ${why}`;
      d.path = path;
      return d;
    }
    let version: CompiledVersion | undefined;
    if (rule.stickyKind === STICKY_NONE) {
      version = rule.picker.next();
    } else {
      const key =
        rule.stickyKind === STICKY_COOKIE
          ? cookieValue(view.header('cookie'), rule.stickyName)
          : rule.stickyKind === STICKY_HEADER
            ? view.header(rule.stickyName)
            : clientAddress;
      version = key ? rule.picker.sticky(key) : rule.picker.next();
    }
    const path = view.path;
    view.clear();
    d.path = path;
    const endpoint = version === undefined ? undefined : nextEndpoint(version);
    if (endpoint === undefined) {
      const name = version === undefined ? '(none)' : version.name;
      d.status = 503;
      d.code = 'no-ready-endpoint';
      d.message =
        version !== undefined && version.endpoints.length > 0
          ? `no endpoint in service for service ${router!.name} version ${name}: all ${version.endpoints.length} ejected by outlier detection`
          : `no ready endpoint for service ${router!.name} version ${name}`;
      d.versionName = name;
      return d;
    }
    d.status = 0;
    d.version = version;
    d.endpoint = endpoint;

    const mirror = rule.mirror;
    if (mirror !== null) {
      rule.mirrorCredit += rule.mirrorPercent;
      if (rule.mirrorCredit >= 100) {
        rule.mirrorCredit -= 100;
        // Only bodiless requests are mirrored: teeing a body would let a slow mirror hold back the primary.
        // Upgrades are not: a copy would open a second tunnel nobody reads.
        if (!hasBody && !upgrade) d.mirrored = this.sendMirror(mirror, method, url, headers, hostIndex, host);
      }
    }
    return d;
  }

  /**
   * node:http emits every pipelined request as soon as it has parsed its head, even while an earlier one's body is
   * still streaming upstream: each client connection forwards one request at a time, in the order received, as the
   * fast path does. A refused request ends the connection: nothing after it is forwarded.
   */
  private inOrder(req: IncomingMessage, res: ServerResponse, listener: ListenerState): void {
    const socket = req.socket as OrderedSocket;
    const line = socket[kLine];
    if (line === undefined) {
      socket[kLine] = { busy: true, refused: false, refusal: null, current: { req, res }, waiting: [] };
    } else if (line.refused && line.refusal === null) {
      return; // the connection closes after the refusal's answer
    } else if (line.busy) {
      line.waiting.push({ req, res, listener });
      return;
    } else {
      line.busy = true;
      line.current = { req, res };
    }
    res.once('close', () => this.nextInLine(socket));
    this.route(req, res, listener);
  }

  private nextInLine(socket: OrderedSocket): void {
    const line = socket[kLine];
    if (line === undefined) return;
    line.busy = false;
    line.current = null;
    // A refused request closes the connection: the ones after it are dropped.
    if (line.refused && line.refusal === null) return;
    const next = line.waiting.shift();
    if (next === undefined || socket.destroyed) {
      const r = line.refusal;
      if (r !== null && !socket.destroyed) {
        line.refusal = null;
        sendSocketError(socket, r.status, r.code, r.message);
      }
      return;
    }
    line.busy = true;
    line.current = next;
    next.res.once('close', () => this.nextInLine(socket));
    this.route(next.req, next.res, next.listener);
  }

  /** The node:http path: synchronous from the `request` event to the upstream dispatch. */
  private route(req: IncomingMessage, res: ServerResponse, listener: ListenerState): void {
    const verdict = requestVerdict(req.method ?? '', req.url ?? '', req.httpVersionMinor, req.rawHeaders);
    if (verdict !== FORWARD) {
      this.refuse(req, res, verdict);
      return;
    }
    const observer = this.settings.observer;
    const startedAt = observer === null ? 0 : performance.now();
    const bytesInAtStart = observer === null ? 0 : req.socket.bytesRead;
    const method = req.method ?? 'GET';
    const d = this.decide(method, req.url ?? '/', req.rawHeaders, req.socket.remoteAddress ?? '', listener);
    if (d.status !== 0) {
      this.answer(
        req,
        res,
        d.status,
        d.code as 'no-route' | 'no-ready-endpoint',
        d.message,
        listener,
        d.router,
        d.path,
        startedAt,
        d.versionName,
      );
      return;
    }
    const exchange = new ProxyExchange(
      this.settings,
      req,
      res,
      listener.source,
      d.version!,
      d.endpoint!,
      d.headers,
      d.hasBody,
      d.url,
      d.path,
      d.mirrored,
      startedAt,
      bytesInAtStart,
      this.tracer === null ? null : this.hop,
    );
    const watched = (req.socket as WatchedSocket)[kHttpConnection];
    if (watched !== undefined) {
      watched.exchange = exchange;
      watched.queuedSweeps = 0;
    }
    exchange.start();
  }

  /** The node:http path's answer to `OPTIONS *` and to requests the framing rules refuse (then the connection closes). */
  private refuse(req: IncomingMessage, res: ServerResponse, verdict: number): void {
    if (verdict === ANSWER_OPTIONS) {
      res.writeHead(200, ['allow', 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH', 'content-length', '0']);
      res.end();
      return;
    }
    const line = (req.socket as OrderedSocket)[kLine];
    if (line !== undefined) line.refused = true;
    const r = refusal(verdict);
    const body = `${r.message}\n`;
    res.shouldKeepAlive = false;
    res.writeHead(r.status, [
      'content-type',
      'text/plain; charset=utf-8',
      'content-length',
      String(Buffer.byteLength(body)),
      'x-canary-error',
      r.code,
      'connection',
      'close',
    ]);
    res.end(body);
  }

  /**
   * node:http's 'upgrade' (WebSocket and other `Upgrade` requests, also those the fast path handed over): routed by
   * the same decision as every request, then tunnelled to the picked endpoint on a connection of its own.
   */
  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer, listener: ListenerState, tunnels: Set<UpgradeTunnel>): void {
    // node:http no longer watches this socket: an error must not go unhandled before the tunnel takes it.
    socket.on('error', ignoreSocketError);
    const startedAt = this.settings.observer === null ? 0 : performance.now();
    const method = req.method ?? 'GET';
    const peer = socket.remoteAddress ?? '';
    const verdict = requestVerdict(method, req.url ?? '', req.httpVersionMinor, req.rawHeaders);
    if (verdict !== FORWARD) {
      const r = refusal(verdict === ANSWER_OPTIONS ? REFUSE_TARGET : verdict);
      sendSocketError(socket, r.status, r.code, r.message);
      return;
    }
    const d = this.decide(method, req.url ?? '/', req.rawHeaders, peer, listener, true);
    let status = d.status;
    if (status !== 0) {
      sendSocketError(socket, status, d.code, d.message);
    } else if (d.hasBody) {
      // A body before the switch (an h2c upgrade of a POST, say) cannot be told apart from the new protocol's bytes.
      status = 501;
      sendSocketError(socket, status, 'upgrade-with-body', `upgrade request with a body to ${d.path}: not supported`);
    }
    if (status !== 0) {
      this.report(listener, d.router, method, d.path, status, startedAt, d.versionName, rawHeader(req.rawHeaders, 'traceparent'), peer);
      return;
    }
    const tunnel = new UpgradeTunnel(
      this.tunnelSettings,
      req,
      socket,
      head,
      listener.source,
      d.version!,
      d.endpoint!,
      d.headers,
      d.url,
      d.path,
      startedAt,
      this.tracer === null ? null : this.hop,
      (t) => tunnels.delete(t),
    );
    tunnels.add(tunnel);
    tunnel.start();
  }

  /** FastPathHost: the fast path's request, routed like any other and forwarded over the HTTP/1.1 pools. */
  routeFast(conn: FastConnection, head: RequestHead, body: Buffer | null): void {
    const observer = this.settings.observer;
    const startedAt = observer === null ? 0 : performance.now();
    const listener = conn.listener;
    const d = this.decide(head.method, head.url, head.raw, conn.remoteAddress, listener);
    if (d.status !== 0) {
      conn.answer(d.status, d.code, d.message);
      if (observer !== null) {
        this.report(
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
    conn.forward(d.version!, d.endpoint!, d.path, text, body, d.mirrored, startedAt, this.tracer === null ? null : this.hop);
  }

  private sendMirror(mirror: CompiledVersion, method: string, url: string, headers: string[], hostIndex: number, host: string): boolean {
    const endpoint = nextEndpoint(mirror);
    if (endpoint === undefined) return false;
    const copy = headers.slice();
    if (hostIndex >= 0) copy[hostIndex] = shadowHost(host);
    try {
      endpoint.pool.dispatch(
        {
          path: url,
          method: method as Dispatcher.HttpMethod,
          headers: copy,
          body: null,
          headersTimeout: this.settings.upstreamTimeoutMs,
          bodyTimeout: this.settings.upstreamTimeoutMs,
        },
        MIRROR_HANDLER,
      );
      return true;
    } catch {
      return false;
    }
  }

  /** A request the proxy answers itself (404, 503), reported to the observer like any other. */
  private answer(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    code: 'no-route' | 'no-ready-endpoint',
    message: string,
    listener: ListenerState,
    router: ServiceRouter | undefined,
    path: string,
    startedAt: number,
    version = '',
  ): void {
    // Unread request bodies are discarded by Node once the response ends; the connection stays usable.
    sendProxyError(res, status, code, message);
    if (this.settings.observer === null) return;
    this.report(
      listener,
      router,
      req.method ?? '',
      path,
      status,
      startedAt,
      version,
      rawHeader(req.rawHeaders, 'traceparent'),
      req.socket.remoteAddress ?? '',
    );
  }

  private report(
    listener: ListenerState,
    router: ServiceRouter | undefined,
    method: string,
    path: string,
    status: number,
    startedAt: number,
    version: string,
    traceparent: string | undefined,
    peerAddress: string,
  ): void {
    const observer = this.settings.observer;
    if (observer === null) return;
    // The proxy's own answers (404, 503, refused upgrades) are outcomes like any other, built the same way.
    const outcome = this.ownAnswer;
    outcome.begin(startedAt, false, this.tracer === null ? null : this.hop);
    outcome.status = status;
    outcome.upstreamFailure = status === 503;
    outcome.report(
      observer,
      listener.source,
      router === undefined ? null : { service: router.name, version, instance: '' },
      method,
      path,
      '',
      traceparent,
      peerAddress,
      status === 404,
    );
  }
}
