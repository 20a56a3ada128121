import type { Release, Rule, Service, Traffic } from './model.js';

/** Expands a release's `traffic` (weights, match or rules form) into ordered route rules. */
export function trafficToRules(traffic: Traffic, baseline: string, candidate: string): Rule[] {
  if (traffic.rules) return traffic.rules;
  const weights = traffic.weights ?? { [baseline]: 100 };
  const route = Object.entries(weights).map(([version, weight]) => ({ version, weight }));
  const rest: Rule = { route };
  if (traffic.sticky) rest.sticky = traffic.sticky;
  if (traffic.mirror) rest.mirror = traffic.mirror;
  if (!traffic.match) return [rest];
  return [{ match: traffic.match, route: [{ version: candidate, weight: 100 }] }, rest];
}

export function singleVersionRules(version: string): Rule[] {
  return [{ route: [{ version, weight: 100 }] }];
}

/** The version a service serves when it has no rules of its own: its first (stable) version. */
export function stableVersion(service: Pick<Service, 'versions'>): string {
  return service.versions[0]!.name;
}

/**
 * The rules in force for a service: an active release's (its governor, or the baseline while the candidate
 * is not ready, or its traffic), else the service's own routes, else everything to its stable version.
 */
export function effectiveRules(service: Pick<Service, 'versions' | 'routes'>, release: Release | undefined): Rule[] {
  if (release) {
    const { phase, governor } = release.status;
    if (governor) return singleVersionRules(governor);
    if (phase === 'Pending' || phase === 'Failed') return singleVersionRules(release.baseline);
    return trafficToRules(release.traffic, release.baseline, release.candidate.name);
  }
  if (service.routes.length > 0) return service.routes;
  return singleVersionRules(stableVersion(service));
}

/** Versions named anywhere in a rule list (routes and mirrors). */
export function versionsInRules(rules: Rule[]): Set<string> {
  const names = new Set<string>();
  for (const rule of rules) {
    for (const d of rule.route) names.add(d.version);
    if (rule.mirror) names.add(rule.mirror.version);
  }
  return names;
}
