import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import { cookieValue, emptyRouteTable, type OutboundListener, type RouteTable } from '../core/index.js';
import {
  absoluteTarget,
  emptyTraceHeaderIndexes,
  hostFirstLabel,
  rawHeader,
  shadowHost,
  upstreamRequestHeaders,
  type RequestHeaderFacts,
} from './forward-headers.js';
import { ProxyExchange, sendProxyError, type ExchangeSettings } from './proxy-exchange.js';
import { consoleProxyLogger, type ProxyLogger } from './proxy-logger.js';
import type { RequestObserver, RequestParty } from './request-observer.js';
import { ReusableRequestView } from './request-view.js';
import {
  compileSnapshot,
  STICKY_COOKIE,
  STICKY_HEADER,
  STICKY_NONE,
  type CompiledRule,
  type CompiledVersion,
  type RouteSnapshot,
  type ServiceRouter,
} from './route-snapshot.js';
import { emptyHopTrace, type HopTrace, type ProxyTracer } from './telemetry/proxy-tracer.js';
import { UpstreamPools } from './upstream-pools.js';

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
}

interface ListenerState {
  /** The caller: null for the ingress. */
  source: RequestParty | null;
  ingress: boolean;
}

interface OpenListener {
  server: Server;
  state: ListenerState;
}

// Requests whose copy goes to a mirror: a shared handler that ignores the answer (fire-and-forget).
const MIRROR_HANDLER: Dispatcher.DispatchHandlers = {
  onConnect: () => undefined,
  onHeaders: () => true,
  onData: () => true,
  onComplete: () => undefined,
  onError: () => undefined,
};

function newRequestId(): string {
  return randomUUID();
}

function sameSource(a: RequestParty | null, b: OutboundListener): boolean {
  return a !== null && a.service === b.service && a.version === b.version && a.instance === b.instance;
}

async function closeServer(server: Server, drainTimeoutMs: number): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    // Idle keep-alive connections go at once; busy ones when their request ends (polled), or at the deadline.
    const poll = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => server.closeAllConnections(), drainTimeoutMs);
    server.close(() => {
      clearInterval(poll);
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * The mesh proxy (data plane). `applyRouteTable` compiles a table once and swaps it in atomically: each request
 * reads the current snapshot once and uses it to the end, so a swap never fails a request in flight. The ingress
 * routes by the Host header's first label, else by the longest ingress path prefix; each outbound listener
 * knows its caller (one per workload instance) and routes by Host.
 */
export class MeshProxy {
  private snapshot: RouteSnapshot;
  private readonly pools: UpstreamPools;
  private readonly settings: ExchangeSettings;
  private readonly logger: ProxyLogger;
  private readonly outboundHost: string;
  private readonly drainTimeoutMs: number;
  private readonly view = new ReusableRequestView();
  private readonly facts: RequestHeaderFacts = { host: '', hasBody: false, hostIndex: -1, trace: emptyTraceHeaderIndexes() };
  private readonly tracer: ProxyTracer | null;
  /** The current request's trace identity; route() is synchronous, so one scratch object serves every request. */
  private readonly hop: HopTrace = emptyHopTrace();
  private readonly ingress = new Set<OpenListener>();
  private readonly outbound = new Map<number, OpenListener>();
  private listenerWork: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(options: MeshProxyOptions = {}) {
    const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 15_000;
    this.settings = {
      upstreamTimeoutMs,
      exposeVersionHeader: options.exposeVersionHeader ?? false,
      observer: options.observer ?? null,
    };
    this.pools = new UpstreamPools({
      connectionsPerEndpoint: options.connectionsPerEndpoint ?? 256,
      connectTimeoutMs: options.connectTimeoutMs ?? Math.min(5_000, upstreamTimeoutMs),
    });
    this.tracer = options.tracer ?? null;
    this.logger = options.logger ?? consoleProxyLogger;
    this.outboundHost = options.outboundHost ?? '127.0.0.1';
    this.drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.snapshot = compileSnapshot(emptyRouteTable(), this.pools);
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
    const next = compileSnapshot(table, this.pools);
    this.snapshot = next;
    this.pools.retainOnly(next.addresses);
    const listeners = next.listeners;
    this.listenerWork = this.listenerWork.then(() => this.reconcileOutbound(listeners));
    return this.listenerWork;
  }

  /** Opens an ingress listener. Port 0 picks a free port; the address says which. */
  async listenIngress(host = '127.0.0.1', port = 8000): Promise<AddressInfo> {
    const state: ListenerState = { source: null, ingress: true };
    const server = this.createListener(state);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error(`ingress ${host}:${port}: ${err.message}`));
    this.ingress.add({ server, state });
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
    await Promise.all(all.map((l) => closeServer(l.server, this.drainTimeoutMs)));
    await this.pools.closeAll();
  }

  private createListener(state: ListenerState): Server {
    const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => this.route(req, res, state));
    // Clients that send garbage get a 400 and a closed socket, never a crash.
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });
    return server;
  }

  private async reconcileOutbound(listeners: OutboundListener[]): Promise<void> {
    if (this.closed) return;
    const wanted = new Map<number, OutboundListener>();
    for (const l of listeners) wanted.set(l.port, l);
    const closing: Promise<void>[] = [];
    for (const [port, open] of this.outbound) {
      if (wanted.has(port)) continue;
      this.outbound.delete(port);
      closing.push(closeServer(open.server, this.drainTimeoutMs));
    }
    const opening: Promise<void>[] = [];
    for (const [port, l] of wanted) {
      const open = this.outbound.get(port);
      if (open) {
        // Same port, another instance: requests from now on are attributed to the new one.
        if (!sameSource(open.state.source, l)) open.state.source = { service: l.service, version: l.version, instance: l.instance };
        continue;
      }
      const state: ListenerState = { source: { service: l.service, version: l.version, instance: l.instance }, ingress: false };
      const server = this.createListener(state);
      const entry: OpenListener = { server, state };
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

  /** The per-request hot path: synchronous from here to the upstream dispatch. */
  private route(req: IncomingMessage, res: ServerResponse, listener: ListenerState): void {
    const snap = this.snapshot;
    const observer = this.settings.observer;
    const startedAt = observer === null ? 0 : performance.now();
    const bytesInAtStart = observer === null ? 0 : req.socket.bytesRead;
    const raw = req.rawHeaders;
    let url = req.url ?? '/';
    const method = req.method ?? 'GET';
    const facts = this.facts;
    const clientAddress = req.socket.remoteAddress ?? '';
    const headers = upstreamRequestHeaders(raw, clientAddress, newRequestId, facts);
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
      this.answer(
        req,
        res,
        404,
        'no-route',
        `no route for host ${host || '(none)'} path ${path}: ${why}`,
        listener,
        router,
        path,
        startedAt,
      );
      return;
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
    const endpoints = version?.endpoints;
    if (version === undefined || endpoints === undefined || endpoints.length === 0) {
      const name = version === undefined ? '(none)' : version.name;
      this.answer(
        req,
        res,
        503,
        'no-ready-endpoint',
        `no ready endpoint for service ${router!.name} version ${name}`,
        listener,
        router,
        path,
        startedAt,
        name,
      );
      return;
    }
    const endpoint = endpoints[version.cursor]!;
    version.cursor = version.cursor + 1 >= endpoints.length ? 0 : version.cursor + 1;

    let mirrored = false;
    const mirror = rule.mirror;
    if (mirror !== null) {
      rule.mirrorCredit += rule.mirrorPercent;
      if (rule.mirrorCredit >= 100) {
        rule.mirrorCredit -= 100;
        // Only bodiless requests are mirrored: teeing a body would let a slow mirror hold back the primary.
        if (!hasBody) mirrored = this.sendMirror(mirror, method, url, headers, hostIndex, host);
      }
    }
    const exchange = new ProxyExchange(
      this.settings,
      req,
      res,
      listener.source,
      version,
      endpoint,
      headers,
      hasBody,
      url,
      path,
      mirrored,
      startedAt,
      bytesInAtStart,
    );
    if (tracer !== null) exchange.traced(this.hop);
    exchange.start();
  }

  private sendMirror(mirror: CompiledVersion, method: string, url: string, headers: string[], hostIndex: number, host: string): boolean {
    const endpoints = mirror.endpoints;
    if (endpoints.length === 0) return false;
    const endpoint = endpoints[mirror.cursor]!;
    mirror.cursor = mirror.cursor + 1 >= endpoints.length ? 0 : mirror.cursor + 1;
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
    const observer = this.settings.observer;
    if (observer === null) return;
    const hop = this.hop;
    const traced = this.tracer !== null;
    try {
      observer.onRequest({
        source: listener.source,
        destination: router === undefined ? null : { service: router.name, version, instance: '' },
        method: req.method ?? '',
        path,
        status,
        startTime: performance.timeOrigin + startedAt,
        durationMs: performance.now() - startedAt,
        flags: { noRoute: status === 404, upstreamFailure: status === 503, retried: false, mirrored: false },
        bytesIn: 0,
        bytesOut: 0,
        upstreamAddress: '',
        traceparent: rawHeader(req.rawHeaders, 'traceparent'),
        peerAddress: req.socket.remoteAddress ?? '',
        traceId: traced ? hop.traceId : '',
        parentSpanId: traced ? hop.parentSpanId : '',
        clientSpanId: traced ? hop.clientSpanId : '',
        serverSpanId: traced ? hop.serverSpanId : '',
        sampled: traced && hop.sampled,
      });
    } catch {
      // An observer must not break the proxy.
    }
  }
}
