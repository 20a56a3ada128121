// The share chart's samples: the release's observed history, then live polls of the release (no React here).

import type { ObservedHistoryAnswer } from '@canary/control-plane/api-schemas.js';

/** `GET /api/v1/releases/{name}/observed-history`: one point per 10 s of what each version really got. */
export type ObservedHistory = ObservedHistoryAnswer;
export type ObservedHistoryPoint = ObservedHistory['points'][number];

/** One point of the share chart, in percent: from the history, or from a poll of the release. */
export interface ShareSample {
  at: number;
  observed: Record<string, number | null>;
  configured: Record<string, number> | null;
}

/** History points as chart samples (percentages, one decimal). */
export function historySamples(h: ObservedHistory | undefined, versions: readonly string[]): ShareSample[] {
  if (!h) return [];
  return h.points.map((p) => ({
    at: Date.parse(p.at),
    observed: Object.fromEntries(
      versions.map((v) => {
        const share = p.versions[v]?.share;
        return [v, typeof share === 'number' ? Math.round(share * 1000) / 10 : null];
      }),
    ),
    configured: p.weights,
  }));
}

/**
 * The whole history, then the live samples taken after its last point: one time-ordered series. The history wins
 * where they overlap: its last point is the bucket filling at the moment it was asked, which may be later than the
 * page's first polls, and traffic that began only seconds ago is all in that point.
 */
export function mergeSamples(history: readonly ShareSample[], live: readonly ShareSample[]): ShareSample[] {
  const lastPast = history.at(-1)?.at ?? Number.NEGATIVE_INFINITY;
  return [...history, ...live.filter((s) => s.at > lastPast)];
}
