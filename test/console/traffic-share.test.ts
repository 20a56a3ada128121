import { describe, expect, it } from 'vitest';
import type { Release } from '../../web/src/api/types.js';
import { blueGreenRoles, configuredShare } from '../../web/src/release/traffic-share.js';

const release = (p: Omit<Partial<Release>, 'status'> & { status?: Partial<Release['status']> }): Release =>
  ({
    name: 'reviews-bg',
    service: 'reviews',
    strategy: 'blueGreen',
    baseline: 'v1',
    candidate: { name: 'v2' },
    resourceVersion: '1',
    createdAt: '2026-12-06T00:00:00Z',
    updatedAt: '2026-12-06T00:00:00Z',
    createdBy: 'admin',
    ...p,
    status: { phase: 'Progressing', governor: null, observed: {}, conditions: [], candidateCreated: true, ...p.status },
  }) as Release;

/** What the job list and the blue-green page say about who gets the traffic. */
describe('configured share and blue-green roles', () => {
  it('gives the baseline everything before a blue-green switch, with no traffic block at all', () => {
    const r = release({});
    expect(configuredShare(r)).toEqual({ v1: 100, v2: 0 });
    expect(blueGreenRoles(r)).toEqual({ live: 'v1', standby: null, idle: 'v2' });
  });

  it('after the switch: the candidate is live and the baseline the standby; after switching back, the baseline is live again', () => {
    const switched = release({ status: { phase: 'TakenOver', governor: 'v2', standby: 'v1' } });
    expect(configuredShare(switched)).toEqual({ v1: 0, v2: 100 });
    expect(blueGreenRoles(switched)).toEqual({ live: 'v2', standby: 'v1', idle: null });
    const back = release({ status: { phase: 'RolledBack', governor: 'v1', standby: 'v1' } });
    expect(blueGreenRoles(back)).toEqual({ live: 'v1', standby: null, idle: 'v2' });
  });

  it('answers every mirrored request from the baseline', () => {
    expect(configuredShare(release({ strategy: 'mirror', traffic: { mirror: { percent: 20 } } }))).toEqual({ v1: 100, v2: 0 });
  });
});
