import { describe, expect, it } from 'vitest';
import { previewRule as preview, readyFixture as ready, releaseFixture } from '../../../test/support/release-fixture.js';
import type { Release, ReleaseSpecInput } from '../model.js';
import { canaryStrategy } from './canary.js';
import { mirrorStrategy } from './mirror.js';
import { strategyOf } from './registry.js';

const release = (spec: Partial<ReleaseSpecInput> = {}): Release =>
  releaseFixture({
    name: 'reviews-mirror',
    service: 'reviews',
    strategy: 'mirror',
    candidate: { name: 'v2' },
    traffic: { mirror: { percent: 20 } },
    ...spec,
  });

describe('mirror strategy', () => {
  it('takes only a mirror share above 0, copied to the candidate', () => {
    expect(mirrorStrategy.trafficProblems(undefined, 'v1', 'v2')).toEqual([]);
    expect(mirrorStrategy.trafficProblems({ mirror: { percent: 100 } }, 'v1', 'v2')).toEqual([]);
    expect(mirrorStrategy.trafficProblems({ mirror: { percent: 0 } }, 'v1', 'v2')).toEqual([
      { path: 'traffic.mirror.percent', message: 'must be more than 0 and at most 100, got 0' },
    ]);
    expect(mirrorStrategy.trafficProblems({ mirror: { version: 'v1', percent: 5 } }, 'v1', 'v2')).toEqual([
      { path: 'traffic.mirror.version', message: 'must be the candidate "v2" (or omitted), got "v1"' },
    ]);
    expect(mirrorStrategy.trafficProblems({ weights: { v1: 50, v2: 50 } }, 'v1', 'v2')).toEqual([
      { path: 'traffic.weights', message: expect.stringMatching(/answers every request from the baseline/) },
    ]);
  });

  it('answers from the baseline and copies its share to the candidate once the candidate is ready', () => {
    expect(mirrorStrategy.rules(release())).toEqual([{ route: [{ version: 'v1', weight: 100 }] }]);
    expect(mirrorStrategy.rules(ready(release()))).toEqual([
      preview,
      { route: [{ version: 'v1', weight: 100 }], mirror: { version: 'v2', percent: 20 } },
    ]);
    const all = ready(release({ traffic: undefined }));
    expect(mirrorStrategy.rules(all)[1]!.mirror).toEqual({ version: 'v2', percent: 100 });
  });

  it('taking over with the candidate turns the job into a canary at 100% candidate', () => {
    let r = ready(release());
    const change = mirrorStrategy.takeover(r, 'v2');
    expect(change).toMatchObject({ strategy: 'canary', traffic: { weights: { v1: 0, v2: 100 } } });
    r = { ...r, ...change };
    expect(strategyOf(r)).toBe(canaryStrategy);
    expect(strategyOf(r).rules(r)).toEqual([{ route: [{ version: 'v2', weight: 100 }] }]);
    // Resumed, it is a canary whose stored split is 100% candidate: no copies any more.
    r = { ...r, ...strategyOf(r).resume(r) };
    expect(strategyOf(r).rules(r)).toEqual([
      preview,
      {
        route: [
          { version: 'v1', weight: 0 },
          { version: 'v2', weight: 100 },
        ],
      },
    ]);
  });

  it('rolls back to the baseline without copies, and resumes mirroring', () => {
    let r = ready(release());
    r = { ...r, ...mirrorStrategy.rollback(r) };
    expect(mirrorStrategy.rules(r)).toEqual([preview, { route: [{ version: 'v1', weight: 100 }] }]);
    r = { ...r, ...mirrorStrategy.resume(r) };
    expect(mirrorStrategy.rules(r)[1]!.mirror).toEqual({ version: 'v2', percent: 20 });
    expect(mirrorStrategy.finish(r, 'v1')).toEqual({ retire: 'v2' });
  });
});
