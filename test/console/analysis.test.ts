import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleEnv, startConsoleEnv } from './console-fixture.js';
import { ReleaseDetailPage } from './pages/release-detail-page.js';
import { SignInPage } from './pages/sign-in-page.js';

/** The automated analysis on a release's job page, in Debian's Chromium against a real control plane. */
describe('console: automated analysis', () => {
  let env: ConsoleEnv;

  beforeAll(async () => {
    env = await startConsoleEnv();
    const added = await env.cp.call('POST', '/api/v1/services/reviews/versions', {
      name: 'v2',
      workload: { kind: 'endpoints', addresses: [env.v2Address] },
    });
    expect(added.status, added.text).toBe(201);
    const created = await env.cp.call('POST', '/api/v1/releases', {
      name: 'reviews-canary',
      service: 'reviews',
      candidate: { name: 'v2' },
      analysis: { interval: '1s', steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 100 }], minRequests: 5 },
    });
    expect(created.status, created.text).toBe(201);
  });

  afterAll(async () => {
    await env?.close();
  });

  it('shows the step timeline and the live verdict with its evidence, in English and Chinese, and promotes', async () => {
    const signIn = new SignInPage(env.page);
    await signIn.open(env.url);
    await signIn.signIn(env.token);
    await env.page.goto(`${env.url}/releases/reviews-canary`);
    const detail = new ReleaseDetailPage(env.page);
    await detail.byTest('analysis-panel').waitFor();
    const steps = detail.byTest('analysis-timeline-step');
    expect(await steps.allTextContents()).toEqual(['1. 20 %', '2. pause until promote', '3. 100 %']);
    // No traffic: the first step's verdict is inconclusive and says how many requests it needs.
    await env.page.locator('[data-test="analysis-verdict"]', { hasText: /^inconclusive$/ }).waitFor({ timeout: 15_000 });
    expect(await detail.byTest('analysis-message').textContent()).toContain('needs 5 more requests to the candidate v2');
    expect(await env.page.locator('[data-test="analysis-timeline-step"][data-current]').textContent()).toBe('1. 20 %');
    expect(await detail.byTest('analysis-check').count()).toBeGreaterThanOrEqual(2);

    await detail.switchLanguage('zh');
    await env.page.getByText('自动化分析', { exact: true }).waitFor();
    expect(await detail.byTest('analysis-verdict').textContent()).toBe('无法判定');
    await detail.switchLanguage('en');

    await detail.byTest('analysis-promote').click();
    const modal = env.page.getByRole('dialog');
    await modal.waitFor();
    expect(await modal.textContent()).toContain('v2 takes 100 % and the release finishes keeping it');
    await detail.byTest('confirm-ok').click();
    const deadline = Date.now() + 15_000;
    while ((await env.cp.call('GET', '/api/v1/releases/reviews-canary')).status !== 404) {
      if (Date.now() > deadline) throw new Error('the release did not finish after Promote');
      await new Promise((r) => setTimeout(r, 100));
    }
    const events = env.cp.cp.store.listEvents().map((e) => e.action);
    expect(events).toContain('release.promoted');
    expect(env.pageErrors).toEqual([]);
  });
});
