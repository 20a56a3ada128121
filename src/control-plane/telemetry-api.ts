import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { InputError, NotAllowedError, NotFoundError } from '../core/index.js';
import { type TelemetryHub, type TopologyInventory, TrafficGenerator } from '../telemetry/index.js';
import { TelemetryBatch } from '../telemetry-wire/telemetry-batch.js';
import { type ApiContext, typed } from './api-context.js';
import { errorResponses, TopologySchema, TraceSummarySchema } from './api-schemas.js';
import { eventStreams } from './event-stream.js';
import { registerComparisonApi } from './comparison-api.js';
import { registerObservedHistoryApi } from './observed-history-api.js';
import type { ExternalTelemetry } from './cluster-telemetry.js';

export interface TelemetryApiOptions {
  /** The URL the demo's traffic switch loads (the product page through the ingress); unset: no demo traffic. */
  demoTrafficUrl?: string;
  /** Interval of topology events on `/api/v1/watch` (control-plane-config.ts). */
  watchIntervalMs: number;
  /** Observed shares, topology and traces read from elsewhere (cluster mode: Prometheus, Jaeger) instead of the hub. */
  external?: ExternalTelemetry;
}

/** Window (seconds) of the observed shares filled into release resources. */
const OBSERVED_WINDOW = 60;

const TrafficState = z.object({
  enabled: z.boolean(),
  rate: z.number(),
  url: z.string().nullable(),
  stats: z.unknown().nullable(),
});

const booleanQuery = z
  .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1')
  .optional();

/** `since`/`until`: ISO time, milliseconds since the epoch, or an age such as 15m / 2h / 30s. */
function timeQuery(value: string | undefined, field: string, now = Date.now()): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d{10,}$/.test(value)) return Number(value);
  const age = /^(\d+)(s|m|h|d)$/.exec(value);
  if (age) return now - Number(age[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw new InputError(`${field}: must be an ISO time, epoch milliseconds or an age like 15m, got "${value}"`, [
      { path: field, message: 'not a time' },
    ]);
  return t;
}

/**
 * Telemetry over HTTP: proxies' batches in (`POST /api/v1/telemetry`), `/metrics` (Prometheus, Istio names),
 * the topology and its live stream (`/api/v1/watch`, server-sent events), traces, and the demo traffic switch.
 * Also fills `status.observed` of release resources from the last minute of traffic, and answers a release's
 * observed history (`/api/v1/releases/{name}/observed-history`).
 */
export function registerTelemetryApi(app: FastifyInstance, ctx: ApiContext, hub: TelemetryHub, options: TelemetryApiOptions): void {
  const api = typed(app);
  const tags = ['telemetry'];
  const { watchIntervalMs } = options;
  const openEventStream = eventStreams(app);
  const external = options.external ?? {};
  const topologyOf = async (window: number) =>
    external.topology ? external.topology(window, inventory().releases) : hub.topology(window, inventory());

  const inventory = (): TopologyInventory => ({
    versions: ctx.store.listServices().flatMap((s) => s.versions.map((v) => ({ service: s.name, version: v.name }))),
    releases: ctx.store.listReleases().map((r) => ({ name: r.name, service: r.service })),
  });

  // Release resources carry the traffic share each version really got (not stored: it changes every second).
  app.addHook('preSerialization', async (req, _reply, payload: unknown) => {
    if (!req.routeOptions.url?.startsWith('/api/v1/releases') || payload === null || typeof payload !== 'object') return payload;
    const fill = async (r: unknown) => {
      const rel = r as { service?: unknown; status?: { observed?: unknown } };
      if (typeof rel?.service === 'string' && rel.status && typeof rel.status === 'object' && 'observed' in rel.status)
        rel.status.observed = external.observedShares
          ? await external.observedShares(rel.service, OBSERVED_WINDOW)
          : hub.observedShares(rel.service, OBSERVED_WINDOW);
    };
    const items = (payload as { items?: unknown }).items;
    if (Array.isArray(items)) await Promise.all(items.map(fill));
    else await fill(payload);
    return payload;
  });

  registerObservedHistoryApi(app, ctx, hub);
  registerComparisonApi(app, ctx, hub);

  app.get('/metrics', { schema: { hide: true }, config: { permission: 'public' } }, async (_req, reply) =>
    reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(hub.renderMetrics()),
  );

  api.post(
    '/api/v1/telemetry',
    {
      config: { permission: 'telemetry:write' },
      bodyLimit: 64 * 1024 * 1024,
      schema: {
        tags,
        summary: "A proxy's telemetry batch (edge counters and histograms, spans), sent once per second",
        body: TelemetryBatch,
        response: {
          200: z.object({ accepted: z.object({ edges: z.number(), spans: z.number() }), traceSampling: z.number() }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      hub.ingest(req.body);
      return { accepted: { edges: req.body.edges.length, spans: req.body.spans.length }, traceSampling: hub.traceSampling };
    },
  );

  api.get(
    '/api/v1/topology',
    {
      config: { permission: 'read' },
      schema: {
        tags,
        summary: 'Services, versions and calls between them with rates, success and latency over a window (seconds)',
        querystring: z.object({ window: z.coerce.number().int().min(1).max(hub.window.capacity).default(60) }),
        response: { 200: TopologySchema, ...errorResponses },
      },
    },
    async (req) => topologyOf(req.query.window),
  );

  api.get(
    '/api/v1/watch',
    {
      config: { permission: 'read' },
      schema: {
        tags,
        summary: `Server-sent events: \`event: topology\` (data: the topology JSON) on connect and every ${watchIntervalMs / 1000} s`,
        querystring: z.object({ window: z.coerce.number().int().min(1).max(hub.window.capacity).default(60) }),
        produces: ['text/event-stream'],
      },
    },
    (req, reply) => {
      const window = req.query.window;
      const stream = openEventStream(req, reply);
      let seq = 0;
      const send = () => {
        topologyOf(window).then(
          (topology) => stream.send('topology', ++seq, topology),
          (err: Error) => app.log.warn(`topology for /api/v1/watch: ${err.message}`), // e.g. Prometheus away: skip this tick
        );
      };
      const timer = setInterval(send, watchIntervalMs);
      stream.onEnd(() => clearInterval(timer));
      send();
    },
  );

  api.get(
    '/api/v1/traces',
    {
      config: { permission: 'read' },
      schema: {
        tags,
        summary: 'Traces, newest first, by service, operation, time, duration and errors',
        querystring: z.object({
          service: z.string().optional(),
          operation: z.string().optional(),
          minDurationMs: z.coerce.number().min(0).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(20),
          errors: booleanQuery,
          since: z.string().optional(),
          until: z.string().optional(),
        }),
        response: { 200: z.object({ traces: z.array(TraceSummarySchema) }), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      const since = timeQuery(q.since, 'since');
      const until = timeQuery(q.until, 'until');
      const query = {
        limit: q.limit,
        ...(q.service ? { service: q.service } : {}),
        ...(q.operation ? { operation: q.operation } : {}),
        ...(q.minDurationMs !== undefined ? { minDurationMs: q.minDurationMs } : {}),
        ...(q.errors ? { errors: true } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
      };
      return { traces: external.listTraces ? await external.listTraces(query) : hub.listTraces(query) };
    },
  );

  api.get(
    '/api/v1/traces/:traceId',
    {
      config: { permission: 'read' },
      schema: {
        tags,
        summary: 'One trace: its spans in tree order (each with parentSpanId and children)',
        params: z.object({ traceId: z.string() }),
        response: { 200: z.object({ traceId: z.string(), spans: z.array(z.looseObject({ spanId: z.string() })) }), ...errorResponses },
      },
    },
    async (req) => {
      // Any other id is simply not there (404), as for an id past retention.
      const id = req.params.traceId;
      const valid = /^[0-9a-fA-F]{32}$/.test(id);
      const t = !valid ? null : external.getTrace ? await external.getTrace(id) : hub.getTrace(id);
      if (t === null) throw new NotFoundError(`trace "${req.params.traceId}" not found (it may not be sampled, or past retention)`);
      return t;
    },
  );

  // The demo's traffic switch: a steady load on the product page, run by the control plane itself.
  let generator: TrafficGenerator | null = null;
  const trafficState = () => ({
    enabled: generator?.running ?? false,
    rate: generator?.rate ?? 0,
    url: options.demoTrafficUrl ?? null,
    stats: generator ? generator.stats() : null,
  });
  api.get(
    '/api/v1/demo/traffic',
    {
      config: { permission: 'read' },
      schema: { tags, summary: "The demo traffic generator's state", response: { 200: TrafficState, ...errorResponses } },
    },
    async () => trafficState(),
  );
  api.post(
    '/api/v1/demo/traffic',
    {
      config: { permission: 'demo:write' },
      schema: {
        tags,
        summary: 'Turn the demo traffic on (`{"enabled":true,"rate":2}` requests per second on the product page) or off',
        body: z.strictObject({ enabled: z.boolean(), rate: z.number().positive().max(200, 'at most 200 requests per second').default(2) }),
        response: { 200: TrafficState, ...errorResponses },
      },
    },
    async (req) => {
      if (options.demoTrafficUrl === undefined)
        throw new NotAllowedError('demo traffic needs the demo: start with `canary up --demo bookinfo` (or use `canary load URL`)');
      if (generator) await generator.stop();
      generator = null;
      if (req.body.enabled) {
        generator = new TrafficGenerator({ url: options.demoTrafficUrl, rate: req.body.rate, timeoutMs: 5000 });
        generator.start();
        app.log.info(`demo traffic on: ${req.body.rate}/s to ${options.demoTrafficUrl} (by ${req.actor})`);
      }
      return trafficState();
    },
  );
  app.addHook('preClose', async () => {
    await generator?.stop();
  });

  api.get(
    '/api/v1/telemetry/proxies',
    {
      config: { permission: 'read' },
      schema: {
        tags,
        summary: 'Proxies that sent telemetry: id, host, pid, last batch',
        response: {
          200: z.object({
            items: z.array(
              z.object({
                id: z.string(),
                host: z.string(),
                pid: z.number(),
                lastBatchAt: z.string(),
                batches: z.number(),
                droppedSpans: z.number(),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async () => ({ items: hub.proxiesSeen() }),
  );
}
