import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryArgs, runCanary } from '../../../test/support/cli-runner.js';
import { ensureBuilt } from '../../../test/support/dist.js';
import { reviewsService, startTestControlPlane, type TestControlPlane } from '../../../test/support/test-harness.js';
import { analysisFromFlags, parseSteps } from './analysis-commands.js';

const dir = mkdtempSync(join(tmpdir(), 'canary-cli-analysis-'));
let cp: TestControlPlane;
let url: string;

const canary = (args: string[]) => runCanary([...args, '--server', url, '--token', cp.token], { home: dir });

beforeAll(async () => {
  ensureBuilt();
  cp = await startTestControlPlane({ root: dir, analysis: { tickMs: 50 } });
  url = await cp.cp.app.listen({ host: '127.0.0.1', port: 0 });
  expect((await cp.call('POST', '/api/v1/services', reviewsService)).status).toBe(201);
});
afterAll(async () => {
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('canary release create with an analysis, get, abort', () => {
  it('turns --steps, --interval, --min-success and --max-p99 into the analysis block, shows the verdict, aborts', async () => {
    const created = await canary(
      canaryArgs('release create reviews-canary', {
        service: 'reviews',
        candidate: 'v2',
        steps: '10,50,100',
        interval: '1s',
        'min-success': '99',
        'max-p99': '500ms',
      }),
    );
    expect(created.code, created.stderr).toBe(0);
    const stored = cp.cp.store.getRelease('reviews-canary')!;
    expect(stored.analysis).toEqual({
      steps: [{ setWeight: 10 }, { setWeight: 50 }, { setWeight: 100 }],
      interval: '1s',
      checks: [
        { metric: 'successRate', min: 99 },
        { metric: 'latencyP99', maxMs: 500 },
      ],
    });
    const deadline = Date.now() + 10_000;
    while (cp.cp.store.getRelease('reviews-canary')!.status.analysis?.verdict == null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const got = await canary(['release', 'get', 'reviews-canary']);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toContain('Analysis:');
    expect(got.stdout).toMatch(/Steps:\s+\[10%\] -> 50% -> 100%/);
    expect(got.stdout).toMatch(/Verdict:\s+inconclusive/);
    expect(got.stdout).toContain('needs 20 more requests to the candidate v2');
    const aborted = await canary(['release', 'abort', 'reviews-canary']);
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(aborted.stdout).toBe('release/reviews-canary aborted: v1 takes 100% (phase RolledBack)\n');
    const promote = await canary(['release', 'promote', 'nope']);
    expect(promote.code).not.toBe(0);
    expect(promote.stderr).toContain('release "nope" does not exist');
  });
});

describe('the analysis flags', () => {
  it('parse steps with pauses and refuse what they cannot read', () => {
    expect(parseSteps('20,pause:30s,50,pause,100')).toEqual([
      { setWeight: 20 },
      { pause: { duration: '30s' } },
      { setWeight: 50 },
      { pause: {} },
      { setWeight: 100 },
    ]);
    expect(() => parseSteps('10,half,100')).toThrow('--steps: "half" is not a weight (0-100), "pause" or "pause:DURATION"');
    expect(() => analysisFromFlags({ maxP99: 'fast' })).toThrow('--max-p99: must be a duration such as 500ms or 1.5s, got "fast"');
    expect(analysisFromFlags({})).toBeUndefined();
    expect(analysisFromFlags({ maxP99: '1.5s' })!.checks).toEqual([{ metric: 'successRate' }, { metric: 'latencyP99', maxMs: 1500 }]);
  });
});
