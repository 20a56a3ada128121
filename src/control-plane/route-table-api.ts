import type { FastifyInstance } from 'fastify';
import type { RouteTable } from '../core/index.js';
import { type ApiContext, typed } from './api-context.js';
import { errorResponses, RouteTableSchema } from './api-schemas.js';
import { eventStreams } from './event-stream.js';

export interface RouteTableApiOptions {
  /** Interval of the `: ping` comment that keeps idle watch streams open through proxies; default 15 s. */
  pingMs?: number;
}

/**
 * The compiled route table, and its watch stream for proxies (server-sent events): an `event: snapshot`
 * with the whole table at once on connect and again on every new revision, a `: ping` comment meanwhile.
 */
export function registerRouteTableApi(app: FastifyInstance, ctx: ApiContext, options: RouteTableApiOptions = {}): void {
  const api = typed(app);
  const { feed } = ctx;
  const pingMs = options.pingMs ?? 15_000;
  const openEventStream = eventStreams(app);
  const tags = ['route table'];

  api.get(
    '/api/v1/route-table',
    { schema: { tags, summary: 'The route table proxies apply now', response: { 200: RouteTableSchema, ...errorResponses } } },
    async () => feed.current(),
  );

  api.get(
    '/api/v1/route-table/watch',
    {
      schema: {
        tags,
        summary: 'Server-sent events: `event: snapshot` (data: the RouteTable JSON) on connect and on every revision; `: ping` every 15 s',
        produces: ['text/event-stream'],
      },
    },
    (req, reply) => {
      const stream = openEventStream(req, reply);
      let lastRevision = -1;
      const send = (t: RouteTable) => {
        if (t.revision === lastRevision) return;
        lastRevision = t.revision;
        stream.send('snapshot', t.revision, t);
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
