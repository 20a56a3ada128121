import type { Release, Rule, Service } from './model.js';
import { strategyOf } from './strategies/registry.js';
import { singleVersionRules, stableVersion } from './traffic.js';

/**
 * The rules in force for a service: an active release's (as its strategy routes it in its phase), else the
 * service's own routes, else everything to its stable version.
 */
export function effectiveRules(service: Pick<Service, 'versions' | 'routes'>, release: Release | undefined): Rule[] {
  if (release) return strategyOf(release).rules(release);
  if (service.routes.length > 0) return service.routes;
  return singleVersionRules(stableVersion(service));
}
