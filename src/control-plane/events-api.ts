import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { InputError, NotFoundError } from '../core/index.js';
import type { EventFilter } from '../store/index.js';
import { type ApiContext, typed } from './api-context.js';
import { errorResponses, EventResource, EventsQuery, ReleaseParams } from './api-schemas.js';

function sinceOf(since: string | undefined): number | string | undefined {
  if (since === undefined) return undefined;
  if (/^\d+$/.test(since)) return Number(since);
  const t = Date.parse(since);
  if (Number.isNaN(t))
    throw new InputError(`since: must be an event id or an ISO time, got "${since}"`, [
      { path: 'since', message: 'must be an event id or an ISO time' },
    ]);
  return new Date(t).toISOString();
}

/** The audit/event log, newest last. */
export function registerEventsApi(app: FastifyInstance, ctx: ApiContext): void {
  const api = typed(app);
  const { store } = ctx;
  const tags = ['events'];
  const response = { 200: z.object({ items: z.array(EventResource) }), ...errorResponses };

  api.get(
    '/api/v1/events',
    { config: { permission: 'read' }, schema: { tags, summary: 'Every event (newest last)', querystring: EventsQuery, response } },
    async (req) => {
      const filter: EventFilter = {};
      const since = sinceOf(req.query.since);
      if (since !== undefined) filter.since = since;
      if (req.query.limit !== undefined) filter.limit = req.query.limit;
      return { items: store.listEvents(filter) };
    },
  );

  api.get(
    '/api/v1/releases/:name/events',
    {
      config: { permission: 'read' },
      schema: {
        tags,
        summary: "A release's events (kept after it finishes), newest last",
        params: ReleaseParams,
        querystring: EventsQuery,
        response,
      },
    },
    async (req) => {
      // A finished release is gone but its events stay; a name that never had a release is a 404, not an empty list.
      if (!store.getRelease(req.params.name) && store.listEvents({ release: req.params.name, limit: 1 }).length === 0)
        throw new NotFoundError(`release "${req.params.name}" does not exist and has no events`);
      const filter: EventFilter = { release: req.params.name };
      const since = sinceOf(req.query.since);
      if (since !== undefined) filter.since = since;
      if (req.query.limit !== undefined) filter.limit = req.query.limit;
      return { items: store.listEvents(filter) };
    },
  );
}
