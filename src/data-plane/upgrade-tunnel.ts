import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { connectionNamedFields, isHopByHopResponseHeader } from './forward-headers.js';
import { cleanReason, hostAndPort, proxyErrorAnswer, reasonPhrase } from './http1-wire.js';
import type { ExchangeSettings } from './proxy-exchange.js';
import type { RequestParty } from './request-observer.js';
import { failureAnswer, RequestOutcome } from './request-outcome.js';
import type { CompiledEndpoint, CompiledVersion } from './route-snapshot.js';
import type { HopTrace } from './telemetry/proxy-tracer.js';
import { errorCodeOf } from './upstream-failure.js';

/** What a tunnel needs from its proxy (`connectTimeoutMs`: time to open the TCP connection before a 504). */
export type TunnelSettings = ExchangeSettings;

/**
 * Writes a plain-text answer of the proxy's own on a raw client socket (after node:http gave the socket away for
 * an upgrade), then closes the connection: the same body and `x-canary-error` as `sendProxyError`.
 */
export function sendSocketError(socket: Socket, status: number, code: string, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(proxyErrorAnswer(status, code, message, true));
}

function ignoreError(): void {
  // Errors are handled by the 'close' that follows.
}

const HANDSHAKE = 0;
const ANSWER = 1;
const TUNNEL = 2;
const DONE = 3;

/**
 * One upgraded connection (WebSocket, or any `Upgrade` protocol) through the proxy: opens its own TCP connection
 * to the routed endpoint (never a pooled one: the connection becomes the tunnel), sends the request head with
 * `Connection: Upgrade` and `Upgrade` kept, and then
 * - on `101 Switching Protocols`: relays the upstream's 101 head and pipes bytes both ways, with back-pressure,
 *   until both sides have closed; a half-close (FIN) is passed on, an error or reset on either side destroys both;
 * - on any other answer: relays it (hop-by-hop fields removed, `connection: close`) and closes the connection;
 * - on failure before an answer: the shared retry decision and failure answer (request-outcome.ts): once more on
 *   the version's next endpoint in service, else 502 (connect failure, or the upstream closed) or 504 (no
 *   connection within `connectTimeoutMs`, or no answer within `upstreamTimeoutMs`).
 * The tunnel keeps its endpoint whatever route tables come after: only new upgrades see a new table.
 *
 * Telemetry: one record per upgrade request, reported when the handshake ends (the 101, the proxy's error
 * answer, the end of a non-101 answer, or the client leaving first with status 0), so `durationMs` is the time
 * to the 101 and the bytes exchanged over the tunnel afterwards are not counted.
 */
export class UpgradeTunnel {
  private phase = HANDSHAKE;
  private upstream: Socket | null = null;
  private creq: ClientRequest | null = null;
  private timer: NodeJS.Timeout | null = null;
  private reported = false;
  private readonly outcome = new RequestOutcome();

  constructor(
    private readonly settings: TunnelSettings,
    private readonly req: IncomingMessage,
    private readonly client: Socket,
    /** Bytes the client sent after the request head (node:http's `head`), sent upstream after the 101. */
    private readonly head: Buffer,
    private readonly source: RequestParty | null,
    private readonly version: CompiledVersion,
    private endpoint: CompiledEndpoint,
    private readonly headers: string[],
    /** Request target sent upstream (origin form). */
    private readonly url: string,
    /** Path without the query string, for the observer. */
    private readonly path: string,
    startedAt: number,
    hop: HopTrace | null,
    /** Called once, when the client connection has closed. */
    private readonly onClosed: (tunnel: UpgradeTunnel) => void,
  ) {
    this.outcome.begin(startedAt, false, hop);
  }

  start(): void {
    const client = this.client;
    // Both directions close independently once tunnelled (the fast path's server does not allow half-open sockets).
    client.allowHalfOpen = true;
    client.setNoDelay(true);
    client.on('error', ignoreError);
    client.once('close', (hadError: boolean) => this.clientClosed(hadError));
    this.connect();
  }

  /** Cuts the connection now, both sides (the proxy's drain deadline). */
  destroy(): void {
    this.upstream?.destroy();
    this.client.destroy();
  }

  private connect(): void {
    const { host, port } = hostAndPort(this.endpoint.address);
    const upstream = connect({ host, port, allowHalfOpen: true, noDelay: true });
    this.upstream = upstream;
    const settings = this.settings;
    this.timer = setTimeout(() => this.attemptFailed('UND_ERR_CONNECT_TIMEOUT'), settings.connectTimeoutMs);
    upstream.once('connect', () => {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.attemptFailed('UND_ERR_HEADERS_TIMEOUT'), settings.upstreamTimeoutMs);
    });
    const creq = request({
      method: this.req.method,
      path: this.url,
      headers: this.headers,
      setHost: false,
      createConnection: () => upstream,
    });
    this.creq = creq;
    creq.on('error', (err) => this.upstreamError(err));
    creq.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => this.switched(res, socket, head));
    creq.on('response', (res: IncomingMessage) => this.answered(res));
    creq.end();
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private upstreamError(err: Error): void {
    if (this.phase === DONE) return;
    if (this.phase !== HANDSHAKE) {
      // The answer had started: cutting the connection is the only honest signal left.
      this.outcome.upstreamFailure = true;
      this.outcome.attemptFailed(this.endpoint, errorCodeOf(err));
      this.client.destroy();
      return;
    }
    this.attemptFailed(errorCodeOf(err));
  }

  /** The attempt failed before an answer: the shared retry decision, else the shared failure answer. */
  private attemptFailed(code: string): void {
    if (this.phase !== HANDSHAKE) return;
    const outcome = this.outcome;
    outcome.attemptFailed(this.endpoint, code);
    this.clearTimer();
    const next = outcome.retryTarget(this.version, this.endpoint, code, this.req.method ?? '', false);
    if (next !== undefined) {
      // Let go of the failed attempt without hearing from it again.
      const creq = this.creq;
      const upstream = this.upstream;
      this.creq = null;
      creq?.removeAllListeners('upgrade').removeAllListeners('response').removeAllListeners('error');
      creq?.on('error', ignoreError);
      creq?.destroy();
      upstream?.destroy();
      this.endpoint = next;
      this.connect();
      return;
    }
    const answer = failureAnswer(code, this.version, this.endpoint, this.settings);
    this.phase = DONE;
    this.creq?.destroy();
    this.upstream?.destroy();
    outcome.status = answer.status;
    outcome.upstreamFailure = true;
    sendSocketError(this.client, answer.status, answer.code, answer.message);
    this.report();
  }

  /** `101 Switching Protocols`: relay it, then pipe both ways. */
  private switched(res: IncomingMessage, upstream: Socket, upstreamHead: Buffer): void {
    const client = this.client;
    if (this.phase !== HANDSHAKE || client.destroyed) {
      upstream.destroy();
      return;
    }
    this.phase = TUNNEL;
    this.clearTimer();
    this.outcome.answered(this.endpoint, 101);
    let text = `HTTP/1.1 101 ${cleanReason(res.statusMessage) || 'Switching Protocols'}\r\n`;
    const raw = res.rawHeaders;
    // A 101's Connection and Upgrade are the handshake itself: its head is relayed as the upstream sent it.
    for (let i = 0; i < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
    if (this.settings.exposeVersionHeader) text += `x-canary-version: ${this.version.name}\r\n`;
    client.write(`${text}\r\n`, 'latin1');
    if (upstreamHead.length > 0) client.write(upstreamHead);
    if (this.head.length > 0) upstream.write(this.head);
    upstream.on('error', ignoreError);
    upstream.once('close', (hadError: boolean) => this.sideClosed(upstream, client, hadError));
    client.once('close', (hadError: boolean) => this.sideClosed(client, upstream, hadError));
    // pipe() passes a FIN on (end() of the other side) and applies back-pressure both ways.
    client.pipe(upstream);
    upstream.pipe(client);
    this.report();
  }

  /**
   * One side of the tunnel closed. A clean close means both its directions finished, so the other side has
   * been told (FIN) and closes by itself once its writes are flushed; anything else cuts the other side too.
   */
  private sideClosed(closed: Socket, other: Socket, hadError: boolean): void {
    if (other.destroyed) return;
    if (hadError || !closed.readableEnded || !closed.writableFinished) other.destroy();
  }

  /** Any other answer: relayed, then the connection closes (the client asked for a protocol switch that did not happen). */
  private answered(res: IncomingMessage): void {
    const client = this.client;
    if (this.phase !== HANDSHAKE || client.destroyed) {
      this.upstream?.destroy();
      return;
    }
    this.phase = ANSWER;
    this.clearTimer();
    const status = res.statusCode ?? 502;
    this.outcome.answered(this.endpoint, status);
    let text = `HTTP/1.1 ${status} ${reasonPhrase(status, cleanReason(res.statusMessage))}\r\n`;
    const raw = res.rawHeaders;
    const named = connectionNamedFields(raw);
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (isHopByHopResponseHeader(name) || named?.includes(name.toLowerCase())) continue;
      text += `${name}: ${raw[i + 1]}\r\n`;
    }
    if (this.settings.exposeVersionHeader) text += `x-canary-version: ${this.version.name}\r\n`;
    // A chunked body arrives decoded; without a Content-Length it is framed by the end of the connection.
    client.write(`${text}connection: close\r\n\r\n`, 'latin1');
    res.on('data', (chunk: Buffer) => {
      this.outcome.bytesOut += chunk.length;
    });
    res.once('end', () => {
      this.report();
      this.upstream?.destroy();
    });
    res.once('error', () => {
      this.outcome.upstreamFailure = true;
      client.destroy();
    });
    client.once('finish', () => client.destroy());
    res.pipe(client);
  }

  private clientClosed(_hadError: boolean): void {
    const phase = this.phase;
    if (phase === HANDSHAKE || phase === ANSWER) {
      // The client left before the answer was through: stop the upstream side too.
      this.phase = DONE;
      this.clearTimer();
      this.creq?.destroy();
      this.upstream?.destroy();
      if (phase === HANDSHAKE) this.outcome.status = 0;
      this.report();
    }
    this.phase = DONE;
    this.onClosed(this);
  }

  private report(): void {
    if (this.reported) return;
    this.reported = true;
    const observer = this.settings.observer;
    if (observer === null) return;
    this.outcome.reportExchange(observer, this.source, this.endpoint, this.req, this.path, this.client.remoteAddress ?? '');
  }
}
