import type { FastifyInstance } from 'fastify';
import { ForbiddenError, InputError, type ReleaseSpec, stableVersion } from '../core/index.js';
import type { AnalysisRunner } from './analysis-runner.js';
import { analysisServeProblems } from './analysis-serve-problems.js';
import { type ApiContext, typed } from './api-context.js';
import { errorResponses, FinishResultSchema, ReleaseParams, ReleaseResource } from './api-schemas.js';
import { analysisWebhooksProblem, type Role } from './permissions.js';

/**
 * `POST /api/v1/releases/{name}/promote` and `.../abort`: a person's word at any moment of a release, also while
 * its analysis pauses or waits on a webhook. Promote skips the remaining steps and finishes keeping the candidate
 * (`release.promoted`); abort stops the analysis and rolls back.
 */
export function registerAnalysisApi(app: FastifyInstance, runner: AnalysisRunner): void {
  const api = typed(app);
  const tags = ['releases'];
  api.post(
    '/api/v1/releases/:name/promote',
    {
      config: { permission: 'releases:write' },
      schema: {
        tags,
        summary:
          'Promote: skip the remaining steps, the candidate takes 100% and the release finishes keeping it (event release.promoted); works while paused',
        params: ReleaseParams,
        response: { 200: FinishResultSchema, ...errorResponses },
      },
    },
    async (req) => runner.promote(req.params.name, req.actor),
  );
  api.post(
    '/api/v1/releases/:name/abort',
    {
      config: { permission: 'releases:write' },
      schema: {
        tags,
        summary: 'Abort: stop the analysis and roll back (the baseline takes 100%); works at any moment',
        params: ReleaseParams,
        response: { 200: ReleaseResource, ...errorResponses },
      },
    },
    async (req) => runner.abort(req.params.name, req.actor),
  );
}

/**
 * A release with an `analysis` block before the controller creates it: who may set webhooks, what this control
 * plane can serve, and its traffic. The steps own the weights, so the release starts with the baseline at 100 %
 * (no traffic moves before the candidate is ready and the preRollout webhooks agreed); a `traffic` given beside
 * the analysis may only be weights, and is replaced.
 */
export function prepareAnalysisRelease(
  body: ReleaseSpec,
  role: Role,
  ctx: Pick<ApiContext, 'store'>,
  runner: AnalysisRunner | undefined,
): ReleaseSpec {
  if (!body.analysis) return body;
  const forbidden = analysisWebhooksProblem(role, body.analysis);
  if (forbidden) throw new ForbiddenError(forbidden);
  const problems = runner ? analysisServeProblems(body, runner) : [{ path: 'analysis', message: 'this control plane runs no analysis' }];
  const t = body.traffic as { weights?: unknown; match?: unknown; rules?: unknown; mirror?: unknown; sticky?: unknown } | undefined;
  if (t && (t.match || t.rules || t.mirror))
    problems.push({
      path: 'traffic',
      message: 'leave traffic out with an analysis: its steps set the weights (match, rules and mirror do not mix with steps)',
    });
  if (problems.length > 0) throw InputError.fromDetails(problems);
  const service = ctx.store.getService(body.service);
  if (!service) return body; // the controller says so
  const baseline = body.baseline ?? stableVersion(service);
  return { ...body, traffic: { weights: { [baseline]: 100 }, ...(t?.sticky ? { sticky: t.sticky as never } : {}) } };
}
