// Plain constants and functions, no schemas: the proxy imports these (telemetry-batch.ts holds the zod schemas the
// control plane validates batches with, which a proxy process does not load).

/** Bits of an edge sample's `flags`. */
export const FLAG_NO_ROUTE = 1;
export const FLAG_UPSTREAM_FAILURE = 2;
export const FLAG_RETRIED = 4;
export const FLAG_MIRRORED = 8;
export const FLAG_UPSTREAM_OVERFLOW = 16;

/**
 * Envoy's response flags for a status and our flag bits, as Istio labels them: NR no route, UH no healthy
 * upstream, UF upstream connect failure, UT upstream timeout, UO upstream overflow (the queue timeout), DC downstream
 * (client) went away, `-` none.
 */
export function responseFlagsOf(code: number, flags: number): string {
  if ((flags & FLAG_NO_ROUTE) !== 0) return 'NR';
  if ((flags & FLAG_UPSTREAM_OVERFLOW) !== 0) return 'UO';
  if ((flags & FLAG_UPSTREAM_FAILURE) !== 0) {
    if (code === 503) return 'UH';
    if (code === 504) return 'UT';
    if (code === 0) return 'UC';
    return 'UF';
  }
  return code === 0 ? 'DC' : '-';
}
