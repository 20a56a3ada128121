import type { OutlierDetection } from './model.js';

/**
 * Passive outlier detection, as Istio's DestinationRule `trafficPolicy.outlierDetection`: an endpoint that answers
 * with too many consecutive errors is ejected from its version's load balancing for a while. Written per service
 * in the API's shapes (Istio's field names and duration strings; the schema is `OutlierDetection` in model.ts),
 * compiled into the route table in milliseconds. No zod here: the proxy process loads this file.
 */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a duration string such as "500ms", "10s", "1.5m"; NaN when it is not one. */
export function durationMs(text: string): number {
  const m = DURATION.exec(text);
  if (m === null) return Number.NaN;
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
}

/** The resolved policy as the route table carries it. */
export interface OutlierPolicy {
  /** Consecutive 5xx answers (any 5xx, and failures before an answer) that eject an endpoint; 0: off. */
  consecutive5xxErrors: number;
  /** Consecutive 502/503/504 answers, connect failures and timeouts that eject an endpoint; 0: off. */
  consecutiveGatewayErrors: number;
  /** Each interval an endpoint spends back in service without an ejection takes one off its ejection multiplier. */
  intervalMs: number;
  /** An ejection lasts baseEjectionTimeMs x the endpoint's number of ejections (the multiplier). */
  baseEjectionTimeMs: number;
  /** At most this share of a version's endpoints is ejected at once (so a version's only endpoint never is). */
  maxEjectionPercent: number;
}

export const DEFAULT_OUTLIER_DETECTION: Readonly<Required<OutlierDetection>> = {
  consecutive5xxErrors: 0,
  consecutiveGatewayErrors: 5,
  interval: '10s',
  baseEjectionTime: '30s',
  maxEjectionPercent: 50,
};

/** A service's outlier detection with the defaults filled in (the input is already validated). */
export function outlierPolicy(input: OutlierDetection | undefined): OutlierPolicy {
  const d = DEFAULT_OUTLIER_DETECTION;
  return {
    consecutive5xxErrors: input?.consecutive5xxErrors ?? d.consecutive5xxErrors,
    consecutiveGatewayErrors: input?.consecutiveGatewayErrors ?? d.consecutiveGatewayErrors,
    intervalMs: durationMs(input?.interval ?? d.interval),
    baseEjectionTimeMs: durationMs(input?.baseEjectionTime ?? d.baseEjectionTime),
    maxEjectionPercent: input?.maxEjectionPercent ?? d.maxEjectionPercent,
  };
}

/** True when the policy can eject anything. */
export function outlierDetectionOn(p: OutlierPolicy): boolean {
  return (p.consecutive5xxErrors > 0 || p.consecutiveGatewayErrors > 0) && p.maxEjectionPercent > 0;
}
