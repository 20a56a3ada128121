import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleEnv, startConsoleEnv } from './console-fixture.js';
import { CreateReleaseWizard } from './pages/create-release-wizard.js';
import { ReleasesPage } from './pages/releases-page.js';
import { SignInPage } from './pages/sign-in-page.js';

/**
 * The wizard's automated analysis editor in Chromium against a real control plane: an invalid entry is refused
 * in the wizard with a visible message and nothing is created; corrected and edited, the release the API stores
 * carries exactly the steps and checks the editor showed.
 */
describe('console: automated analysis in the release wizard', () => {
  let env: ConsoleEnv;
  let wizard: CreateReleaseWizard;
  const release = 'reviews-analysis';

  beforeAll(async () => {
    env = await startConsoleEnv();
    const signIn = new SignInPage(env.page);
    await signIn.open(env.url);
    await signIn.signIn(env.token);
    await env.page.waitForURL(/\/services/);
  }, 120_000);

  afterAll(async () => {
    await env?.close();
  });

  it('refuses an empty interval with a visible message and creates nothing', async () => {
    await env.page.goto(`${env.url}/releases`);
    const releases = new ReleasesPage(env.page);
    await releases.byTest('tab-modes').click();
    await releases.startCanary();
    wizard = new CreateReleaseWizard(env.page);
    await wizard.basicInfo(release);
    await wizard.service('reviews');
    await wizard.newVersion('v2', { addresses: env.v2Address });

    const page = env.page;
    const enable = page.getByRole('switch', { name: 'Automated analysis (progressive delivery)' });
    await enable.check();
    // Turned on, the editor shows the API's defaults.
    const weights = page.getByRole('textbox', { name: 'Weight of the candidate' });
    expect(await weights.count()).toBe(3);
    expect([await weights.nth(0).inputValue(), await weights.nth(1).inputValue(), await weights.nth(2).inputValue()]).toEqual([
      '10 %',
      '50 %',
      '100 %',
    ]);
    expect(await page.getByRole('textbox', { name: 'Pause duration' }).inputValue()).toBe('1m');
    expect(await page.getByRole('textbox', { name: 'Interval', exact: true }).inputValue()).toBe('5s');
    expect(await page.getByRole('textbox', { name: 'Min success rate', exact: true }).inputValue()).toBe('99 %');

    await page.getByRole('textbox', { name: 'Interval', exact: true }).fill('');
    await wizard.create();
    const refusal = page.getByRole('alert').filter({ hasText: 'The interval is like 5s or 1m.' });
    await refusal.waitFor();
    expect(await refusal.isVisible()).toBe(true);
    expect(page.url()).toMatch(/\/releases\/new/);
    const got = await env.cp.call('GET', `/api/v1/releases/${release}`);
    expect(got.status).toBe(404);
    const list = await env.cp.call('GET', '/api/v1/releases');
    expect(JSON.stringify(list.body)).not.toContain(release);
  });

  it('creates the release with the edited steps and checks', async () => {
    const page = env.page;
    await page.getByRole('textbox', { name: 'Interval', exact: true }).fill('2s');
    await page.getByRole('textbox', { name: 'Weight of the candidate' }).first().fill('20');
    await page.getByRole('textbox', { name: 'Min success rate', exact: true }).fill('95');
    // Valid again: the message is gone before anything is sent.
    await page.getByRole('alert').filter({ hasText: 'The interval is like 5s or 1m.' }).waitFor({ state: 'detached' });
    await wizard.create();
    await page.waitForURL(new RegExp(`/releases/${release}$`));

    const stored = await env.cp.call('GET', `/api/v1/releases/${release}`);
    expect(stored.status, stored.text).toBe(200);
    const analysis = stored.body.analysis;
    expect(analysis.interval).toBe('2s');
    expect(analysis.minRequests).toBe(20);
    expect(analysis.steps).toEqual([{ setWeight: 20 }, { pause: { duration: '1m' } }, { setWeight: 50 }, { setWeight: 100 }]);
    expect(analysis.checks).toEqual([
      { metric: 'successRate', min: 95 },
      { metric: 'latencyP99', maxMs: 500 },
    ]);
  });
});
