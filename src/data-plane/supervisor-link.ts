import type { RunningProxy } from './run-proxy.js';
import type { ProxyLogger } from './proxy-logger.js';

/**
 * The proxy's side of its link to `canary up`, which runs it as a child with an IPC channel and
 * CANARY_SUPERVISED=1. Two things travel on it:
 * - the ingress socket: `canary up` binds it once and keeps it, and each proxy it starts asks for it
 *   (`need-ingress`) once it has its route table, then says `ready`. `canary up` keeps one proxy serving and one
 *   standby: the standby asks too but gets the socket only when the serving one dies, so a crash costs
 *   milliseconds, not a process start. While no proxy accepts, the kernel keeps queueing connections on the
 *   socket, so clients wait a moment instead of being refused;
 * - the supervisor's life: the channel closes when `canary up` dies, however it dies (a SIGKILL too). The proxy
 *   then keeps serving its last route table, no longer following the control plane (a successor's table names
 *   other instances), for the orphan grace: a new `canary up` on the same data directory takes the ingress over
 *   within it and stops this proxy; without one, the proxy ends by itself.
 */
export interface SupervisorLink {
  /** Started as the standby (CANARY_PROXY_STANDBY=1): it binds nothing before it is handed the ingress. */
  standby: boolean;
  /** Resolves with the ingress listening handle, asked for now. */
  ingress(): Promise<object>;
  /** Reports the proxy serving, and from now on ends it `orphanGraceMs` after the supervisor is gone. */
  attach(running: RunningProxy, logger: ProxyLogger): void;
}

interface FromSupervisor {
  canaryUp: 'ingress';
}

/** The link when this process runs under `canary up`; null for a proxy started by hand. */
export function supervisorLink(): SupervisorLink | null {
  if (process.env.CANARY_SUPERVISED !== '1' || typeof process.send !== 'function') return null;
  const graceMs = Number(process.env.CANARY_ORPHAN_GRACE_MS ?? '10000');
  return {
    standby: process.env.CANARY_PROXY_STANDBY === '1',
    ingress: () =>
      new Promise<object>((resolve) => {
        const onMessage = (message: unknown, handle: unknown): void => {
          if ((message as FromSupervisor | null)?.canaryUp !== 'ingress' || typeof handle !== 'object' || handle === null) return;
          process.off('message', onMessage);
          process.off('disconnect', onGone);
          resolve(handle);
        };
        // A standby (never handed the ingress) has nothing to serve once the supervisor is gone.
        const onGone = (): void => process.exit(0);
        process.on('message', onMessage);
        process.once('disconnect', onGone);
        process.send?.({ canaryProxy: 'need-ingress' });
      }),
    attach: (running, logger) => {
      process.once('disconnect', () => {
        logger.warn(
          `the supervisor (canary up) is gone: serving route table revision ${running.proxy.revision} as it is for ${graceMs} ms, ` +
            'until a new canary up on the same data directory takes over',
        );
        void running.source.close();
        // Unref'd: a SIGTERM from the successor closes the listeners, and the process ends as soon as they drained.
        setTimeout(() => {
          logger.warn('no canary up took over: stopping');
          running.close().finally(() => process.exit(0));
        }, graceMs).unref();
      });
      process.send?.({ canaryProxy: 'ready' });
      // The channel alone must not keep the process alive: after a SIGTERM the proxy ends once it has drained.
      (process.channel as { unref?: () => void } | undefined)?.unref?.();
    },
  };
}
