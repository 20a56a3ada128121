import { describe, expect, it } from 'vitest';
import {
  buildRelease,
  emptyDraft,
  mirrorProblem,
  nameProblem,
  nextVersionName,
  type ReleaseDraft,
} from '../../web/src/release/build-release.js';
import type { z } from 'zod';
import { Name, ServiceSpec } from '../../src/core/index.js';
import type { Service } from '../../web/src/api/types.js';

/** A service as the API answers it: the spec with the schema's defaults, and metadata. */
const service = (versions: z.input<typeof ServiceSpec>['versions']): Service => ({
  ...ServiceSpec.parse({ name: 'reviews', versions }),
  resourceVersion: '1',
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
  createdBy: 'admin',
});

/** What the create wizard sends: the DESIGN.md shapes, for each strategy and workload kind. */
const processService = service([{ name: 'v1', workload: { kind: 'process', command: 'node', args: ['reviews.js'] } }]);

const draft = (p: Partial<ReleaseDraft>): ReleaseDraft => ({
  ...emptyDraft(),
  name: 'reviews-canary',
  service: 'reviews',
  baseline: 'v1',
  candidate: 'v2',
  ...p,
});

describe('create wizard output', () => {
  it('sends a 50/50 weight split with the SERVICE_VERSION override', () => {
    const body = buildRelease(draft({ env: [{ key: 'SERVICE_VERSION', value: 'v2' }] }), processService);
    expect(body).toEqual({
      name: 'reviews-canary',
      service: 'reviews',
      strategy: 'canary',
      baseline: 'v1',
      candidate: { name: 'v2', workload: { env: { SERVICE_VERSION: 'v2' } } },
      traffic: { weights: { v1: 50, v2: 50 } },
    });
  });

  it('sends matching requests to the candidate and keeps the rest on the baseline', () => {
    const body = buildRelease(
      draft({
        strategy: 'match',
        conditions: [
          { kind: 'header', name: 'End-User', match: 'exact', value: 'jason', os: 'android' },
          { kind: 'cookie', name: 'user', match: 'prefix', value: 'ja', os: 'android' },
          { kind: 'uri', name: '', match: 'prefix', value: '/api', os: 'android' },
          { kind: 'os', name: '', match: 'exact', value: '', os: 'ios' },
        ],
      }),
      processService,
    );
    expect(body.traffic).toEqual({
      match: [
        {
          headers: { 'end-user': { exact: 'jason' }, 'user-agent': { regex: '.*(iPhone|iPad|iPod).*' } },
          cookie: { user: { prefix: 'ja' } },
          uri: { prefix: '/api' },
        },
      ],
      weights: { v1: 100 },
    });
  });

  it('omits the workload when the version already exists, and sends image or addresses by kind', () => {
    const withV2 = service([...processService.versions, { name: 'v2', workload: { kind: 'process', command: 'node' } }]);
    expect(buildRelease(draft({ env: [{ key: 'SERVICE_VERSION', value: 'v2' }] }), withV2).candidate).toEqual({ name: 'v2' });
    const k8s = service([{ name: 'v1', workload: { kind: 'kubernetes', image: 'reviews:v1' } }]);
    expect(buildRelease(draft({ image: 'kubesphere/examples-bookinfo-reviews-v2:1.16.2' }), k8s).candidate).toEqual({
      name: 'v2',
      workload: { image: 'kubesphere/examples-bookinfo-reviews-v2:1.16.2' },
    });
    const ep = service([{ name: 'v1', workload: { kind: 'endpoints', addresses: ['127.0.0.1:9001'] } }]);
    expect(buildRelease(draft({ addresses: '127.0.0.1:9002, 127.0.0.1:9003' }), ep).candidate).toEqual({
      name: 'v2',
      workload: { addresses: ['127.0.0.1:9002', '127.0.0.1:9003'] },
    });
  });

  it('proposes the next version name and checks names as the API does', () => {
    expect(nextVersionName(processService)).toBe('v2');
    expect(nameProblem('reviews-canary')).toBeNull();
    expect(nameProblem('Reviews Canary')).toBe('validation.dns1123');
    expect(nameProblem('')).toBe('validation.required');
    expect(nameProblem('a'.repeat(64))).toBe('validation.tooLong');
    // The wizard refuses exactly the names the API's schema refuses.
    for (const name of ['v2', 'reviews-canary', '', '-v2', 'v2-', 'V2', 'v_2', 'a'.repeat(63), 'a'.repeat(64), 'ünicode']) {
      expect(nameProblem(name) === null, name).toBe(Name.safeParse(name).success);
    }
  });

  it('sends a blue-green release without traffic: the candidate starts at 0 %', () => {
    const body = buildRelease(draft({ mode: 'blueGreen', name: 'reviews-bg', candidateWeight: 30 }), processService);
    expect(body.strategy).toBe('blueGreen');
    expect(body.traffic).toBeUndefined();
    expect(body.compare).toBeUndefined();
  });

  it('sends a mirror release with its percentage and comparison options', () => {
    const body = buildRelease(
      draft({
        mode: 'mirror',
        mirrorPercent: 40,
        compareBody: true,
        compareHeaders: '*',
        ignoreHeaders: 'Date, x-request-id',
        ignoreJsonPaths: "$.timestamp\n$.items[*].id, $['odd key']",
        maxBodyKiB: 8,
      }),
      processService,
    );
    expect(body.strategy).toBe('mirror');
    expect(body.traffic).toEqual({ mirror: { percent: 40 } });
    expect(body.compare).toEqual({
      body: true,
      headers: ['*'],
      ignoreHeaders: ['date', 'x-request-id'],
      ignoreJsonPaths: ['$.timestamp', '$.items[*].id', "$['odd key']"],
      maxBodyBytes: 8192,
    });
  });

  it('refuses mirror settings the API would refuse, naming the field', () => {
    const mirror = (p: Partial<ReleaseDraft>) => mirrorProblem(draft({ mode: 'mirror', ...p }));
    expect(mirror({})).toBeNull();
    expect(mirror({ mirrorPercent: 0 })).toBe('wizard.mirror.percentRange');
    expect(mirror({ mirrorPercent: 101 })).toBe('wizard.mirror.percentRange');
    expect(mirror({ mirrorPercent: Number.NaN })).toBe('wizard.mirror.percentRange');
    expect(mirror({ ignoreHeaders: 'date, x-request:id' })).toBe('wizard.mirror.badHeader');
    expect(mirror({ compareHeaders: 'content-type, *' })).toBeNull();
    expect(mirror({ compareHeaders: 'content/type' })).toBe('wizard.mirror.badCompareHeader');
    expect(mirror({ maxBodyKiB: 1025 })).toBe('wizard.mirror.maxBodyRange');
    expect(mirror({ ignoreJsonPaths: 'timestamp' })).toBe('wizard.mirror.badJsonPath');
    expect(mirror({ ignoreJsonPaths: '$.a[x]' })).toBe('wizard.mirror.badJsonPath');
    expect(mirror({ maxBodyKiB: 0 })).toBe('wizard.mirror.maxBodyRange');
  });
});
