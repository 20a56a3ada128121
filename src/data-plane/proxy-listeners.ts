import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { OutboundListener } from '../core/route-table.js';
import type { ConnectionSweep } from './connection-sweep.js';
import { FastConnection, type FastPathHost } from './fast-connection.js';
import type { HttpRequestPath } from './http-request-path.js';
import { proxyErrorAnswer, REFUSE_CONNECT, refusal } from './http1-wire.js';
import type { ExchangeSettings } from './proxy-exchange.js';
import type { ProxyLogger } from './proxy-logger.js';
import type { ProxyLimits } from './proxy-settings.js';
import type { ListenerState } from './request-router.js';
import { isListenerParty, listenerParty } from './route-snapshot.js';
import type { UpgradeRequests } from './upgrade-request.js';
import { sendSocketError, type UpgradeTunnel } from './upgrade-tunnel.js';

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

/** What the listeners are built from; MeshProxy owns every part. */
export interface ProxyListenersOptions {
  settings: ExchangeSettings;
  sweeper: ConnectionSweep;
  /** Accept on the fast path (else node:http accepts every connection). */
  fastPath: boolean;
  /** Routes the fast path's requests and takes back the connections it hands over. */
  host: FastPathHost;
  httpPath: HttpRequestPath;
  upgrades: UpgradeRequests;
  logger: ProxyLogger;
  outboundHost: string;
  drainTimeoutMs: number;
}

/** How long a refused connection (over the cap) may linger for its 503 to be read. */
const REFUSED_LINGER_MS = 1000;
/** At most one log line per this period about refused connections. */
const REFUSED_LOG_MS = 10_000;

const kHttpServer = Symbol('canary.http');
const kFastSet = Symbol('canary.fastSet');
const kFastConn = Symbol('canary.fastConn');
type HandedSocket = Socket & { [kHttpServer]?: Server; [kFastSet]?: Set<FastConnection>; [kFastConn]?: FastConnection };

function ignoreSocketError(): void {
  // The 'close' that follows ends whatever used the socket.
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
 * The proxy's listeners: the ingress ones, one outbound listener per workload instance of the route table, the
 * `maxConnections` cap over all of them, and their graceful close.
 */
export class ProxyListeners {
  private readonly ingress = new Set<OpenListener>();
  private readonly outbound = new Map<number, OpenListener>();
  private listenerWork: Promise<void> = Promise.resolve();
  private closed = false;
  /** Client connections open now, over every listener (the `maxConnections` cap). */
  private connections = 0;
  private refused = 0;
  private refusedLoggedAt = 0;

  constructor(private readonly options: ProxyListenersOptions) {}

  /** Client connections open now, over every listener. */
  get openConnections(): number {
    return this.connections;
  }

  /** node:http's own timeouts follow new limits at once, on every listener. */
  applyLimits(limits: ProxyLimits): void {
    for (const l of [...this.ingress, ...this.outbound.values()]) applyHttpLimits(l.http, limits);
  }

  /** Opens an ingress listener (see MeshProxy.listenIngress). */
  async listenIngress(host: string, port: number, handle?: object): Promise<AddressInfo> {
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
    server.on('error', (err) => this.options.logger.error(`ingress ${host}:${port}: ${err.message}`));
    this.ingress.add(listener);
    return server.address() as AddressInfo;
  }

  /** Ports of the outbound listeners open now. */
  outboundPorts(): number[] {
    return [...this.outbound.keys()].sort((a, b) => a - b);
  }

  /** Opens and closes outbound listeners to match a route table's, one change after the other. */
  reconcile(listeners: OutboundListener[]): Promise<void> {
    this.listenerWork = this.listenerWork.then(() => this.reconcileOutbound(listeners));
    return this.listenerWork;
  }

  /** Stops accepting and lets requests in flight finish, up to the drain timeout. */
  async close(): Promise<void> {
    this.closed = true;
    await this.listenerWork;
    const all = [...this.ingress, ...this.outbound.values()];
    this.ingress.clear();
    this.outbound.clear();
    await Promise.all(all.map((l) => closeServer(l, this.options.drainTimeoutMs)));
  }

  /** The connection goes to node:http for good, unread bytes first. */
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
    this.options.httpPath.watch(socket);
    http.emit('connection', socket);
    if (pending !== null) socket.unshift(pending);
  }

  private createListener(state: ListenerState): OpenListener {
    const { settings, sweeper, httpPath, upgrades } = this.options;
    const limits = settings.limits;
    // Host is judged by requestVerdict, as on the fast path (node:http's own check answers without a reason).
    const http = createServer(
      {
        maxHeaderSize: limits.maxHeadBytes,
        requireHostHeader: false,
        // No cap on a whole request (a long upload streams through); the header timeout still applies.
        requestTimeout: 0,
        // node:http's own sweep of its connections, at the fast path's period (its default is 30 s).
        connectionsCheckingInterval: sweeper.periodMs,
      },
      (req, res) => httpPath.inOrder(req, res, state),
    );
    applyHttpLimits(http, limits);
    http.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => httpPath.clientError(err, socket));
    // CONNECT (a tunnel through the proxy) is not offered: a clear 501 rather than a silent close.
    http.on('connect', (_req: IncomingMessage, socket: Socket) => {
      socket.on('error', ignoreSocketError);
      const r = refusal(REFUSE_CONNECT);
      sendSocketError(socket, r.status, r.code, r.message);
    });
    const fast = new Set<FastConnection>();
    const tunnels = new Set<UpgradeTunnel>();
    http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => upgrades.route(req, socket, head, state, tunnels));
    if (!this.options.fastPath) {
      // Without the fast path node:http accepts; a connection over the cap is closed before node:http reads it.
      http.prependListener('connection', (socket: Socket) => {
        if (this.connections >= settings.limits.maxConnections) {
          socket.destroy();
          return;
        }
        this.connections++;
        httpPath.watch(socket);
        socket.once('close', () => {
          this.connections--;
        });
      });
      return { server: http, http, fast, tunnels, state };
    }
    // node:http checks its connections' header timeout (and knows which are idle, for a graceful close) only once
    // it has seen 'listening'; it never listens here (the fast path's net server does), so it is told so.
    // connection-sweep.test.ts fails if a handed-over connection stops getting its 408.
    http.emit('listening');
    const server = createNetServer({ noDelay: true }, (socket) => {
      if (!this.admit(socket)) return;
      const conn = new FastConnection(this.options.host, socket, state, sweeper);
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

  /**
   * Counts a new client connection against `maxConnections`; over the cap it is answered 503 and closed at once,
   * without reading it, so the connections already open keep all the proxy's attention.
   */
  private admit(socket: Socket): boolean {
    const max = this.options.settings.limits.maxConnections;
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
      this.options.logger.error(`refused ${this.refused} connection(s): ${max} open, the --max-connections limit`);
      this.refused = 0;
    }
    return false;
  }

  private async reconcileOutbound(listeners: OutboundListener[]): Promise<void> {
    if (this.closed) return;
    const { logger, outboundHost, drainTimeoutMs } = this.options;
    const wanted = new Map<number, OutboundListener>();
    for (const l of listeners) wanted.set(l.port, l);
    const closing: Promise<void>[] = [];
    for (const [port, open] of this.outbound) {
      if (wanted.has(port)) continue;
      this.outbound.delete(port);
      closing.push(closeServer(open, drainTimeoutMs));
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
            logger.error(`outbound listener for ${l.instance} on ${outboundHost}:${port}: ${err.message}`);
            if (this.outbound.get(port) === entry) this.outbound.delete(port);
            resolve();
          });
          server.listen(port, outboundHost, () => resolve());
        }),
      );
    }
    await Promise.all([...closing, ...opening]);
  }
}
