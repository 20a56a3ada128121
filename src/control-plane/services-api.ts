import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  ConflictError,
  effectiveRules,
  NotAllowedError,
  NotFoundError,
  PutOutlierDetectionBody,
  PutRoutesBody,
  Rule,
  type Service,
  ServiceSpec,
  Version,
} from '../core/index.js';
import { type ApiContext, ifMatchOf, typed } from './api-context.js';
import { errorResponses, LogLinesSchema, ServiceParams, ServiceResource, VersionParams } from './api-schemas.js';
import { changePlannerOf, DryRunQuery, isDryRun, PlanStepSchema, refusalsOf } from './change-planner.js';

/** What `PUT .../routes?dryRun=true` answers: the service as it would be, and the plan of cluster objects. */
export const RoutesDryRunSchema = z.object({
  dryRun: z.literal(true),
  service: ServiceResource,
  plan: z.array(PlanStepSchema).meta({ description: 'One step per cluster object (empty without a cluster backend)' }),
  planText: z.string().meta({ description: 'The plan as the CLI prints it: a line per object, then the YAML it would write' }),
});
import { renderIstio } from '../renderers/istio.js';

/** Services, their versions, routes, manifests and logs. */
export function registerServicesApi(app: FastifyInstance, ctx: ApiContext): void {
  const api = typed(app);
  const { store, services, runtime } = ctx;
  const planner = changePlannerOf(runtime);
  const withStatus = (svc: Service) => {
    const status = services.serviceStatus(svc);
    const outliers = ctx.outliers;
    if (outliers !== undefined) {
      // The proxies' outlier detection, as their telemetry last told it: an "ejected" mark on the instance.
      for (const v of status.versions) {
        const ejected = outliers.ejectedInstances(svc.name, v.name);
        if (ejected.size === 0) continue;
        v.instances = v.instances.map((i) => {
          const e = ejected.get(i.name) ?? ejected.get(i.address);
          return e === undefined ? i : { ...i, ejectedUntil: e.until };
        });
      }
    }
    return { ...svc, status };
  };
  /**
   * A PUT that changes what the proxies route (routes, outlier detection): validated as the real call, then
   * planned on the cluster; `?dryRun=true` answers the plan, and an object someone else owns refuses it whole.
   */
  const putPlanned = async (dryRun: boolean, put: (opts: { dryRun?: boolean }) => Service) => {
    if (dryRun || planner) {
      const would = put({ dryRun: true });
      const p = planner ? await planner.planRoutes(would) : { steps: [], text: '' };
      if (dryRun) return { dryRun: true as const, service: withStatus(would), plan: p.steps, planText: p.text };
      const refused = refusalsOf(p);
      if (refused) throw new ConflictError(refused, 'NotOwned');
    }
    const svc = put({});
    await planner?.settle();
    return withStatus(svc);
  };
  const tags = ['services'];

  api.get(
    '/api/v1/services',
    {
      config: { permission: 'read' },
      schema: {
        tags,
        summary: 'List services with their versions and instances',
        response: { 200: z.object({ items: z.array(ServiceResource) }), ...errorResponses },
      },
    },
    async () => ({ items: store.listServices().map(withStatus) }),
  );

  api.post(
    '/api/v1/services',
    {
      config: { permission: 'services:write' },
      schema: {
        tags,
        summary: 'Register a service with its versions',
        body: ServiceSpec,
        response: { 201: ServiceResource, ...errorResponses },
      },
    },
    async (req, reply) => {
      const svc = await services.createService(req.body, req.actor);
      return reply.status(201).header('etag', `"${svc.resourceVersion}"`).send(withStatus(svc));
    },
  );

  api.get(
    '/api/v1/services/:name',
    {
      config: { permission: 'read' },
      schema: {
        tags,
        summary: 'One service, with the health and instances of each version',
        params: ServiceParams,
        response: { 200: ServiceResource, ...errorResponses },
      },
    },
    async (req, reply) => {
      const svc = store.requireService(req.params.name);
      return reply.header('etag', `"${svc.resourceVersion}"`).send(withStatus(svc));
    },
  );

  api.delete(
    '/api/v1/services/:name',
    {
      config: { permission: 'services:write' },
      schema: {
        tags,
        summary:
          'Delete a service and stop its workloads (refused while a release is active; in cluster mode, while its Kubernetes Service exists)',
        params: ServiceParams,
        response: { 200: ServiceResource, ...errorResponses },
      },
    },
    async (req) => {
      // Cluster mode: the store follows the namespace, which would bring the service back.
      const problem = planner && store.requireService(req.params.name) ? planner.serviceDeleteProblem(req.params.name) : null;
      if (problem) throw new NotAllowedError(problem);
      return services.deleteService(req.params.name, req.actor);
    },
  );

  api.post(
    '/api/v1/services/:name/versions',
    {
      config: { permission: 'services:write' },
      schema: {
        tags,
        summary: 'Add a version and start its workload',
        params: ServiceParams,
        body: Version,
        response: { 201: ServiceResource, ...errorResponses },
      },
    },
    async (req, reply) => reply.status(201).send(withStatus(await services.addVersion(req.params.name, req.body, req.actor))),
  );

  api.delete(
    '/api/v1/services/:name/versions/:version',
    {
      config: { permission: 'services:write' },
      schema: {
        tags,
        summary: 'Retire a version and stop its workload (refused while routes or a release use it)',
        params: VersionParams,
        response: { 200: ServiceResource, ...errorResponses },
      },
    },
    async (req) => withStatus(await services.deleteVersion(req.params.name, req.params.version, req.actor)),
  );

  api.get(
    '/api/v1/services/:name/routes',
    {
      config: { permission: 'read' },
      schema: {
        tags,
        summary: "The service's ordered route rules, and the rules in force now (a release's, when one is active)",
        params: ServiceParams,
        response: {
          200: z.object({ rules: z.array(Rule), effective: z.array(Rule), release: z.string().nullable(), resourceVersion: z.string() }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const svc = store.requireService(req.params.name);
      const release = store.releaseOf(svc.name);
      return {
        rules: svc.routes,
        effective: effectiveRules(svc, release),
        release: release?.name ?? null,
        resourceVersion: svc.resourceVersion,
      };
    },
  );

  api.put(
    '/api/v1/services/:name/routes',
    {
      config: { permission: 'routes:write' },
      schema: {
        tags,
        summary: "Replace the service's route rules (409 while a release owns them; If-Match honoured)",
        params: ServiceParams,
        querystring: DryRunQuery,
        body: PutRoutesBody,
        response: { 200: z.union([ServiceResource, RoutesDryRunSchema]), ...errorResponses },
      },
    },
    async (req) =>
      putPlanned(isDryRun(req.query), (opts) => services.putRoutes(req.params.name, req.body, req.actor, ifMatchOf(req), opts)),
  );

  api.put(
    '/api/v1/services/:name/outlier-detection',
    {
      config: { permission: 'routes:write' },
      schema: {
        tags,
        summary: "Replace the service's outlier detection (If-Match honoured); proxies apply it with the next route table",
        params: ServiceParams,
        querystring: DryRunQuery,
        body: PutOutlierDetectionBody,
        response: { 200: z.union([ServiceResource, RoutesDryRunSchema]), ...errorResponses },
      },
    },
    // In cluster mode the change is the DestinationRule's trafficPolicy: planned like a routes change.
    async (req) =>
      putPlanned(isDryRun(req.query), (opts) => services.putOutlierDetection(req.params.name, req.body, req.actor, ifMatchOf(req), opts)),
  );

  api.get(
    '/api/v1/services/:name/manifests',
    {
      config: { permission: 'read' },
      schema: {
        tags,
        summary: 'The Istio VirtualService and DestinationRule for the service as routed now (text/yaml)',
        params: ServiceParams,
        querystring: z.object({ format: z.enum(['istio']).default('istio') }),
      },
    },
    async (req, reply) => {
      const svc = store.requireService(req.params.name);
      const yaml = renderIstio(svc, effectiveRules(svc, store.releaseOf(svc.name)));
      return reply.type('text/yaml; charset=utf-8').send(yaml);
    },
  );

  api.get(
    '/api/v1/services/:name/versions/:version/logs',
    {
      config: { permission: 'read' },
      schema: {
        tags,
        summary: "Recent log lines of a version's instances (newest last)",
        params: VersionParams,
        querystring: z.object({ tail: z.coerce.number().int().min(1).max(10_000).default(200), instance: z.string().optional() }),
        response: { 200: LogLinesSchema, ...errorResponses },
      },
    },
    async (req) => {
      const svc = store.requireService(req.params.name);
      if (!svc.versions.some((v) => v.name === req.params.version)) {
        throw new NotFoundError(`version "${req.params.version}" does not exist in service "${svc.name}"`);
      }
      const opts: { tail: number; instance?: string } = { tail: req.query.tail };
      if (req.query.instance) opts.instance = req.query.instance;
      return { lines: runtime.logs(svc.name, req.params.version, opts) };
    },
  );
}
