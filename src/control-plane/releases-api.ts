import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ConflictError, ForbiddenError, Name, PatchReleaseBody, type Release, ReleaseSpec, TakeoverBody } from '../core/index.js';
import { type ApiContext, ifMatchOf, typed } from './api-context.js';
import { errorResponses, FinishResultSchema, ReleaseParams, ReleaseResource } from './api-schemas.js';
import {
  type ChangePlan,
  type ChangePlanner,
  changePlannerOf,
  DryRunQuery,
  isDryRun,
  PlanStepSchema,
  refusalsOf,
} from './change-planner.js';
import { prepareAnalysisRelease } from './analysis-api.js';
import { candidateWorkloadProblem } from './permissions.js';
import type { FinishResult } from './release-controller.js';

/** What `?dryRun=true` answers: the release (or finish) as it would be, and the plan of cluster objects. */
export const DryRunResultSchema = z.object({
  dryRun: z.literal(true),
  release: ReleaseResource.optional(),
  finish: FinishResultSchema.optional(),
  plan: z.array(PlanStepSchema).meta({ description: 'One step per cluster object (empty without a cluster backend)' }),
  planText: z.string().meta({ description: 'The plan as the CLI prints it: a line per object, then the YAML it would write' }),
});

/**
 * Release jobs and their lifecycle actions. Every mutating call takes `?dryRun=true`: it validates exactly as the
 * real call would and answers what would result, writing nothing. With a cluster backend the plan lists the
 * objects it would write, and a real call whose objects belong to someone else is refused before anything changes.
 */
export function registerReleasesApi(app: FastifyInstance, ctx: ApiContext): void {
  const api = typed(app);
  const { store, controller } = ctx;
  const tags = ['releases'];
  const one = { 200: z.union([ReleaseResource, DryRunResultSchema]), ...errorResponses };
  const planner = changePlannerOf(ctx.runtime);

  /** The plan on the cluster (none without one); a real change with a refused object is refused whole. */
  async function plan(make: (p: ChangePlanner) => Promise<ChangePlan>, dryRun: boolean): Promise<ChangePlan> {
    if (!planner) return { steps: [], text: '' };
    const p = await make(planner);
    const refused = dryRun ? null : refusalsOf(p);
    if (refused) throw new ConflictError(refused, 'NotOwned');
    return p;
  }

  /** A traffic change (patch, takeover, rollback, resume): planned first when dry or on a cluster, then made. */
  async function trafficChange(dryRun: boolean, change: (opts: { dryRun?: boolean }) => Release) {
    if (dryRun || planner) {
      const would = change({ dryRun: true });
      const p = await plan((pl) => pl.planSync(store.requireService(would.service), would), dryRun);
      if (dryRun) return { dryRun: true as const, release: would, plan: p.steps, planText: p.text };
    }
    const r = change({});
    await planner?.settle();
    return r;
  }

  api.get(
    '/api/v1/releases',
    {
      config: { permission: 'read' },
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
      config: { permission: 'releases:write' },
      schema: {
        tags,
        summary: 'Create a release: adds the candidate version when new, starts its workload; traffic moves once it is ready',
        body: ReleaseSpec,
        querystring: DryRunQuery,
        response: { 201: ReleaseResource, 200: DryRunResultSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const problem = candidateWorkloadProblem(req.caller!.role, req.body.candidate.workload);
      if (problem) throw new ForbiddenError(problem);
      req.body = prepareAnalysisRelease(req.body, req.caller!.role, ctx, ctx.analysis);
      const dryRun = isDryRun(req.query);
      if (dryRun || planner) {
        const would = await controller.createRelease(req.body, req.actor, { dryRun: true });
        // The service as it is now: the plan copies the baseline's Deployment for the candidate.
        const p = await plan((pl) => pl.planCreate(store.requireService(would.service), would), dryRun);
        if (dryRun) return reply.status(200).send({ dryRun: true, release: would, plan: p.steps, planText: p.text });
      }
      const r = await controller.createRelease(req.body, req.actor);
      await planner?.settle();
      return reply.status(201).header('etag', `"${r.resourceVersion}"`).send(r);
    },
  );

  api.get(
    '/api/v1/releases/:name',
    { config: { permission: 'read' }, schema: { tags, summary: 'One release', params: ReleaseParams, response: one } },
    async (req, reply) => {
      const r = store.requireRelease(req.params.name);
      return reply.header('etag', `"${r.resourceVersion}"`).send(r);
    },
  );

  api.patch(
    '/api/v1/releases/:name',
    {
      config: { permission: 'releases:write' },
      schema: {
        tags,
        summary: "Change a release's traffic (If-Match: <resourceVersion> honoured, 409 when stale)",
        params: ReleaseParams,
        querystring: DryRunQuery,
        body: PatchReleaseBody,
        response: one,
      },
    },
    async (req, reply) => {
      const r = await trafficChange(isDryRun(req.query), (opts) =>
        controller.patchRelease(req.params.name, req.body, req.actor, ifMatchOf(req), opts),
      );
      return 'dryRun' in r ? reply.send(r) : reply.header('etag', `"${r.resourceVersion}"`).send(r);
    },
  );

  api.post(
    '/api/v1/releases/:name/takeover',
    {
      config: { permission: 'releases:write' },
      schema: {
        tags,
        summary: 'That version gets 100% (the release governor)',
        params: ReleaseParams,
        querystring: DryRunQuery,
        body: TakeoverBody,
        response: one,
      },
    },
    async (req) =>
      trafficChange(isDryRun(req.query), (opts) => controller.takeover(req.params.name, req.body, req.actor, ifMatchOf(req), opts)),
  );

  // Rollback and resume take nothing but the release: the same route, a different change.
  for (const [action, summary] of [
    ['rollback', 'The baseline gets 100%, in any phase'],
    ['resume', "Clear the governor: the release's traffic rules apply again"],
  ] as const) {
    api.post(
      `/api/v1/releases/:name/${action}`,
      {
        config: { permission: 'releases:write' },
        schema: { tags, summary, params: ReleaseParams, querystring: DryRunQuery, response: one },
      },
      async (req) => trafficChange(isDryRun(req.query), (opts) => controller[action](req.params.name, req.actor, ifMatchOf(req), opts)),
    );
  }

  api.delete(
    '/api/v1/releases/:name',
    {
      config: { permission: 'releases:write' },
      schema: {
        tags,
        summary:
          'Finish: route everything to `keep`, wait the drain period, retire the other version; the release is deleted, its events stay',
        params: ReleaseParams,
        querystring: DryRunQuery.extend({ keep: Name.optional() }),
        response: { 200: z.union([FinishResultSchema, DryRunResultSchema]), ...errorResponses },
      },
    },
    async (req) => {
      const dryRun = isDryRun(req.query);
      const { name } = req.params;
      if (dryRun || planner) {
        const would: FinishResult = await controller.finishRelease(name, req.query.keep, req.actor, { dryRun: true });
        const release = store.requireRelease(name);
        const p = await plan((pl) => pl.planFinish(store.requireService(release.service), release, would.kept), dryRun);
        if (dryRun) return { dryRun: true as const, finish: would, plan: p.steps, planText: p.text };
      }
      // finishRelease waits for the cluster: its last reconcile routes to the kept version before deleting the other.
      return controller.finishRelease(name, req.query.keep, req.actor);
    },
  );
}
