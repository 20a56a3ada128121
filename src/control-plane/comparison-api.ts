import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { TelemetryHub } from '../telemetry/index.js';
import { type ApiContext, typed } from './api-context.js';
import { errorResponses, ReleaseParams } from './api-schemas.js';

const Latency = z.object({ p50: z.number().nullable(), p90: z.number().nullable(), p99: z.number().nullable() });
const ExampleAnswer = z.object({
  status: z.number(),
  headers: z.record(z.string(), z.string()).meta({ description: 'The compared headers and content-type' }),
  body: z.string().meta({ description: 'The body as text, cut to 4096 characters' }),
  bodyBytes: z.number().meta({ description: "The whole body's length in bytes" }),
});

export const ComparisonSchema = z.object({
  release: z.string(),
  window: z.number().meta({ description: 'Seconds covered (the bucket filling now included)' }),
  requests: z.number().meta({ description: 'Requests routed by a rule that mirrors' }),
  mirrored: z.number().meta({ description: 'Copies sent to the mirror' }),
  compared: z.number().meta({ description: 'Pairs whose two answers were complete and compared' }),
  agree: z.number().meta({ description: 'Compared pairs without any difference' }),
  skipped: z.object({
    bodyTooLarge: z.number().meta({ description: 'Request body over compare.maxBodyBytes: not mirrored' }),
    mirrorFailed: z.number().meta({ description: 'The mirror refused, reset, timed out or answered unframeably' }),
    overloaded: z.number().meta({ description: 'The proxy had its most mirrors in flight: not mirrored' }),
    primaryFailed: z.number().meta({ description: 'The primary did not complete (upstream failure, client left)' }),
  }),
  otherDifferences: z.number().meta({ description: 'Differences beyond the keys kept (bounded memory), counted only' }),
  differences: z.array(
    z.object({
      kind: z.enum(['status', 'header', 'body']),
      method: z.string(),
      path: z.string(),
      field: z.string().nullable().meta({ description: 'Header name, JSON field ($.rating, indexes as [*]), or null' }),
      primary: z.string(),
      mirror: z.string(),
      count: z.number(),
      example: z.object({ primary: ExampleAnswer, mirror: ExampleAnswer }).nullable(),
    }),
  ),
  latency: z.object({ primary: Latency, mirror: Latency }).meta({ description: 'Of the compared pairs, in ms' }),
});
/** The answer of `GET /api/v1/releases/{name}/comparison`. */
export type ComparisonAnswer = z.infer<typeof ComparisonSchema>;

/**
 * `GET /api/v1/releases/{name}/comparison`: how the mirror's answers differed from the primary's, from the
 * built-in proxies' comparisons kept in the telemetry hub (in memory, the topology's window).
 */
export function registerComparisonApi(app: FastifyInstance, ctx: ApiContext, hub: TelemetryHub): void {
  const max = hub.comparisons.seconds;
  typed(app).get(
    '/api/v1/releases/:name/comparison',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['releases'],
        summary: "Differences between the mirror's answers and the primary's, with latency of both, over a window",
        description:
          'Counted by the proxies for requests a release mirrors (strategy mirror, or traffic.mirror); zeros for a release that ' +
          `mirrors nothing. Kept in memory for ${max} s. Empty in cluster mode (Istio's mirror does not compare).`,
        params: ReleaseParams,
        querystring: z.object({
          window: z.coerce
            .number({ error: `must be a whole number of seconds, 1 to ${max}` })
            .int(`must be a whole number of seconds, 1 to ${max}`)
            .min(1, 'must be at least 1 (second)')
            .max(max, `must be at most ${max} (seconds kept)`)
            .default(Math.min(300, max))
            .meta({ description: `Seconds back from now, 1..${max}; default 300` }),
        }),
        response: { 200: ComparisonSchema, ...errorResponses },
      },
    },
    async (req) => {
      const release = ctx.store.requireRelease(req.params.name);
      return hub.comparisons.report(release.name, req.query.window);
    },
  );
}
