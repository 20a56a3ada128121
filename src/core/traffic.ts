import type { ErrorDetail } from './errors.js';
import type { ReleaseSpec, Rule, Service, Traffic } from './model.js';

/** Expands a release's `traffic` (weights, match or rules form) into ordered route rules. */
export function trafficToRules(traffic: Traffic, baseline: string, candidate: string): Rule[] {
  if (traffic.rules) return traffic.rules;
  const weights = traffic.weights ?? { [baseline]: 100 };
  const route = Object.entries(weights).map(([version, weight]) => ({ version, weight }));
  const rest: Rule = { route };
  if (traffic.sticky) rest.sticky = traffic.sticky;
  if (traffic.mirror) rest.mirror = { version: traffic.mirror.version ?? candidate, percent: traffic.mirror.percent };
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

/** Versions named anywhere in a rule list (routes and mirrors). */
export function versionsInRules(rules: Rule[]): Set<string> {
  const names = new Set<string>();
  for (const rule of rules) {
    for (const d of rule.route) names.add(d.version);
    if (rule.mirror) names.add(rule.mirror.version);
  }
  return names;
}

/**
 * Route rules may only name versions the service has: one check, one message, for the API (service routes)
 * and the renderers (Istio, Gateway API). `path` prefixes each problem, e.g. `rules.0.route.1.version`.
 */
export function ruleVersionProblems(rules: Rule[], service: { name: string; versions: { name: string }[] }, path = 'rules'): ErrorDetail[] {
  const names = service.versions.map((v) => v.name);
  const problem = (version: string, at: string): ErrorDetail => ({
    path: at,
    message: `version "${version}" does not exist in service "${service.name}" (it has ${names.join(', ')})`,
  });
  const problems: ErrorDetail[] = [];
  rules.forEach((rule, i) => {
    rule.route.forEach((d, j) => {
      if (!names.includes(d.version)) problems.push(problem(d.version, `${path}.${i}.route.${j}.version`));
    });
    if (rule.mirror && !names.includes(rule.mirror.version)) problems.push(problem(rule.mirror.version, `${path}.${i}.mirror.version`));
  });
  return problems;
}

/** A release's traffic may only name its two versions. */
export function trafficProblems(spec: Pick<ReleaseSpec, 'traffic'>, baseline: string, candidate: string): ErrorDetail[] {
  const allowed = new Set([baseline, candidate]);
  const neither = (v: string) => `"${v}" is neither the baseline "${baseline}" nor the candidate "${candidate}"`;
  const details: ErrorDetail[] = [];
  const t = spec.traffic;
  if (!t) return details;
  if (t.weights) {
    for (const v of Object.keys(t.weights)) {
      if (!allowed.has(v)) details.push({ path: `traffic.weights.${v}`, message: neither(v) });
    }
  }
  if (t.mirror?.version !== undefined && !allowed.has(t.mirror.version)) {
    details.push({ path: 'traffic.mirror.version', message: neither(t.mirror.version) });
  }
  if (t.rules) {
    for (const v of versionsInRules(trafficToRules(t, baseline, candidate))) {
      if (!allowed.has(v)) details.push({ path: 'traffic.rules', message: `version ${neither(v)}` });
    }
  }
  return details;
}
