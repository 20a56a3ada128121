import type { FastifyInstance } from 'fastify';
import { effectiveRules, type Release } from '../core/index.js';
import type { StoredEvent } from '../store/index.js';
import type { TelemetryHub } from '../telemetry/index.js';
import { type ApiContext, typed } from './api-context.js';
import { errorResponses, ObservedHistoryQuery, ObservedHistorySchema, ReleaseParams } from './api-schemas.js';

/**
 * The weights (0..100) a release puts in force: its governor 100%, the baseline 100% while the candidate is not
 * ready, else the catch-all split of its rules (match rules send matching requests to the candidate on top).
 */
export function weightsInForce(release: Release): Record<string, number> {
  const out: Record<string, number> = { [release.baseline]: 0, [release.candidate.name]: 0 };
  const rules = effectiveRules({ versions: [], routes: [] }, release);
  const catchAll = rules.find((r) => !r.match || r.match.length === 0) ?? rules[rules.length - 1];
  for (const d of catchAll?.route ?? []) out[d.version] = (out[d.version] ?? 0) + d.weight;
  return out;
}

/** When the weights changed, from the release's events since it was (last) created: [epoch ms, weights], in order. */
function weightsTimeline(release: Release, events: StoredEvent[]): { at: number; weights: Record<string, number> }[] {
  let start = 0;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.action === 'release.created' && e.resourceName === release.name) {
      start = i;
      break;
    }
  }
  const out: { at: number; weights: Record<string, number> }[] = [];
  for (const e of events.slice(start)) {
    const after = e.after as Partial<Release> | null;
    if (e.resourceKind !== 'release' || e.resourceName !== release.name || !after?.status || !after.candidate) continue;
    out.push({ at: Date.parse(e.at), weights: weightsInForce(after as Release) });
  }
  return out;
}

/**
 * `GET /api/v1/releases/{name}/observed-history`: the share of the service's requests each version got, one point
 * per 10 s over the last minutes, from the telemetry hub's in-memory history, with the weights in force at each
 * point read from the release's events (no extra bookkeeping on the telemetry path).
 */
export function registerObservedHistoryApi(app: FastifyInstance, ctx: ApiContext, hub: TelemetryHub): void {
  typed(app).get(
    '/api/v1/releases/:name/observed-history',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['releases'],
        summary: "Observed traffic share, rate and success per version of the release's service, one point per 10 s",
        description:
          'Points in time order from the first one with traffic in the range to now (empty without traffic); kept in memory by ' +
          'the control plane for 60 minutes (a restart starts afresh). Fed by the built-in proxies; empty in cluster mode.',
        params: ReleaseParams,
        querystring: ObservedHistoryQuery,
        response: { 200: ObservedHistorySchema, ...errorResponses },
      },
    },
    async (req) => {
      const release = ctx.store.requireRelease(req.params.name);
      const { minutes } = req.query;
      const versions = release.baseline === release.candidate.name ? [release.baseline] : [release.baseline, release.candidate.name];
      const history = hub.observedHistory(release.service, minutes, versions);
      const timeline = weightsTimeline(release, ctx.store.listEvents({ release: release.name }));
      let next = 0;
      let inForce: Record<string, number> | null = null;
      const points = history.points.map((p) => {
        const at = Date.parse(p.at);
        while (next < timeline.length && timeline[next]!.at <= at) inForce = timeline[next++]!.weights;
        return { ...p, weights: inForce };
      });
      return {
        release: release.name,
        service: release.service,
        minutes,
        bucketSeconds: history.bucketSeconds,
        versions: history.versions,
        weights: weightsInForce(release),
        points,
      };
    },
  );
}
