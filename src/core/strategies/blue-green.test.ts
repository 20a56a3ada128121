import { describe, expect, it } from 'vitest';
import { previewRule as preview, readyFixture as ready, releaseFixture } from '../../../test/support/release-fixture.js';
import type { Release, ReleaseSpecInput } from '../model.js';
import { blueGreenStrategy } from './blue-green.js';

const release = (spec: Partial<ReleaseSpecInput> = {}): Release =>
  releaseFixture({ name: 'reviews-bg', service: 'reviews', strategy: 'blueGreen', candidate: { name: 'v2' }, ...spec });
const everythingTo = (version: string) => [{ route: [{ version, weight: 100 }] }];

describe('blueGreen strategy', () => {
  it('takes no traffic, or only traffic that leaves the candidate at 0%', () => {
    expect(blueGreenStrategy.trafficProblems(undefined, 'v1', 'v2')).toEqual([]);
    expect(blueGreenStrategy.trafficProblems({ weights: { v1: 100, v2: 0 } }, 'v1', 'v2')).toEqual([]);
    const split = blueGreenStrategy.trafficProblems({ weights: { v1: 90, v2: 10 } }, 'v1', 'v2');
    expect(split).toEqual([
      { path: 'traffic.weights.v2', message: expect.stringMatching(/^must be 0: strategy blueGreen sends no ordinary traffic/) },
    ]);
    expect(blueGreenStrategy.trafficProblems({ match: [{ uri: { prefix: '/' } }], weights: { v1: 100 } }, 'v1', 'v2')).toEqual([
      { path: 'traffic.match', message: expect.stringMatching(/use strategy canary to split traffic/) },
    ]);
    expect(blueGreenStrategy.trafficProblems({ mirror: { percent: 10 } }, 'v1', 'v2')[0]!.path).toBe('traffic.mirror');
    expect(blueGreenStrategy.trafficProblems({ weights: { v3: 100 } }, 'v1', 'v2')[0]!.message).toMatch(/neither the baseline/);
  });

  it('keeps every ordinary request on the baseline while the candidate waits, ready or not', () => {
    expect(blueGreenStrategy.rules(release())).toEqual(everythingTo('v1'));
    expect(blueGreenStrategy.rules(ready(release()))).toEqual([preview, ...everythingTo('v1')]);
  });

  it('switches 100% at once, keeps the baseline as standby, and rolls back to it instantly', () => {
    let r = ready(release());
    r = { ...r, ...blueGreenStrategy.takeover(r, 'v2') };
    expect(r.status).toMatchObject({ phase: 'TakenOver', governor: 'v2', standby: 'v1' });
    expect(blueGreenStrategy.rules(r)).toEqual(everythingTo('v2'));
    r = { ...r, ...blueGreenStrategy.rollback(r) };
    expect(r.status).toMatchObject({ phase: 'RolledBack', governor: 'v1', standby: 'v1' });
    expect(blueGreenStrategy.rules(r)).toEqual([preview, ...everythingTo('v1')]);
    r = { ...r, ...blueGreenStrategy.resume(r) };
    expect(r.status).toMatchObject({ phase: 'Progressing', governor: null });
    expect(blueGreenStrategy.rules(r)).toEqual([preview, ...everythingTo('v1')]);
  });

  it('does not switch to a candidate that is not ready', () => {
    expect(() => blueGreenStrategy.takeover(release(), 'v2')).toThrow(/not ready/);
  });

  it('finishing with the candidate retires the standby', () => {
    let r = ready(release());
    r = { ...r, ...blueGreenStrategy.takeover(r, 'v2') };
    expect(blueGreenStrategy.finish(r, 'v2')).toEqual({ retire: r.status.standby });
  });
});
