import { z } from 'zod';
import { durationMs } from '../outlier-detection.js';

/**
 * The `analysis` block of a canary release (DESIGN.md "Automated analysis"): the steps that move traffic, the
 * checks judged every `interval`, the webhooks. Defaults are written here once; the API's OpenAPI document, the
 * CLI's flags and the console's wizard all map onto this schema.
 */

export const ANALYSIS_DEFAULTS = {
  interval: '5s',
  steps: [{ setWeight: 10 }, { setWeight: 50 }, { setWeight: 100 }],
  checks: [{ metric: 'successRate' }, { metric: 'latencyP99' }],
  minRequests: 20,
  alpha: 0.01,
  maxIncreasePercent: 20,
  webhookTimeout: '5s',
  webhookRetries: 2,
} as const;

const durationIn = (field: string, minMs: number, maxMs: number) =>
  z.string(`${field} must be a duration string such as "500ms", "10s" or "1m"`).superRefine((value, ctx) => {
    const ms = durationMs(value);
    if (Number.isNaN(ms))
      ctx.addIssue({ code: 'custom', message: `${field} must be a duration such as "5s", "1m" or "500ms", got "${value}"` });
    else if (ms < minMs || ms > maxMs)
      ctx.addIssue({ code: 'custom', message: `${field} must be between ${fmt(minMs)} and ${fmt(maxMs)}, got "${value}"` });
  });

function fmt(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

const unknownKeys = (fields: string) => (issue: { code: string; keys?: string[] }) =>
  issue.code === 'unrecognized_keys'
    ? `unknown field ${(issue.keys ?? []).map((k) => `"${k}"`).join(', ')}: the fields are ${fields}`
    : undefined;

export const AnalysisStep = z
  .strictObject(
    {
      setWeight: z
        .int('setWeight must be a whole percentage from 0 to 100')
        .min(0, 'setWeight must be from 0 to 100')
        .max(100, 'setWeight must be from 0 to 100')
        .optional(),
      pause: z
        .strictObject({ duration: durationIn('pause.duration', 1000, 86_400_000).optional() }, { error: unknownKeys('duration') })
        .optional(),
    },
    { error: unknownKeys('setWeight and pause') },
  )
  .superRefine((step, ctx) => {
    const kinds = (['setWeight', 'pause'] as const).filter((k) => step[k] !== undefined);
    if (kinds.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message: `a step is {"setWeight": 20} or {"pause": {"duration": "1m"}} ({"pause": {}} waits for promote), got ${kinds.length === 0 ? 'neither' : 'both'}`,
      });
  })
  .meta({
    description: '{"setWeight": N}: the candidate gets N %; {"pause": {"duration": "1m"}}: hold; {"pause": {}}: hold until promote',
  });
export type AnalysisStep = z.infer<typeof AnalysisStep>;

const SuccessRateCheck = z.strictObject(
  {
    metric: z.literal('successRate'),
    min: z
      .number('min must be a percentage such as 99')
      .min(0, 'min must be a percentage from 0 to 100')
      .max(100, 'min must be a percentage from 0 to 100')
      .optional(),
  },
  { error: unknownKeys('metric and min') },
);

const LatencyCheck = z.strictObject(
  {
    metric: z.literal('latencyP99'),
    maxMs: z.number('maxMs must be a number of milliseconds').positive('maxMs must be above 0').max(3_600_000).optional(),
    maxIncreasePercent: z
      .number('maxIncreasePercent must be a percentage such as 20')
      .min(0, 'maxIncreasePercent must be 0 or more')
      .max(10_000)
      .optional(),
  },
  { error: unknownKeys('metric, maxMs and maxIncreasePercent') },
);

const PrometheusCheck = z
  .strictObject(
    {
      metric: z.literal('prometheus'),
      name: z.string().min(1).max(63).optional(),
      query: z.string('query must be a PromQL expression').min(1, 'query must be a PromQL expression').max(4000),
      max: z.number().optional(),
      min: z.number().optional(),
    },
    { error: unknownKeys('metric, name, query, max and min') },
  )
  .superRefine((c, ctx) => {
    if (c.max === undefined && c.min === undefined)
      ctx.addIssue({ code: 'custom', message: 'a prometheus check needs "max" or "min": the bound its value must keep' });
  });

export const AnalysisCheck = z
  .discriminatedUnion('metric', [SuccessRateCheck, LatencyCheck, PrometheusCheck], {
    error: (issue) => (issue.code === 'invalid_union' ? 'metric must be "successRate", "latencyP99" or "prometheus"' : undefined),
  })
  .meta({
    description:
      'successRate: the candidate fails no more often than the baseline, and its success rate stays at least `min` %; ' +
      'latencyP99: with `maxMs`, its p99 stays within it (unless the baseline is as slow); with `maxIncreasePercent` ' +
      '(default 20 when maxMs is not given) it is not slower than the baseline (Mann-Whitney rank test) by more than that ' +
      'at the median; prometheus (cluster mode): the PromQL value stays within `min`/`max`.',
  });
export type AnalysisCheck = z.infer<typeof AnalysisCheck>;

export const WebhookKind = z.enum(['preRollout', 'confirmPromotion', 'rollback', 'event']);
export type WebhookKind = z.infer<typeof WebhookKind>;

export const AnalysisWebhook = z.strictObject(
  {
    on: z.enum(WebhookKind.options, { error: 'on must be "preRollout", "confirmPromotion", "rollback" or "event"' }),
    name: z.string().min(1).max(63).optional(),
    url: z
      .string()
      .max(2000)
      .superRefine((value, ctx) => {
        let url: URL;
        try {
          url = new URL(value);
        } catch {
          ctx.addIssue({ code: 'custom', message: `url must be an http:// or https:// URL, got "${value}"` });
          return;
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:')
          ctx.addIssue({ code: 'custom', message: `url must be an http:// or https:// URL, got "${url.protocol}"` });
        if (url.username || url.password)
          ctx.addIssue({ code: 'custom', message: 'url must not carry a user name or password (they would be stored and shown)' });
      }),
    timeout: durationIn('timeout', 100, 60_000).optional(),
    retries: z.int('retries must be a whole number from 0 to 5').min(0).max(5, 'retries must be from 0 to 5').optional(),
  },
  { error: unknownKeys('on, name, url, timeout and retries') },
);
export type AnalysisWebhook = z.infer<typeof AnalysisWebhook>;

export const AnalysisLoad = z.strictObject(
  {
    rate: z
      .number('rate must be requests per second, e.g. 5')
      .positive('rate must be above 0')
      .max(200, 'rate must be at most 200 requests per second'),
    path: z.string().startsWith('/', 'path must start with "/"').max(2000).optional(),
  },
  { error: unknownKeys('rate and path') },
);
export type AnalysisLoad = z.infer<typeof AnalysisLoad>;

export const AnalysisSpec = z
  .strictObject(
    {
      interval: durationIn('interval', 1000, 600_000).optional(),
      steps: z.array(AnalysisStep).min(1, 'steps must list at least one step').max(50, 'steps may list at most 50 steps').optional(),
      checks: z.array(AnalysisCheck).max(20).optional(),
      minRequests: z.int('minRequests must be a whole number').min(1, 'minRequests must be at least 1').max(1_000_000).optional(),
      alpha: z
        .number('alpha must be a probability such as 0.01')
        .gt(0, 'alpha must be above 0 and at most 0.2')
        .max(0.2, 'alpha must be above 0 and at most 0.2')
        .optional(),
      onFailure: z.literal('rollback', { error: 'onFailure must be "rollback"' }).optional(),
      load: AnalysisLoad.optional(),
      webhooks: z.array(AnalysisWebhook).max(10, 'webhooks may list at most 10').optional(),
    },
    { error: unknownKeys('interval, steps, checks, minRequests, alpha, onFailure, load and webhooks') },
  )
  .superRefine((a, ctx) => {
    const metrics = (a.checks ?? []).map((c) => c.metric);
    for (const m of ['successRate', 'latencyP99'] as const) {
      if (metrics.filter((x) => x === m).length > 1) ctx.addIssue({ code: 'custom', path: ['checks'], message: `"${m}" is listed twice` });
    }
  })
  .meta({
    description:
      "Progressive delivery: steps move the candidate's weight, checks compare it with the baseline every interval. " +
      `Defaults: interval "${ANALYSIS_DEFAULTS.interval}", steps 10/50/100 %, checks successRate and latencyP99, minRequests ${ANALYSIS_DEFAULTS.minRequests}, alpha ${ANALYSIS_DEFAULTS.alpha}.`,
  });
export type AnalysisSpecInput = z.input<typeof AnalysisSpec>;
export type AnalysisSpec = z.infer<typeof AnalysisSpec>;

/** The analysis with every default filled in and durations in milliseconds: what the runner works from. */
export interface AnalysisPlan {
  intervalMs: number;
  steps: AnalysisStep[];
  checks: AnalysisCheck[];
  minRequests: number;
  alpha: number;
  load: { rate: number; path: string } | null;
  webhooks: { on: WebhookKind; name: string; url: string; timeoutMs: number; retries: number }[];
}

export function analysisPlan(spec: AnalysisSpec): AnalysisPlan {
  return {
    intervalMs: durationMs(spec.interval ?? ANALYSIS_DEFAULTS.interval),
    steps: spec.steps ?? ANALYSIS_DEFAULTS.steps.map((s) => ({ ...s })),
    checks: spec.checks ?? ANALYSIS_DEFAULTS.checks.map((c) => ({ ...c })),
    minRequests: spec.minRequests ?? ANALYSIS_DEFAULTS.minRequests,
    alpha: spec.alpha ?? ANALYSIS_DEFAULTS.alpha,
    load: spec.load ? { rate: spec.load.rate, path: spec.load.path ?? '/' } : null,
    webhooks: (spec.webhooks ?? []).map((w, i) => ({
      on: w.on,
      name: w.name ?? `${w.on}-${i}`,
      url: w.url,
      timeoutMs: durationMs(w.timeout ?? ANALYSIS_DEFAULTS.webhookTimeout),
      retries: w.retries ?? ANALYSIS_DEFAULTS.webhookRetries,
    })),
  };
}

/** Weight of the candidate in force at `step` (the latest setWeight at or before it; 0 before the first). */
export function weightAt(steps: readonly AnalysisStep[], step: number): number {
  let w = 0;
  for (let i = 0; i <= step && i < steps.length; i++) {
    const s = steps[i]!;
    if (s.setWeight !== undefined) w = s.setWeight;
  }
  return w;
}

/** "10s", "1m30s" style text of a duration in ms, for messages. */
export function durationText(ms: number): string {
  return fmt(ms);
}
