import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { rawHeader } from './forward-headers.js';
import { ANSWER_OPTIONS, FORWARD, REFUSE_TARGET, refusal, requestVerdict } from './http1-wire.js';
import type { OwnAnswerReporter } from './own-answer-reporter.js';
import type { ListenerState, RequestRouter } from './request-router.js';
import { sendSocketError, type TunnelSettings, UpgradeTunnel } from './upgrade-tunnel.js';

function ignoreSocketError(): void {
  // The 'close' that follows ends whatever used the socket.
}

/**
 * node:http's 'upgrade' (WebSocket and other `Upgrade` requests, also those the fast path handed over): routed by
 * the same decision as every request, then tunnelled to the picked endpoint on a connection of its own.
 */
export class UpgradeRequests {
  constructor(
    private readonly router: RequestRouter,
    private readonly reporter: OwnAnswerReporter,
    private readonly settings: TunnelSettings,
  ) {}

  route(req: IncomingMessage, socket: Socket, head: Buffer, listener: ListenerState, tunnels: Set<UpgradeTunnel>): void {
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
    const d = this.router.decide(method, req.url ?? '/', req.rawHeaders, peer, listener, true);
    let status = d.status;
    if (status !== 0) {
      sendSocketError(socket, status, d.code, d.message);
    } else if (d.hasBody) {
      // A body before the switch (an h2c upgrade of a POST, say) cannot be told apart from the new protocol's bytes.
      status = 501;
      sendSocketError(socket, status, 'upgrade-with-body', `upgrade request with a body to ${d.path}: not supported`);
    }
    if (status !== 0) {
      const traceparent = rawHeader(req.rawHeaders, 'traceparent');
      this.reporter.report(listener, d.router, method, d.path, status, startedAt, d.versionName, traceparent, peer);
      return;
    }
    const tunnel = new UpgradeTunnel(
      this.settings,
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
      this.router.hop,
      (t) => tunnels.delete(t),
    );
    tunnels.add(tunnel);
    tunnel.start();
  }
}
