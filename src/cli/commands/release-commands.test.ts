import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryArgs, runCanary } from '../../../test/support/cli-runner.js';
import { edgeSample } from '../../../test/support/telemetry-fixtures.js';
import { ensureBuilt } from '../../../test/support/dist.js';
import { reviewsCanary, reviewsService, startTestControlPlane, type TestControlPlane } from '../../../test/support/test-harness.js';
import { observedHistoryTable } from './release-commands.js';

/** `canary release observed` as a user runs it (node bin/canary.js) against a real control plane fed telemetry. */
const dir = mkdtempSync(join(tmpdir(), 'canary-cli-observed-'));
let cp: TestControlPlane;
let url: string;

const canary = (args: string[]) => runCanary([...args, '--server', url, '--token', cp.token], { home: dir });

const edge = (version: string, code: number, count: number) => edgeSample(`reviews:${version}`, code, count);

beforeAll(async () => {
  ensureBuilt();
  cp = await startTestControlPlane({ root: dir });
  url = await cp.cp.app.listen({ host: '127.0.0.1', port: 0 });
  expect((await cp.call('POST', '/api/v1/services', reviewsService)).status).toBe(201);
  expect((await cp.call('POST', '/api/v1/releases', reviewsCanary)).status).toBe(201);
  const deadline = Date.now() + 10_000;
  while ((await cp.call('GET', '/api/v1/releases/reviews-canary')).body.status.phase !== 'Progressing') {
    if (Date.now() > deadline) throw new Error('the release did not progress');
    await new Promise((r) => setTimeout(r, 50));
  }
  const now = Date.now();
  const posted = await cp.call('POST', '/api/v1/telemetry', {
    proxy: { id: 'p', host: 'host-a', pid: 4242 },
    start: now - 1000,
    end: now,
    edges: [edge('v1', 200, 10), edge('v2', 200, 8), edge('v2', 500, 2)],
    spans: [],
  });
  expect(posted.status).toBe(200);
});

afterAll(async () => {
  await cp?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('canary release observed', () => {
  it('prints a row per point with each version share and success, and the weights in force', async () => {
    const r = await canary(['release', 'observed', 'reviews-canary']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('Release reviews-canary (service reviews): last 15 min, one row per 10 s; weights now v1=50,v2=50');
    expect(lines[1]).toMatch(/^TIME\s+REQ\/S\s+v1 SHARE\s+v2 SHARE\s+v1 SUCCESS\s+v2 SUCCESS\s+WEIGHTS$/);
    expect(lines.at(-1)).toMatch(/^\d\d:\d\d:\d\d\s+\d+\.\d\d\s+50\.0%\s+50\.0%\s+100\.0%\s+80\.0%\s+v1=50,v2=50$/);
  });

  it('prints the API object with -o json, and says so when nothing was observed in range', async () => {
    const json = await canary(['release', 'observed', 'reviews-canary', '--minutes', '60', '-o', 'json']);
    expect(json.code).toBe(0);
    const h = JSON.parse(json.stdout);
    expect(h).toMatchObject({ release: 'reviews-canary', service: 'reviews', minutes: 60, versions: ['v1', 'v2'] });
    expect(h.points.at(-1).versions.v2).toMatchObject({ requests: 10, share: 0.5, successRate: 0.8 });
    expect(observedHistoryTable({ ...h, minutes: 5, points: [] })).toBe(
      'Release reviews-canary (service reviews): last 5 min, one row per 10 s; weights now v1=50,v2=50\n' +
        'No traffic to reviews observed in the last 5 min.\n',
    );
  });

  it('refuses a bad --minutes and an unknown release with the API message and exit code 1', async () => {
    const bad = await canary(['release', 'observed', 'reviews-canary', '--minutes', '0']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error: minutes: must be at least 1/);
    const missing = await canary(['release', 'observed', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('Error: release "nope" does not exist\n');
  });
});

describe('canary release create --strategy', () => {
  it('creates a blue-green release, shows it waiting, switches, and shows the standby', async () => {
    const ratings = { ...reviewsService, name: 'ratings', ingress: undefined };
    expect((await cp.call('POST', '/api/v1/services', ratings)).status).toBe(201);
    const created = await canary(canaryArgs('release create ratings-bg', { service: 'ratings', candidate: 'v2', strategy: 'blueGreen' }));
    expect(created.stderr).toBe('');
    expect(created.stdout).toMatch(
      /^release\/ratings-bg created: phase (Pending|Progressing), governor -, weights v1=100 \(v2 waits for the switch\)/,
    );
    const refused = await canary(
      canaryArgs('release create x', { service: 'ratings', candidate: 'v2', strategy: 'blueGreen', weights: 'v1=50,v2=50' }),
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--strategy blueGreen sends no ordinary traffic to the candidate/);
    const deadline = Date.now() + 10_000;
    while ((await cp.call('GET', '/api/v1/releases/ratings-bg')).body.status.phase !== 'Progressing') {
      if (Date.now() > deadline) throw new Error('the release did not progress');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await canary(['release', 'takeover', 'ratings-bg', 'v2'])).code).toBe(0);
    const got = await canary(['release', 'get', 'ratings-bg']);
    expect(got.stdout).toMatch(/Strategy:?\s+blueGreen/);
    expect(got.stdout).toMatch(/Standby:?\s+v1 \(keeps running; `canary release rollback ratings-bg` switches back at once\)/);
    expect(got.stdout).toMatch(/Traffic:?\s+v2=100 \(v1 on standby\)/);
  });
});
