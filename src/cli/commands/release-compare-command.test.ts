import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reviewsService, startTestControlPlane, type TestControlPlane } from '../../../test/support/test-harness.js';
import { durationSlot } from '../../telemetry-wire/histogram-layout.js';
import { runCanary } from '../../../test/support/cli-runner.js';
import { ensureBuilt } from '../../../test/support/dist.js';

/** `canary release compare` as a user runs it (node bin/canary.js in a child process) against a real control plane. */
let t: TestControlPlane;
let server: string;

const canary = (args: string[]) => runCanary([...args, '--server', server, '--token', t.token]);

beforeAll(async () => {
  ensureBuilt();
  t = await startTestControlPlane();
  server = await t.cp.app.listen({ host: '127.0.0.1', port: 0 });
  expect((await t.call('POST', '/api/v1/services', reviewsService)).status).toBe(201);
  const release = {
    name: 'reviews-mirror',
    service: 'reviews',
    candidate: { name: 'v2' },
    traffic: { weights: { v1: 100, v2: 0 }, mirror: { version: 'v2', percent: 100 } },
    compare: { ignoreJsonPaths: ['$.timestamp'], maxBodyBytes: 4096 },
  };
  expect((await t.call('POST', '/api/v1/releases', release)).status).toBe(201);
});

afterAll(async () => {
  await t?.destroy();
});

describe('canary release compare', () => {
  it('says when nothing was mirrored', async () => {
    const r = await canary(['release', 'compare', 'reviews-mirror']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Nothing was mirrored in this window');
  });

  it('prints the counts, the latency of both sides and the differences as a table; -o json gives the API answer', async () => {
    const end = Date.now();
    const example = { status: 200, headers: {}, body: '{}', bodyBytes: 2 };
    const batch = {
      proxy: { id: 'p', host: 'h', pid: 1 },
      start: end - 1000,
      end,
      edges: [],
      spans: [],
      comparisons: [
        {
          service: 'reviews',
          release: 'reviews-mirror',
          requests: 40,
          mirrored: 40,
          compared: 38,
          agree: 26,
          skipped: { bodyTooLarge: 2, mirrorFailed: 0, overloaded: 0, primaryFailed: 0 },
          differences: [
            { kind: 'status', method: 'GET', path: '/reviews/0', field: null, primary: '200', mirror: '503', count: 10, example: null },
            {
              kind: 'body',
              method: 'GET',
              path: '/reviews/1',
              field: '$.rating',
              primary: '5',
              mirror: '4',
              count: 2,
              example: { primary: example, mirror: example },
            },
          ],
          otherDifferences: 0,
          primaryLatency: [durationSlot(2), 38],
          mirrorLatency: [durationSlot(700), 38],
        },
      ],
    };
    expect((await t.call('POST', '/api/v1/telemetry', batch)).status).toBe(200);
    const r = await canary(['release', 'compare', 'reviews-mirror', '--window', '60']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/Release:\s+reviews-mirror, last 60 s/);
    expect(r.stdout).toMatch(/Compared:\s+38, agree 26 \(68\.4%\)/);
    expect(r.stdout).toMatch(/Not compared:\s+body too large 2, mirror failed 0/);
    expect(r.stdout).toMatch(/^mirror\s+[5-9]\d\d\.\d/m);
    const lines = r.stdout.split('\n');
    const header = lines.findIndex((l) => /^COUNT\s+KIND\s+METHOD\s+PATH\s+FIELD\s+PRIMARY\s+MIRROR$/.test(l));
    expect(header).toBeGreaterThan(0);
    expect(lines[header + 1]).toMatch(/^10\s+status\s+GET\s+\/reviews\/0\s+-\s+200\s+503$/);
    expect(lines[header + 2]).toMatch(/^2\s+body\s+GET\s+\/reviews\/1\s+\$\.rating\s+5\s+4$/);

    const json = await canary(['release', 'compare', 'reviews-mirror', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ release: 'reviews-mirror', window: 300, compared: 38 });
  });

  it('shows what a release compares in `canary release get`', async () => {
    const r = await canary(['release', 'get', 'reviews-mirror']);
    expect(r.stdout).toMatch(
      /Compare:\s+status, headers content-type, body \(ignoring \$\.timestamp\); bodies up to 4096 bytes \(`canary release compare reviews-mirror`\)/,
    );
  });

  it('fails with the API’s words for a bad window or an unknown release', async () => {
    const bad = await canary(['release', 'compare', 'reviews-mirror', '--window', '0']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/window.*must be at least 1/);
    const missing = await canary(['release', 'compare', 'nosuch']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nosuch/);
  });
});
