import { describe, expect, it } from 'vitest';
import { NotAllowedError } from '../errors.js';
import { previewRule as preview, readyFixture as ready, releaseFixture } from '../../../test/support/release-fixture.js';
import type { Release, ReleaseSpecInput } from '../model.js';
import { canaryStrategy } from './canary.js';

const release = (spec: Partial<ReleaseSpecInput> = {}): Release =>
  releaseFixture({
    name: 'reviews-canary',
    service: 'reviews',
    candidate: { name: 'v2' },
    traffic: { weights: { v1: 90, v2: 10 } },
    ...spec,
  });

describe('canary strategy', () => {
  it('needs weights, match or rules, naming only its two versions', () => {
    expect(canaryStrategy.trafficProblems(undefined, 'v1', 'v2')).toEqual([
      { path: 'traffic', message: 'required for strategy canary, e.g. {"weights":{"v1":90,"v2":10}}' },
    ]);
    expect(canaryStrategy.trafficProblems({ mirror: { percent: 50 } }, 'v1', 'v2')[0]!.message).toMatch(/use strategy mirror/);
    expect(canaryStrategy.trafficProblems({ weights: { v1: 50, v3: 50 } }, 'v1', 'v2')).toEqual([
      { path: 'traffic.weights.v3', message: '"v3" is neither the baseline "v1" nor the candidate "v2"' },
    ]);
    expect(canaryStrategy.trafficProblems({ weights: { v1: 50, v2: 50 } }, 'v1', 'v2')).toEqual([]);
  });

  it('routes to the baseline until the candidate is ready, then splits as its traffic says', () => {
    const r = release();
    expect(canaryStrategy.rules(r)).toEqual([{ route: [{ version: 'v1', weight: 100 }] }]);
    expect(canaryStrategy.rules(ready(r))).toEqual([
      preview,
      {
        route: [
          { version: 'v1', weight: 90 },
          { version: 'v2', weight: 10 },
        ],
      },
    ]);
  });

  it('sends matching requests to the candidate first', () => {
    const r = ready(release({ traffic: { match: [{ headers: { 'end-user': { exact: 'jason' } } }], weights: { v1: 100 } } }));
    expect(canaryStrategy.rules(r)).toEqual([
      preview,
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ version: 'v2', weight: 100 }] },
      { route: [{ version: 'v1', weight: 100 }] },
    ]);
  });

  it('takes over and rolls back with a governor, keeping its stored split for resume', () => {
    let r = release();
    expect(() => canaryStrategy.takeover(r, 'v2')).toThrow(NotAllowedError);
    r = ready(r);
    const taken = canaryStrategy.takeover(r, 'v2');
    expect(taken).toEqual({ status: expect.objectContaining({ phase: 'TakenOver', governor: 'v2' }) });
    r = { ...r, ...taken };
    expect(canaryStrategy.rules(r)).toEqual([{ route: [{ version: 'v2', weight: 100 }] }]);
    r = { ...r, ...canaryStrategy.rollback(r) };
    // Rolled back, the candidate still runs: testers may still preview it.
    expect(canaryStrategy.rules(r)).toEqual([preview, { route: [{ version: 'v1', weight: 100 }] }]);
    r = { ...r, ...canaryStrategy.resume(r) };
    expect(r.status).toMatchObject({ phase: 'Progressing', governor: null });
    expect(canaryStrategy.rules(r)[1]!.route.map((d) => d.weight)).toEqual([90, 10]);
  });

  it('names the preview header the release chooses', () => {
    const r = ready(release({ preview: { header: 'X-Try-Reviews' } }));
    expect(canaryStrategy.rules(r)[0]!.match).toEqual([{ headers: { 'x-try-reviews': { exact: 'v2' } } }]);
  });

  it('finishes keeping either version, the candidate only once ready', () => {
    const r = release();
    expect(() => canaryStrategy.finish(r, 'v2')).toThrow(/not ready/);
    expect(canaryStrategy.finish(r, 'v1')).toEqual({ retire: 'v2' });
    expect(canaryStrategy.finish(ready(r), 'v2')).toEqual({ retire: 'v1' });
    expect(() => canaryStrategy.finish(r, 'v3')).toThrow(/not part of release/);
  });
});
