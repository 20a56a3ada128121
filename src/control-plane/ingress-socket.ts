import { lookup } from 'node:dns/promises';
import net, { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';

type CreateServerHandle = (address: string, port: number, addressType: number) => object | number;

/**
 * Binds the ingress's listening socket without accepting on it: `canary up` keeps it for as long as it runs and
 * hands it to each proxy process it starts (supervisor-link.ts), so a proxy restart never closes the port and
 * connections made meanwhile wait in the kernel's queue. node:net's own handle factory (the one node:cluster
 * uses to share a port) gives such a handle. While the port is in use (a proxy of an earlier run that is on its
 * way out), it tries again every few milliseconds for up to `retryForMs`.
 */
export async function bindIngressSocket(host: string, port: number, retryForMs = 0): Promise<object> {
  const create = (net as unknown as { _createServerHandle?: CreateServerHandle })._createServerHandle;
  if (typeof create !== 'function') throw new Error('this Node.js has no server handles to share (node:net changed)');
  const address = isIP(host) ? host : (await lookup(host)).address;
  const family = isIP(address);
  const deadline = Date.now() + retryForMs;
  for (;;) {
    const handle = create(address, port, family);
    let code: string;
    if (typeof handle === 'object') {
      // libuv keeps an EADDRINUSE from bind() for listen() (which happens in the proxy, on a copy that does not
      // carry it): a socket that is not bound to the port is the sign.
      const bound: { port?: number } = {};
      const err = (handle as { getsockname(out: object): number }).getsockname(bound);
      if (err === 0 && bound.port !== undefined && bound.port !== 0 && (port === 0 || bound.port === port)) return handle;
      closeIngressSocket(handle);
      code = 'EADDRINUSE';
    } else {
      code = getSystemErrorName(handle);
    }
    if (code !== 'EADDRINUSE' || Date.now() >= deadline) {
      const why = code === 'EADDRINUSE' ? 'the address is in use' : code;
      throw new Error(`cannot listen on ${host}:${port} (--ingress-port): ${why}`);
    }
    // Short: during a handover every millisecond here is a millisecond of refused connections.
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Closes a handle from bindIngressSocket (the port is free once no proxy holds it either). */
export function closeIngressSocket(handle: object): void {
  (handle as { close?: () => void }).close?.();
}
