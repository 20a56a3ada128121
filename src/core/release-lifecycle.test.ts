import { describe, expect, it } from 'vitest';
import { ConflictError, InputError, NotAllowedError } from './errors.js';
import { ReleaseSpec, ServiceSpec, type Release, type Service } from './model.js';
import {
  isCandidateReady,
  markCandidateFailed,
  markCandidateReady,
  planFinish,
  planRelease,
  resume,
  rollback,
  takeover,
} from './release-lifecycle.js';
import { effectiveRules } from './effective-rules.js';

const now = '2026-01-01T00:00:00.000Z';
const meta = { resourceVersion: '1', createdAt: now, updatedAt: now, createdBy: 'admin' };

function service(): Service {
  return {
    ...ServiceSpec.parse({
      name: 'reviews',
      versions: [
        { name: 'v1', workload: { kind: 'process', command: 'node', args: ['reviews.js'], env: { SERVICE_VERSION: 'v1', LOG: 'info' } } },
      ],
    }),
    ...meta,
  };
}

function release(traffic: unknown = { weights: { v1: 50, v2: 50 } }): Release {
  const spec = ReleaseSpec.parse({
    name: 'reviews-canary',
    service: 'reviews',
    candidate: { name: 'v2', workload: { env: { SERVICE_VERSION: 'v2' } } },
    traffic,
  });
  const plan = planRelease(spec, service(), undefined, now);
  return { ...spec, baseline: plan.baseline, traffic: plan.traffic, status: plan.status, ...meta };
}

describe('planRelease', () => {
  it('clones the baseline workload and overrides only what the candidate gives', () => {
    const spec = ReleaseSpec.parse({
      name: 'r',
      service: 'reviews',
      candidate: { name: 'v2', workload: { env: { SERVICE_VERSION: 'v2' } } },
      traffic: { weights: { v1: 50, v2: 50 } },
    });
    const plan = planRelease(spec, service(), undefined, now);
    expect(plan.baseline).toBe('v1');
    expect(plan.newVersion?.workload).toMatchObject({
      kind: 'process',
      command: 'node',
      args: ['reviews.js'],
      env: { SERVICE_VERSION: 'v2', LOG: 'info' },
    });
    expect(plan.status.phase).toBe('Pending');
  });

  it('refuses traffic naming a version outside the release', () => {
    const spec = ReleaseSpec.parse({ name: 'r', service: 'reviews', candidate: { name: 'v2' }, traffic: { weights: { v1: 50, v3: 50 } } });
    expect(() => planRelease(spec, service(), undefined, now)).toThrow(InputError);
    expect(() => planRelease(spec, service(), undefined, now)).toThrow(
      /traffic\.weights\.v3: "v3" is neither the baseline "v1" nor the candidate "v2"/,
    );
  });

  it('refuses a second active release for the same service', () => {
    const spec = ReleaseSpec.parse({ name: 'r2', service: 'reviews', candidate: { name: 'v3' }, traffic: { weights: { v1: 100 } } });
    expect(() => planRelease(spec, service(), release(), now)).toThrow(ConflictError);
  });

  it('refuses a baseline that does not exist and a candidate equal to the baseline', () => {
    const spec = ReleaseSpec.parse({
      name: 'r',
      service: 'reviews',
      baseline: 'v9',
      candidate: { name: 'v9' },
      traffic: { weights: { v9: 100 } },
    });
    expect(() => planRelease(spec, service(), undefined, now)).toThrow(
      /baseline: version "v9" does not exist.*candidate\.name: must differ/,
    );
  });
});

describe('release state machine', () => {
  it('keeps all traffic on the baseline until the candidate is ready', () => {
    const r = release();
    expect(effectiveRules(service(), r)).toEqual([{ route: [{ version: 'v1', weight: 100 }] }]);
    const ready = { ...r, status: markCandidateReady(r, now) };
    expect(ready.status.phase).toBe('Progressing');
    // Behind the preview rule (x-canary-preview: v2 -> v2), the split.
    expect(effectiveRules(service(), ready)[0]!.match).toEqual([{ headers: { 'x-canary-preview': { exact: 'v2' } } }]);
    expect(effectiveRules(service(), ready)[1]!.route).toEqual([
      { version: 'v1', weight: 50 },
      { version: 'v2', weight: 50 },
    ]);
  });

  it('takes over, rolls back and resumes, keeping the stored split', () => {
    let r = release();
    expect(() => takeover(r, 'v2')).toThrow(NotAllowedError);
    r = { ...r, status: markCandidateReady(r, now) };
    r = { ...r, status: takeover(r, 'v2') };
    expect(r.status).toMatchObject({ phase: 'TakenOver', governor: 'v2' });
    expect(effectiveRules(service(), r)).toEqual([{ route: [{ version: 'v2', weight: 100 }] }]);
    r = { ...r, status: rollback(r) };
    expect(r.status).toMatchObject({ phase: 'RolledBack', governor: 'v1' });
    r = { ...r, status: resume(r) };
    expect(r.status).toMatchObject({ phase: 'Progressing', governor: null });
    expect(effectiveRules(service(), r)[1]!.route.map((d) => d.weight)).toEqual([50, 50]);
    expect(() => resume(r)).toThrow(/nothing|no take-over/);
  });

  it('fails when the candidate cannot start, and rollback still works', () => {
    let r = release();
    r = { ...r, status: markCandidateFailed(r, 'exited with code 1', now) };
    expect(r.status.phase).toBe('Failed');
    expect(isCandidateReady(r)).toBe(false);
    expect(() => planFinish(r, 'v2')).toThrow(NotAllowedError);
    expect(planFinish(r, 'v1')).toEqual({ retire: 'v2' });
    r = { ...r, status: rollback(r) };
    expect(r.status.phase).toBe('RolledBack');
    expect(resume(r).phase).toBe('Failed');
  });

  it('sends matching requests to the candidate and the rest by weight', () => {
    let r = release({ match: [{ headers: { 'end-user': { exact: 'jason' } } }], weights: { v1: 100 } });
    r = { ...r, status: markCandidateReady(r, now) };
    expect(effectiveRules(service(), r)).toEqual([
      { match: [{ headers: { 'x-canary-preview': { exact: 'v2' } } }], route: [{ version: 'v2', weight: 100 }] },
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ version: 'v2', weight: 100 }] },
      { route: [{ version: 'v1', weight: 100 }] },
    ]);
  });
});
