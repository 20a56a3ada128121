import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { RouteTable } from '../core/index.js';
import { type ApiContext, typed } from './api-context.js';
import { errorResponses, RouteTableSchema } from './api-schemas.js';
import { eventStreams } from './event-stream.js';

export interface RouteTableApiOptions {
  /** Interval of the `: ping` comment that keeps idle watch streams open through proxies (`watchPingMs`). */
  pingMs: number;
}

const WatchQuery = z.object({
  deltas: z.enum(['true', 'false', '1', '0']).optional().meta({
    description:
      'true: after the first snapshot, send each new revision as an `event: delta` (what changed since the revision sent before), or as a snapshot when no delta can say it',
  }),
});

/**
 * The compiled route table, and its watch stream for proxies (server-sent events): an `event: snapshot`
 * with the whole table at once on connect and again on every new revision, a `: ping` comment meanwhile.
 * With `?deltas=1` every revision after the first is an `event: delta` instead (core/route-table-delta.ts), made
 * once per revision for all watchers; a snapshot whenever the watcher's revision is not the one the delta starts
 * from. The JSON of each event is made once per revision, not once per watcher.
 */
export function registerRouteTableApi(app: FastifyInstance, ctx: ApiContext, options: RouteTableApiOptions): void {
  const api = typed(app);
  const { feed } = ctx;
  const { pingMs } = options;
  const openEventStream = eventStreams(app);
  const tags = ['route table'];

  api.get(
    '/api/v1/route-table',
    {
      config: { permission: 'routeTable:read' },
      schema: { tags, summary: 'The route table proxies apply now', response: { 200: RouteTableSchema, ...errorResponses } },
    },
    async () => feed.current(),
  );

  api.get(
    '/api/v1/route-table/watch',
    {
      config: { permission: 'routeTable:read' },
      schema: {
        tags,
        summary:
          'Server-sent events: `event: snapshot` (data: the RouteTable JSON) on connect and on every revision; with `?deltas=1`, `event: delta` ({fromRevision, revision, generatedAt, services: {upsert, remove}, listeners: {upsert, remove}}) for every revision after the first; `: ping` every 15 s',
        querystring: WatchQuery,
        produces: ['text/event-stream'],
      },
    },
    (req, reply) => {
      const deltas = req.query.deltas === 'true' || req.query.deltas === '1';
      const stream = openEventStream(req, reply);
      let lastRevision = -1;
      const send = (t: RouteTable) => {
        if (t.revision === lastRevision) return;
        const delta = deltas && lastRevision !== -1 ? feed.deltaJson(lastRevision, t) : null;
        lastRevision = t.revision;
        if (delta !== null) stream.sendJson('delta', t.revision, delta);
        else stream.sendJson('snapshot', t.revision, feed.snapshotJson(t));
      };
      const unsubscribe = feed.subscribe(send);
      send(feed.current());
      const ping = setInterval(() => stream.comment('ping'), pingMs);
      stream.onEnd(() => {
        clearInterval(ping);
        unsubscribe();
      });
    },
  );
}
