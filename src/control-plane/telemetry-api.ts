import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../core/index.js';
import { typed } from './api-context.js';
import { errorResponses } from './api-schemas.js';

/** Topology and traces: the API shapes, empty until telemetry ingestion lands. */
export function registerTelemetryApi(app: FastifyInstance): void {
  const api = typed(app);
  const tags = ['telemetry'];

  api.get(
    '/api/v1/topology',
    {
      schema: {
        tags,
        summary: 'Services, versions and calls between them with rates, success and latency over a window (seconds)',
        querystring: z.object({ window: z.coerce.number().int().min(1).max(86_400).default(60) }),
        response: { 200: z.object({ nodes: z.array(z.unknown()), edges: z.array(z.unknown()), window: z.number() }), ...errorResponses },
      },
    },
    async (req) => ({ nodes: [], edges: [], window: req.query.window }),
  );

  api.get(
    '/api/v1/traces',
    {
      schema: {
        tags,
        summary: 'Traces by service, duration and count',
        querystring: z.object({
          service: z.string().optional(),
          minDurationMs: z.coerce.number().min(0).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(20),
        }),
        response: { 200: z.object({ traces: z.array(z.unknown()) }), ...errorResponses },
      },
    },
    async () => ({ traces: [] }),
  );

  api.get(
    '/api/v1/traces/:traceId',
    {
      schema: {
        tags,
        summary: 'One trace with its spans',
        params: z.object({ traceId: z.string() }),
        response: { 200: z.object({}).passthrough(), ...errorResponses },
      },
    },
    async (req) => {
      throw new NotFoundError(`trace "${req.params.traceId}" not found`);
    },
  );
}
