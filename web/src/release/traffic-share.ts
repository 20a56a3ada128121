import type { Release, Rule } from '../api/types.js';

/** The versions a release is about: baseline first, then the candidate. */
export function releaseVersions(r: Pick<Release, 'baseline' | 'candidate'>): string[] {
  return r.baseline === r.candidate.name ? [r.baseline] : [r.baseline, r.candidate.name];
}

/**
 * The share of requests each version is configured to receive, as a percentage. A governor takes 100%;
 * match rules send matching requests to the candidate, so the share shown is that of the catch-all split.
 */
export function configuredShare(r: Pick<Release, 'baseline' | 'candidate' | 'traffic' | 'status' | 'strategy'>): Record<string, number> {
  const versions = releaseVersions(r);
  const out: Record<string, number> = Object.fromEntries(versions.map((v) => [v, 0]));
  if (r.status?.governor) {
    out[r.status.governor] = 100;
    return out;
  }
  // Blue-green before the switch and mirroring: every answer comes from the baseline.
  if ((r.strategy === 'blueGreen' || r.strategy === 'mirror' || r.traffic?.mirror) && !r.traffic?.weights) {
    out[r.baseline] = 100;
    return out;
  }
  if (r.traffic?.weights) {
    for (const [v, w] of Object.entries(r.traffic?.weights)) out[v] = w;
    return out;
  }
  const rules: Rule[] = r.traffic?.rules ?? [];
  const catchAll = rules.find((rule) => !rule.match || rule.match.length === 0) ?? rules[rules.length - 1];
  for (const d of catchAll?.route ?? []) out[d.version] = d.weight;
  return out;
}

export function observedPercent(r: Pick<Release, 'status'>, version: string): number | null {
  const v = r.status?.observed?.[version];
  return typeof v === 'number' ? Math.round(v * 1000) / 10 : null;
}

/** Blue-green: the version answering now and the one kept running beside it (null: none yet, or finished). */
export function blueGreenRoles(r: Pick<Release, 'baseline' | 'candidate' | 'traffic' | 'status' | 'strategy'>): {
  live: string;
  standby: string | null;
  idle: string | null;
} {
  const share = configuredShare(r);
  const live = (share[r.candidate.name] ?? 0) === 100 ? r.candidate.name : r.baseline;
  const other = live === r.baseline ? r.candidate.name : r.baseline;
  // The candidate before the switch gets no ordinary traffic: it is idle (reached by preview), not a standby.
  const standby = r.status.standby ?? (live === r.candidate.name ? r.baseline : null);
  return { live, standby: standby === live ? null : standby, idle: standby === other ? null : other };
}
