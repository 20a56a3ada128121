import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seriousA11yViolations } from './axe-check.js';
import { type DemoEnv, startDemoEnv } from './demo-fixture.js';
import { ConsolePage } from './pages/console-page.js';
import { CreateReleaseWizard } from './pages/create-release-wizard.js';
import { ReleaseDetailPage } from './pages/release-detail-page.js';
import { ReleasesPage } from './pages/releases-page.js';
import { ServicesPage } from './pages/services-page.js';
import { SignInPage } from './pages/sign-in-page.js';
import { TopologyPage } from './pages/topology-page.js';
import { TracingPage } from './pages/tracing-page.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The seed article's walk through the console, in Chromium alone, against a real `canary up --demo bookinfo`
 * (control plane in this process; the proxy and the Bookinfo services as child processes): sign in, create a
 * 50/50 canary of reviews with the wizard, turn on demo traffic, watch the observed shares, take over, roll
 * back, read the topology and a trace, switch to Chinese. Each page is screenshotted and checked with axe-core.
 */
describe('console on canary up --demo bookinfo', () => {
  let env: DemoEnv;
  let shell: ConsolePage;
  const release = 'reviews-canary';

  const textOf = async (loc: { textContent(): Promise<string | null> }) => ((await loc.textContent()) ?? '').trim();

  const inspect = async (name: string) => {
    await env.page.mouse.move(0, 0); // no tooltip over the content
    await env.page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0)); // a full-page shot of a scrolled page repeats the header
    await env.page.waitForTimeout(300); // let transitions settle so the screenshot shows the final state
    await shell.screenshot(env.shotsDir, `demo-${name}`);
    expect(await seriousA11yViolations(env.page), `axe on ${name}`).toEqual([]);
  };
  /** The observed share (percent) the release detail shows for a version; null while none is shown. */
  const observed = async (version: string): Promise<number | null> => {
    const n = Number.parseFloat(
      await textOf(env.page.locator(`[data-test="version-share"][data-version="${version}"] [data-test="observed-share"]`)),
    );
    return Number.isFinite(n) ? n : null;
  };
  const phase = (detail: ReleaseDetailPage) => detail.phase().getAttribute('data-phase');

  beforeAll(async () => {
    env = await startDemoEnv();
    shell = new ConsolePage(env.page);
  }, 150_000);

  afterAll(async () => {
    await env?.close();
  }, 30_000);

  let broken = false;
  beforeEach((ctx) => {
    if (broken) ctx.skip();
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') {
      broken = true;
      process.stderr.write(`canary up said:\n${env?.log.join('\n')}\n`);
    }
  });

  it('signs in and lists the Bookinfo services', async () => {
    const signIn = new SignInPage(env.page);
    await signIn.open(env.url);
    await inspect('01-sign-in');
    await signIn.signIn(env.token);
    await env.page.waitForURL(/\/services/);
    const services = new ServicesPage(env.page);
    for (const s of ['productpage', 'details', 'reviews', 'ratings']) await services.row(s).waitFor();
    await services.openService('reviews');
    const v1 = services.versionCard('v1');
    await waitFor('reviews v1 to be ready with a pid', async () =>
      /\d{2,}/.test(await textOf(v1.locator('[data-test="instance-row"]').first())),
    );
    await inspect('02-services');
  });

  it('creates a 50/50 canary of reviews with candidate v2 (SERVICE_VERSION=v2) in the wizard', async () => {
    await shell.navTo('releases');
    const releases = new ReleasesPage(env.page);
    await releases.startCanary();
    const wizard = new CreateReleaseWizard(env.page);
    await wizard.basicInfo(release);
    await wizard.service('reviews');
    await wizard.byTest('release-version').waitFor();
    expect(await wizard.byTest('release-version').inputValue()).toBe('v2');
    await wizard.setEnv('SERVICE_VERSION', 'v2');
    expect(await wizard.envValues()).toEqual({ SERVICE_VERSION: 'v2' });
    await inspect('03-wizard-version');
    await wizard.next();
    await wizard.byTest('weight-slider').waitFor();
    expect(await textOf(wizard.byTest('weight-candidate'))).toBe('v2 50%');
    await inspect('04-wizard-strategy');
    await wizard.create();
    await env.page.waitForURL(new RegExp(`/releases/${release}$`));

    const stored = await env.api(`/api/v1/releases/${release}`);
    expect(stored.traffic).toEqual({ weights: { v1: 50, v2: 50 } });
    expect(stored.candidate).toEqual({ name: 'v2', workload: { env: { SERVICE_VERSION: 'v2' } } });
    const detail = new ReleaseDetailPage(env.page);
    await waitFor('the v2 process to start and the release to progress', async () => (await phase(detail)) === 'Progressing', 30_000);
    expect(await textOf(detail.configuredShare('v1'))).toBe('50%');
    expect(await textOf(detail.configuredShare('v2'))).toBe('50%');
  });

  it('turns on demo traffic from the topology page', async () => {
    await shell.navTo('topology');
    const topology = new TopologyPage(env.page);
    await topology.demoTraffic().waitFor();
    expect(await textOf(topology.demoTraffic())).toBe('Start demo traffic');
    await topology.demoTraffic().click();
    await waitFor('the button to offer stopping', async () => (await textOf(topology.demoTraffic())) === 'Stop demo traffic');
    expect((await env.api('/api/v1/demo/traffic')).enabled).toBe(true);
    // Calls appear once the proxy's telemetry has reached the control plane and the page has polled it.
    await topology.edge('ingress', 'productpage:v1').waitFor({ timeout: 20_000 });
  });

  it('shows both versions taking about half of the observed traffic', async () => {
    await shell.navTo('releases');
    const releases = new ReleasesPage(env.page);
    await releases.openJobs();
    await releases.row(release).waitFor();
    await waitFor('an observed share in the job list', async () => /v2 \d/.test(await textOf(releases.row(release))));
    await inspect('05-job-list');
    await releases.row(release).click();
    const detail = new ReleaseDetailPage(env.page);
    await detail.title().waitFor();
    await waitFor('observed shares near 50/50', async () => {
      const [v1, v2] = [await observed('v1'), await observed('v2')];
      return v1 !== null && v2 !== null && v1 >= 20 && v1 <= 80 && v2 >= 20 && v2 <= 80;
    });
    // A few polls, so the chart draws lines rather than a dot.
    await waitFor(
      'the share chart to have 4 samples',
      async () => Number(await detail.byTest('share-history').getAttribute('data-samples')) >= 4,
    );
    await inspect('06-release-detail');
    // Reopened, the chart starts from the observed history instead of empty.
    await env.page.reload();
    await detail.title().waitFor();
    await waitFor('the chart to show the past after a reload', async () => (await detail.chartPoints()).history >= 1);
    expect(await detail.byTest('share-history-empty').count()).toBe(0);
  });

  it('lets v2 take over, and its observed share rises', async () => {
    const detail = new ReleaseDetailPage(env.page);
    const before = (await observed('v2')) ?? 0;
    expect(await detail.takeOver('v2')).toContain('100%');
    await waitFor('phase TakenOver', async () => (await phase(detail)) === 'TakenOver');
    expect(await textOf(detail.configuredShare('v2'))).toBe('100%');
    await waitFor(`observed v2 to rise above ${before}%`, async () => ((await observed('v2')) ?? 0) >= before + 3, 30_000);
    await inspect('07-taken-over');
  });

  it('rolls back to v1, and its observed share rises', async () => {
    const detail = new ReleaseDetailPage(env.page);
    const before = (await observed('v1')) ?? 0;
    expect(await detail.rollBack()).toContain('v1');
    await waitFor('phase RolledBack', async () => (await phase(detail)) === 'RolledBack');
    expect(await textOf(detail.configuredShare('v1'))).toBe('100%');
    expect((await env.api(`/api/v1/releases/${release}`)).status.governor).toBe('v1');
    await waitFor(`observed v1 to rise above ${before}%`, async () => ((await observed('v1')) ?? 0) >= before + 3, 30_000);
    await inspect('08-rolled-back');
  });

  it('shows reviews v1 and v2 in the topology with their rates', async () => {
    await shell.navTo('topology');
    const topology = new TopologyPage(env.page);
    for (const [from, to] of [
      ['ingress', 'productpage:v1'],
      ['productpage:v1', 'details:v1'],
      ['productpage:v1', 'reviews:v1'],
      ['productpage:v1', 'reviews:v2'],
      ['reviews:v2', 'ratings:v1'],
    ] as const) {
      await topology.edge(from, to).waitFor();
      expect(await topology.edgeRate(from, to), `${from} -> ${to} rate`).toBeGreaterThan(0);
    }
    await waitFor('the graph to draw both reviews versions', async () => {
      const drawn = await topology.drawnNodes();
      return ['ingress', 'productpage:v1', 'reviews:v1', 'reviews:v2', 'ratings:v1'].every((n) => drawn.includes(n));
    });
    await topology.selectNode('reviews:v2');
    await waitFor('the panel to show reviews v2', async () => (await textOf(topology.panelTitle())) === 'reviews v2');
    expect(await topology.panelRate()).toBeGreaterThan(0);
    expect(env.page.url()).toContain('selected=reviews%3Av2');
    await topology.selectEdge('productpage:v1', 'reviews:v1');
    await waitFor(
      'the panel to show the call to reviews v1',
      async () => (await textOf(topology.panelTitle())) === 'productpage v1 → reviews v1',
    );
    expect(await topology.panelRate()).toBeGreaterThan(0);
    await inspect('09-topology');
  });

  it('finds a trace through productpage, reviews and ratings, with where each span ran', async () => {
    await shell.navTo('tracing');
    const tracing = new TracingPage(env.page);
    await tracing.search({ service: 'ratings' });
    await waitFor('the search in the URL', async () => env.page.url().includes('service=ratings'));
    const rows = tracing.rows(['productpage', 'reviews', 'ratings']);
    await rows.first().waitFor();
    await rows.first().click();
    await tracing.waterfall().waitFor();
    for (const s of ['ingress', 'productpage', 'reviews', 'ratings'])
      expect(await tracing.spans(s).count(), `spans of ${s}`).toBeGreaterThan(0);
    await tracing.spans('reviews').and(env.page.locator('[data-kind="server"]')).first().click();
    await waitFor('the attributes of the reviews span', async () => (await tracing.attributes()).service === 'reviews');
    const attrs = await tracing.attributes();
    expect(attrs.version).toBe('v2'); // only v2 calls ratings
    expect(attrs.instance).toMatch(/^reviews-v2-\d+$/);
    expect(attrs.pid).toMatch(/^\d+$/);
    expect(attrs.host).toBeTruthy();
    expect(attrs.statusCode).toBe('200');
    expect(attrs.peerAddress).toMatch(/^127\.0\.0\.1/);
    await inspect('10-tracing');
  });

  it('switches to Chinese on every page', async () => {
    await shell.switchLanguage('zh');
    await waitFor('Chinese navigation', async () => (await textOf(shell.navLabel('releases'))) === '灰度发布');
    expect(await env.page.getAttribute('html', 'lang')).toBe('zh-CN');
    await new TracingPage(env.page).waterfall().waitFor();
    await inspect('11-tracing-zh');
    await shell.navTo('topology');
    await new TopologyPage(env.page).edge('ingress', 'productpage:v1').waitFor();
    await inspect('12-topology-zh');
    await shell.navTo('releases');
    const releases = new ReleasesPage(env.page);
    await releases.openJobs();
    await releases.row(release).click();
    const detail = new ReleaseDetailPage(env.page);
    await detail.title().waitFor();
    await waitFor(
      'the share chart to have 3 samples',
      async () => Number(await detail.byTest('share-history').getAttribute('data-samples')) >= 3,
    );
    await inspect('13-release-detail-zh');
    await shell.navTo('services');
    await new ServicesPage(env.page).row('reviews').waitFor();
    await inspect('14-services-zh');
    expect(env.pageErrors).toEqual([]);
  });
});
