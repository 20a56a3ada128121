import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seriousA11yViolations } from './axe-check.js';
import { type ConsoleEnv, startConsoleEnv } from './console-fixture.js';
import { ConsolePage } from './pages/console-page.js';
import { CreateReleaseWizard } from './pages/create-release-wizard.js';
import { ReleaseDetailPage } from './pages/release-detail-page.js';
import { ReleasesPage } from './pages/releases-page.js';
import { ServicesPage } from './pages/services-page.js';
import { SignInPage } from './pages/sign-in-page.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The console in Chromium against a real control plane: the seed article's flow, screen by screen.
 * Each step also saves a screenshot and runs axe-core (no serious or critical violation allowed).
 * Tests run in order and share one signed-in browser, like an operator working through the scenario.
 */
describe('console', () => {
  let env: ConsoleEnv;
  let shell: ConsolePage;
  const release = 'reviews-canary';

  const textOf = async (loc: { textContent(): Promise<string | null> }) => ((await loc.textContent()) ?? '').trim();

  /** Screenshot and accessibility check of the page as it is now. */
  const inspect = async (name: string) => {
    await env.page.waitForTimeout(300); // let transitions settle so the screenshot shows the final state
    await shell.screenshot(env.shotsDir, name);
    expect(await seriousA11yViolations(env.page), `axe on ${name}`).toEqual([]);
  };
  const api = async (path: string) => (await env.cp.call('GET', path)).body;

  beforeAll(async () => {
    env = await startConsoleEnv();
    shell = new ConsolePage(env.page);
  }, 150_000);

  afterAll(async () => {
    await env?.close();
  });

  // The steps build on each other: after one fails, the rest are skipped instead of timing out one by one.
  let broken = false;
  beforeEach((ctx) => {
    if (broken) ctx.skip();
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') broken = true;
  });

  it('asks for the token, refuses a wrong one and signs in with the right one', async () => {
    const signIn = new SignInPage(env.page);
    await signIn.open(env.url);
    expect((await env.page.textContent('body')) ?? '').toContain('.canary/admin-token');
    await inspect('01-sign-in');
    await signIn.signIn('not-the-token');
    await signIn.error().waitFor();
    expect(await textOf(signIn.error())).toMatch(/rejected/);
    await signIn.signIn(env.token);
    await env.page.waitForURL(/\/services/);
    expect(await shell.signedInAs()).toEqual({ name: 'admin', role: 'admin' });
  });

  it('lists services with their versions and instances, and shows the Istio YAML', async () => {
    const services = new ServicesPage(env.page);
    await services.row('reviews').waitFor();
    expect(await textOf(services.row('reviews'))).toContain('v1');
    await services.openService('reviews');
    expect(env.page.url()).toContain('service=reviews');
    await services.versionCard('v1').locator('[data-test="instance-row"]').first().waitFor();
    await inspect('02-services');
    await services.openTab('istio');
    await services.byTest('istio-yaml').waitFor();
    const yaml = await textOf(services.byTest('istio-yaml'));
    expect(yaml).toContain('kind: VirtualService');
    expect(yaml).toContain('kind: DestinationRule');
  });

  it("marks an instance a proxy's outlier detection ejected", async () => {
    const services = new ServicesPage(env.page);
    const instance = (await api('/api/v1/services/reviews')).status.versions[0].instances[0];
    const batch = (outliers: unknown[]) => {
      const end = Date.now();
      return { proxy: { id: 'console-proxy', host: 'h', pid: 1 }, start: end - 1000, end, edges: [], spans: [], outliers };
    };
    const ejected = { service: 'reviews', version: 'v1', instance: instance.name, address: instance.address, multiplier: 1 };
    expect((await env.cp.call('POST', '/api/v1/telemetry', batch([{ ...ejected, ejectedUntil: Date.now() + 120_000 }]))).status).toBe(200);
    await services.openTab('versions');
    const badge = services.versionCard('v1').locator('[data-test="instance-ejected"]');
    await waitFor('the ejected badge', async () => {
      if (await badge.isVisible()) return true;
      await env.page.reload();
      await badge.waitFor({ timeout: 2000 });
      return true;
    });
    expect(await textOf(badge)).toBe('ejected');
    await inspect('02b-instance-ejected');
    // The proxy says it is back: the mark goes.
    expect((await env.cp.call('POST', '/api/v1/telemetry', batch([]))).status).toBe(200);
    expect((await api('/api/v1/services/reviews')).status.versions[0].instances[0].ejectedUntil).toBeUndefined();
  });

  it('shows the three release modes, each available', async () => {
    await shell.navTo('releases');
    const releases = new ReleasesPage(env.page);
    await releases.modeCard('canary').waitFor();
    for (const mode of ['blueGreen', 'canary', 'mirror']) expect(await releases.byTest(`mode-${mode}-create`).isEnabled()).toBe(true);
    await inspect('03-release-modes');
    await releases.openJobs();
    await releases.byTest('releases-empty').waitFor();
  });

  it('creates a 50/50 canary release with the wizard', async () => {
    const releases = new ReleasesPage(env.page);
    await releases.byTest('tab-modes').click();
    await releases.startCanary();
    const wizard = new CreateReleaseWizard(env.page);
    // A bad name is refused with a message before anything is sent.
    await wizard.byTest('release-name').fill('Reviews Canary');
    await wizard.next();
    expect((await env.page.textContent('body')) ?? '').toContain('lowercase letters');
    await wizard.basicInfo(release);
    await wizard.service('reviews');
    await wizard.byTest('release-addresses').waitFor();
    await inspect('04-wizard-version');
    await wizard.newVersion('v2', { addresses: env.v2Address });
    await wizard.byTest('weight-slider').waitFor();
    expect(await textOf(wizard.byTest('weight-candidate'))).toBe('v2 50%');
    await inspect('05-wizard-strategy');
    await wizard.create();
    await env.page.waitForURL(new RegExp(`/releases/${release}$`));

    const stored = await api(`/api/v1/releases/${release}`);
    expect(stored.traffic).toEqual({ weights: { v1: 50, v2: 50 } });
    expect(stored.candidate).toEqual({ name: 'v2', workload: { addresses: [env.v2Address] } });
  });

  it('shows the job in the list and its detail with each version at 50%', async () => {
    const detail = new ReleaseDetailPage(env.page);
    expect(await textOf(detail.title())).toBe(release);
    await waitFor('the candidate to be ready', async () => (await detail.phase().getAttribute('data-phase')) === 'Progressing');
    expect(await textOf(detail.configuredShare('v1'))).toBe('50%');
    expect(await textOf(detail.configuredShare('v2'))).toBe('50%');
    await detail.byTest('share-chart').waitFor();
    // No request has reached reviews yet: the chart says so rather than staying blank.
    await detail.byTest('share-history-empty').waitFor();
    expect(await textOf(detail.byTest('share-history-empty'))).toContain('No traffic observed yet');
    expect((await detail.chartPoints()).history).toBe(0);
    await detail.byTest('event').first().waitFor();
    await inspect('06-release-detail');
    // The chart's range is page state in the URL, kept when switching tabs.
    await detail.chartRange('60 min');
    await waitFor('range=60 in the URL', async () => env.page.url().includes('range=60'));
    await detail.byTest('tab-istio').click();
    await waitFor('both parameters in the URL', async () => env.page.url().includes('tab=istio') && env.page.url().includes('range=60'));
    await detail.byTest('tab-events').click();

    await detail.byTest('back-to-jobs').click();
    const releases = new ReleasesPage(env.page);
    await releases.row(release).waitFor();
    expect(await textOf(releases.row(release).locator('[data-test="release-share"]'))).toContain('v1 50% · v2 50%');
    await inspect('07-job-list');
    await releases.row(release).click();
    await env.page.waitForURL(new RegExp(`/releases/${release}`));
  });

  it('lets v2 take over all traffic after a confirmation', async () => {
    const detail = new ReleaseDetailPage(env.page);
    await detail.title().waitFor();
    const said = await detail.takeOver('v2');
    expect(said).toContain('100%');
    await waitFor('phase TakenOver', async () => (await detail.phase().getAttribute('data-phase')) === 'TakenOver');
    expect(await textOf(detail.configuredShare('v2'))).toBe('100%');
    expect(await textOf(detail.configuredShare('v1'))).toBe('0%');
    expect((await api(`/api/v1/releases/${release}`)).status.governor).toBe('v2');
    await inspect('08-taken-over');
  });

  it('rolls back to v1 and resumes the configured split', async () => {
    const detail = new ReleaseDetailPage(env.page);
    await detail.rollBack();
    await waitFor('phase RolledBack', async () => (await detail.phase().getAttribute('data-phase')) === 'RolledBack');
    expect(await textOf(detail.configuredShare('v1'))).toBe('100%');
    expect((await api(`/api/v1/releases/${release}`)).status.governor).toBe('v1');
    await detail.resume();
    await waitFor('phase Progressing', async () => (await detail.phase().getAttribute('data-phase')) === 'Progressing');
    expect(await textOf(detail.configuredShare('v2'))).toBe('50%');
  });

  it('shows the release as Istio YAML', async () => {
    const detail = new ReleaseDetailPage(env.page);
    await detail.byTest('tab-istio').click();
    await detail.byTest('istio-yaml').waitFor();
    const yaml = await textOf(detail.byTest('istio-yaml'));
    expect(yaml).toMatch(/subset: v2\s+weight: 50/);
    expect(env.page.url()).toContain('tab=istio');
  });

  it('shows helpful empty states on topology and tracing while no traffic has been seen', async () => {
    await shell.navTo('topology');
    await shell.byTest('topology-empty').waitFor();
    await inspect('09-topology-empty');
    await shell.navTo('tracing');
    await shell.byTest('traces-empty').waitFor();
    await inspect('10-tracing-empty');
  });

  it('switches to Chinese and back', async () => {
    expect(await textOf(shell.navLabel('releases'))).toBe('Grayscale release');
    await shell.switchLanguage('zh');
    await waitFor('Chinese navigation', async () => (await textOf(shell.navLabel('releases'))) === '灰度发布');
    expect(await env.page.getAttribute('html', 'lang')).toBe('zh-CN');
    await shell.navTo('releases');
    await inspect('11-releases-zh');
    await shell.switchLanguage('en');
    await waitFor('English navigation', async () => (await textOf(shell.navLabel('releases'))) === 'Grayscale release');
  });

  it('finishes the release keeping v2', async () => {
    await env.page.goto(`${env.url}/releases/${release}`);
    const detail = new ReleaseDetailPage(env.page);
    await detail.title().waitFor();
    const said = await detail.finishKeeping('v2');
    expect(said).toMatch(/workload of v1 is stopped and removed/);
    await env.page.waitForURL(/\/releases\?tab=jobs/);
    await waitFor('the release to be gone', async () => (await env.cp.call('GET', `/api/v1/releases/${release}`)).status === 404, 15_000);
    const svc = await api('/api/v1/services/reviews');
    expect(svc.versions.map((v: { name: string }) => v.name)).toEqual(['v2']);
  });

  it('signs out', async () => {
    await shell.signOut();
    await shell.byTest('token-input').waitFor();
  });
});
