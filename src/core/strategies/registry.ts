import type { ReleaseStrategyName } from '../model.js';
import { blueGreenStrategy } from './blue-green.js';
import { canaryStrategy } from './canary.js';
import { mirrorStrategy } from './mirror.js';
import type { ReleaseStrategy } from './release-strategy.js';

const strategies: Record<ReleaseStrategyName, ReleaseStrategy> = {
  canary: canaryStrategy,
  blueGreen: blueGreenStrategy,
  mirror: mirrorStrategy,
};

/** The strategy of a release; releases stored before strategies existed are canaries. */
export function strategyOf(release: { strategy?: ReleaseStrategyName | undefined }): ReleaseStrategy {
  return strategies[release.strategy ?? 'canary'];
}
