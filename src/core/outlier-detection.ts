import { z } from 'zod';

/**
 * Passive outlier detection, as Istio's DestinationRule `trafficPolicy.outlierDetection`: an endpoint that answers
 * with too many consecutive errors is ejected from its version's load balancing for a while. Written per service
 * in the API's shapes (Istio's field names and duration strings); compiled into the route table in milliseconds.
 */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a duration string such as "500ms", "10s", "1.5m"; NaN when it is not one. */
export function durationMs(text: string): number {
  const m = DURATION.exec(text);
  if (m === null) return Number.NaN;
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
}

const Duration = (field: string, maxMs: number) =>
  z.string().superRefine((value, ctx) => {
    const ms = durationMs(value);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: `${field} must be a duration such as "500ms", "10s" or "1m", got "${value}"` });
    } else if (ms < 1 || ms > maxMs) {
      ctx.addIssue({ code: 'custom', message: `${field} must be between 1ms and ${maxMs / 1000}s, got "${value}"` });
    }
  });

export const OutlierDetection = z
  .strictObject({
    consecutive5xxErrors: z
      .int('consecutive5xxErrors must be a whole number of responses (0 turns it off)')
      .min(0, 'consecutive5xxErrors must be 0 (off) or more')
      .max(10_000)
      .optional(),
    consecutiveGatewayErrors: z
      .int('consecutiveGatewayErrors must be a whole number of responses (0 turns it off)')
      .min(0, 'consecutiveGatewayErrors must be 0 (off) or more')
      .max(10_000)
      .optional(),
    interval: Duration('interval', 3_600_000).optional(),
    baseEjectionTime: Duration('baseEjectionTime', 3_600_000).optional(),
    maxEjectionPercent: z
      .int('maxEjectionPercent must be a whole percentage, e.g. 50')
      .min(0, 'maxEjectionPercent must be between 0 and 100')
      .max(100, 'maxEjectionPercent must be between 0 and 100')
      .optional(),
  })
  .meta({
    description:
      'Passive outlier detection (Istio DestinationRule outlierDetection). Defaults: consecutive5xxErrors 0 (off), ' +
      'consecutiveGatewayErrors 5 (502/503/504, connect failures and timeouts), interval "10s", baseEjectionTime "30s", ' +
      'maxEjectionPercent 50. Both counts at 0 turn detection off.',
  });
export type OutlierDetection = z.infer<typeof OutlierDetection>;

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
