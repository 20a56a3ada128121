import type { Dispatcher } from 'undici';
import { shadowHost } from './forward-headers.js';
import { type CompiledVersion, nextEndpoint } from './route-snapshot.js';

// Requests whose copy goes to a mirror: a shared handler that ignores the answer (fire-and-forget).
const MIRROR_HANDLER: Dispatcher.DispatchHandlers = {
  onConnect: () => undefined,
  onHeaders: () => true,
  onData: () => true,
  onComplete: () => undefined,
  onError: () => undefined,
};

/**
 * Sends a copy of a bodiless request to the mirror version (its Host gets Envoy's `-shadow` suffix)
 * and forgets it: the answer is read and dropped, a failure changes nothing for the primary. False when no copy
 * went out (no endpoint of the mirror in service, or the pool refused it).
 */
export function sendMirror(
  mirror: CompiledVersion,
  method: string,
  url: string,
  headers: string[],
  hostIndex: number,
  host: string,
  upstreamTimeoutMs: number,
): boolean {
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
        headersTimeout: upstreamTimeoutMs,
        bodyTimeout: upstreamTimeoutMs,
      },
      MIRROR_HANDLER,
    );
    return true;
  } catch {
    return false;
  }
}
