import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Name, PatchReleaseBody, ReleaseSpec, TakeoverBody } from '../core/index.js';
import { type ApiContext, ifMatchOf, typed } from './api-context.js';
import { errorResponses, FinishResultSchema, ReleaseParams, ReleaseResource } from './api-schemas.js';

/** Release jobs and their lifecycle actions. */
export function registerReleasesApi(app: FastifyInstance, ctx: ApiContext): void {
  const api = typed(app);
  const { store, controller } = ctx;
  const tags = ['releases'];
  const one = { 200: ReleaseResource, ...errorResponses };

  api.get(
    '/api/v1/releases',
    {
      schema: {
        tags,
        summary: 'List active releases',
        response: { 200: z.object({ items: z.array(ReleaseResource) }), ...errorResponses },
      },
    },
    async () => ({ items: store.listReleases() }),
  );

  api.post(
    '/api/v1/releases',
    {
      schema: {
        tags,
        summary: 'Create a release: adds the candidate version when new, starts its workload; traffic moves once it is ready',
        body: ReleaseSpec,
        response: { 201: ReleaseResource, ...errorResponses },
      },
    },
    async (req, reply) => {
      const r = await controller.createRelease(req.body, req.actor);
      return reply.status(201).header('etag', `"${r.resourceVersion}"`).send(r);
    },
  );

  api.get(
    '/api/v1/releases/:name',
    { schema: { tags, summary: 'One release', params: ReleaseParams, response: one } },
    async (req, reply) => {
      const r = store.requireRelease(req.params.name);
      return reply.header('etag', `"${r.resourceVersion}"`).send(r);
    },
  );

  api.patch(
    '/api/v1/releases/:name',
    {
      schema: {
        tags,
        summary: "Change a release's traffic (If-Match: <resourceVersion> honoured, 409 when stale)",
        params: ReleaseParams,
        body: PatchReleaseBody,
        response: one,
      },
    },
    async (req, reply) => {
      const r = controller.patchRelease(req.params.name, req.body, req.actor, ifMatchOf(req));
      return reply.header('etag', `"${r.resourceVersion}"`).send(r);
    },
  );

  api.post(
    '/api/v1/releases/:name/takeover',
    {
      schema: { tags, summary: 'That version gets 100% (the release governor)', params: ReleaseParams, body: TakeoverBody, response: one },
    },
    async (req) => controller.takeover(req.params.name, req.body, req.actor, ifMatchOf(req)),
  );

  api.post(
    '/api/v1/releases/:name/rollback',
    { schema: { tags, summary: 'The baseline gets 100%, in any phase', params: ReleaseParams, response: one } },
    async (req) => controller.rollback(req.params.name, req.actor, ifMatchOf(req)),
  );

  api.post(
    '/api/v1/releases/:name/resume',
    { schema: { tags, summary: "Clear the governor: the release's traffic rules apply again", params: ReleaseParams, response: one } },
    async (req) => controller.resume(req.params.name, req.actor, ifMatchOf(req)),
  );

  api.delete(
    '/api/v1/releases/:name',
    {
      schema: {
        tags,
        summary:
          'Finish: route everything to `keep`, wait the drain period, retire the other version; the release is deleted, its events stay',
        params: ReleaseParams,
        querystring: z.object({ keep: Name.optional() }),
        response: { 200: FinishResultSchema, ...errorResponses },
      },
    },
    async (req) => controller.finishRelease(req.params.name, req.query.keep, req.actor),
  );
}
