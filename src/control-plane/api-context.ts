import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InputError } from '../core/index.js';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { SqliteStore } from '../store/index.js';
import type { EjectionSeen } from '../telemetry/index.js';
import type { WorkloadRuntime } from '../workloads/workload-runtime.js';
import type { AnalysisRunner } from './analysis-runner.js';
import type { ReleaseController } from './release-controller.js';
import type { RouteTableFeed } from './route-table-feed.js';
import type { ServiceController } from './service-controller.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, as recorded in events; set by the auth hook. */
    actor: string;
  }
}

/** What the API's route modules need. */
export interface ApiContext {
  store: SqliteStore;
  runtime: WorkloadRuntime;
  /** Release jobs. */
  controller: ReleaseController;
  /** Services, versions, routes. */
  services: ServiceController;
  feed: RouteTableFeed;
  /** What the proxies' outlier detection has ejected (from their telemetry); absent: nothing is known. */
  outliers?: { ejectedInstances(service: string, version: string): Map<string, EjectionSeen> };
  /** The automated analysis (releases with an `analysis` block). */
  analysis?: AnalysisRunner;
}

/** The app with zod schemas typing each route's request and reply. */
export function typed(app: FastifyInstance) {
  return app.withTypeProvider<ZodTypeProvider>();
}

/**
 * `If-Match: "7"`, `W/"7"` or `7` -> `7`; absent or `*` -> undefined (no check). Anything else is not a
 * resourceVersion this API ever gave out: 400, rather than a 409 that would send the client to re-read and retry.
 */
export function ifMatchOf(request: FastifyRequest): string | undefined {
  const raw = request.headers['if-match'];
  if (raw === undefined || raw.trim() === '*') return undefined;
  const m = /^(?:W\/)?(?:"(\d{1,15})"|(\d{1,15}))$/.exec(raw.trim());
  const version = m?.[1] ?? m?.[2];
  if (version === undefined) {
    throw new InputError(`If-Match: must be a resourceVersion as the API returned it, e.g. "7", got ${JSON.stringify(raw)}`, [
      { path: 'If-Match', message: 'must be a resourceVersion, e.g. "7"' },
    ]);
  }
  return version;
}
