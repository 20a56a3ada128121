import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriousA11yViolations } from './axe-check.js';
import { type ConsoleEnv, startConsoleEnv } from './console-fixture.js';
import { ConsolePage } from './pages/console-page.js';
import { ReleaseDetailPage } from './pages/release-detail-page.js';
import { SignInPage } from './pages/sign-in-page.js';
import { TopologyPage } from './pages/topology-page.js';

/**
 * The console signed in with a viewer's token: it says who is signed in and with what role, shows everything,
 * and offers no change (the buttons are disabled, and a notice says why). The proxy's credential cannot sign in.
 */
describe('console as a viewer', () => {
  let env: ConsoleEnv;
  let shell: ConsolePage;
  let viewer: string;

  beforeAll(async () => {
    env = await startConsoleEnv();
    shell = new ConsolePage(env.page);
    const created = await env.cp.call('POST', '/api/v1/releases', {
      name: 'reviews-canary',
      service: 'reviews',
      baseline: 'v1',
      candidate: { name: 'v2', workload: { kind: 'endpoints', addresses: [env.v2Address] } },
      traffic: { weights: { v1: 50, v2: 50 } },
    });
    if (created.status !== 201) throw new Error(`creating the release failed: ${created.status} ${created.text}`);
    viewer = env.cp.tokenFor('viewer', 'alice');
  }, 150_000);

  afterAll(async () => {
    await env?.close();
  });

  it("refuses the proxy's credential at sign-in, saying what it is", async () => {
    const signIn = new SignInPage(env.page);
    await signIn.open(env.url);
    await signIn.signIn(env.cp.cp.tokens.mintInMemory('proxy', 'proxy'));
    await signIn.error().waitFor();
    expect((await signIn.error().textContent()) ?? '').toContain("proxy's credential");
  });

  it('shows who is signed in, and disables every change on the release pages', async () => {
    const signIn = new SignInPage(env.page);
    await signIn.signIn(viewer);
    await env.page.waitForURL(/\/services/);
    expect(await shell.signedInAs()).toEqual({ name: 'alice', role: 'viewer' });

    await shell.navTo('releases');
    await shell.byTest('read-only-notice').waitFor();
    expect((await shell.byTest('read-only-notice').textContent()) ?? '').toContain('Your role (viewer) may read but not change');
    expect(await shell.byTest('mode-canary-create').isDisabled()).toBe(true);

    await env.page.goto(`${env.url}/releases/reviews-canary`);
    const detail = new ReleaseDetailPage(env.page);
    await detail.title().waitFor();
    await detail.configuredShare('v2').waitFor();
    await shell.byTest('read-only-notice').waitFor();
    for (const test of ['rollback', 'resume', 'finish', 'apply-weights']) {
      expect(await shell.byTest(test).isDisabled(), test).toBe(true);
    }
    for (const button of await shell.byTest('takeover').all()) expect(await button.isDisabled()).toBe(true);
    await shell.screenshot(env.shotsDir, 'viewer-release-detail');
    expect(await seriousA11yViolations(env.page)).toEqual([]);

    // The wizard says, where a new version's workload is set, that what it runs is an admin's call.
    await env.page.goto(`${env.url}/releases/new?step=2`);
    await shell.byTest('workload-admin-only').waitFor();
    expect((await shell.byTest('workload-admin-only').textContent()) ?? '').toContain('needs an admin');
    await shell.byTest('read-only-notice').waitFor();

    await shell.navTo('topology');
    expect(await new TopologyPage(env.page).demoTraffic().isDisabled()).toBe(true);

    // Nothing changed, and the release is still readable in full.
    const r = (await env.cp.call('GET', '/api/v1/releases/reviews-canary')).body;
    expect(r.status.governor).toBeNull();
    expect(r.traffic.weights).toEqual({ v1: 50, v2: 50 });
  });
});
