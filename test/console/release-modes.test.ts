import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seriousA11yViolations } from './axe-check.js';
import { type MeshEnv, startMeshEnv, startReviews } from './mesh-fixture.js';
import { ConsolePage } from './pages/console-page.js';
import { CreateReleaseWizard } from './pages/create-release-wizard.js';
import { ReleaseDetailPage } from './pages/release-detail-page.js';
import { ReleasesPage } from './pages/releases-page.js';
import { SignInPage } from './pages/sign-in-page.js';

const run = promisify(execFile);

/**
 * Blue-green and mirroring in Chromium against `canary up` (control plane, the real proxy as a child process,
 * SQLite in a temp dir): each release made from its mode card, driven from its job page, checked against what
 * the ingress answers. Steps run in order in one signed-in browser; screenshots and axe-core at each screen.
 */
describe('console: blue-green and mirroring', () => {
  let env: MeshEnv;
  let shell: ConsolePage;
  let v1: { address: string; server: Server };
  // v2 answers 503 for review 1, rates review 2 differently and marks review 3 cacheable: what the comparison must find.
  let v2: { address: string; server: Server };

  const textOf = async (loc: { textContent(): Promise<string | null> }) => ((await loc.textContent()) ?? '').trim();
  const until = async (what: string, check: () => Promise<boolean>, ms = 20_000) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await check().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  const inspect = async (name: string) => {
    await env.page.waitForTimeout(300);
    await shell.screenshot(env.shotsDir, name);
    expect(await seriousA11yViolations(env.page), `axe on ${name}`).toEqual([]);
  };
  /** Which version answered an ordinary request through the ingress. */
  const servedBy = async (path = '/reviews/0', headers: Record<string, string> = {}) => {
    const r = await env.ingress(path, headers);
    return `${r.status} ${r.headers['x-served-by'] ?? ''}`;
  };
  const release = async (name: string) => (await env.api('GET', `/api/v1/releases/${name}`)).body;

  beforeAll(async () => {
    v1 = await startReviews('v1');
    v2 = await startReviews('v2', (id) =>
      id === 1
        ? { status: 503, body: { error: 'unavailable' } }
        : { status: 200, body: { id, rating: id === 2 ? 4 : 5 }, headers: id === 3 ? { 'cache-control': 'max-age=60' } : undefined },
    );
    env = await startMeshEnv(v1.address);
    shell = new ConsolePage(env.page);
    await until('the ingress to serve v1', async () => (await servedBy()) === '200 v1', 30_000);
  }, 180_000);

  afterAll(async () => {
    await env?.close();
    for (const s of [v1, v2]) if (s) await new Promise((r) => s.server.close(r));
  });

  let broken = false;
  beforeEach((ctx) => {
    if (broken) ctx.skip();
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') broken = true;
  });

  it('signs in and offers all three modes', async () => {
    const signIn = new SignInPage(env.page);
    await signIn.open(env.url);
    await signIn.signIn(env.token);
    await env.page.waitForURL(/\/services/);
    await shell.navTo('releases');
    const releases = new ReleasesPage(env.page);
    for (const mode of ['blueGreen', 'canary', 'mirror'] as const)
      expect(await releases.byTest(`mode-${mode}-create`).isEnabled()).toBe(true);
  });

  it('creates a blue-green release from its mode card: the last step explains the switch', async () => {
    await new ReleasesPage(env.page).startMode('blueGreen');
    const wizard = new CreateReleaseWizard(env.page);
    expect(await textOf(wizard.byTest('wizard-title'))).toBe('Create blue-green deployment');
    await wizard.basicInfo('reviews-bg');
    await wizard.service('reviews');
    await wizard.newVersion('v2', { addresses: v2.address });
    await wizard.byTest('blue-green-plan').waitFor();
    const plan = await textOf(wizard.byTest('blue-green-plan'));
    expect(plan).toContain('v2 starts beside v1 and gets 0 % of ordinary traffic');
    expect(plan).toContain('x-canary-preview: v2');
    expect(await textOf(wizard.byTest('traffic-preview'))).toContain('strategy: blueGreen');
    await inspect('modes-01-wizard-blue-green');
    await wizard.create();
    await env.page.waitForURL(/\/releases\/reviews-bg$/);
    const stored = await release('reviews-bg');
    expect(stored.strategy).toBe('blueGreen');
    expect(stored.candidate).toEqual({ name: 'v2', workload: { addresses: [v2.address] } });
  });

  it('shows v1 live and v2 at 0 %, and a preview curl that reaches v2', async () => {
    const detail = new ReleaseDetailPage(env.page);
    await until('the candidate to be ready', async () => (await detail.phase().getAttribute('data-phase')) === 'Progressing');
    expect(await detail.blueGreenRole('v1')).toBe('live');
    expect(await detail.blueGreenRole('v2')).toBe('idle');
    expect(await textOf(detail.blueGreenCard('v2').locator('[data-test="bg-share"]'))).toBe('0% of ordinary traffic');
    await inspect('modes-02-blue-green-staged');
    // Ordinary traffic stays on v1; the copied command, run as it is, reaches v2.
    await until('the release routes in force', async () => (await servedBy('/reviews/0', { 'x-canary-preview': 'v2' })) === '200 v2');
    for (let i = 0; i < 5; i++) expect(await servedBy()).toBe('200 v1');
    const command = await detail.previewCommand(env.ingressUrl);
    expect(command).toBe(`curl -i -H 'x-canary-preview: v2' '${env.ingressUrl}/reviews'`);
    const { stdout } = await run('sh', ['-c', command], { timeout: 10_000 });
    expect(stdout.toLowerCase()).toContain('x-served-by: v2');
  });

  it('switches to v2: v2 live, v1 standby, all traffic on v2', async () => {
    const detail = new ReleaseDetailPage(env.page);
    const said = await detail.switchTo();
    expect(said).toContain('v1 keeps running as the standby');
    await until('v2 live', async () => (await detail.blueGreenRole('v2')) === 'live');
    expect(await detail.blueGreenRole('v1')).toBe('standby');
    expect((await release('reviews-bg')).status.standby).toBe('v1');
    await until('the ingress to serve v2', async () => (await servedBy()) === '200 v2');
    for (let i = 0; i < 5; i++) expect(await servedBy()).toBe('200 v2');
    await inspect('modes-03-blue-green-switched');
  });

  it('switches back to v1 at once, then finishes keeping v1', async () => {
    const detail = new ReleaseDetailPage(env.page);
    await detail.switchBack();
    await until('v1 live again', async () => (await detail.blueGreenRole('v1')) === 'live');
    await until('the ingress to serve v1', async () => (await servedBy()) === '200 v1');
    await detail.finishKeeping('v1');
    await env.page.waitForURL(/\/releases\?tab=jobs/);
    await until('v2 retired', async () => (await env.api('GET', '/api/v1/services/reviews')).body.versions.length === 1, 20_000);
  });

  it('creates a mirror release with comparison options from its mode card', async () => {
    const releases = new ReleasesPage(env.page);
    await releases.byTest('tab-modes').click();
    await releases.startMode('mirror');
    const wizard = new CreateReleaseWizard(env.page);
    expect(await textOf(wizard.byTest('wizard-title'))).toBe('Create traffic mirroring');
    await wizard.basicInfo('reviews-mirror');
    await wizard.service('reviews');
    await wizard.newVersion('v2', { addresses: v2.address });
    // A bad JSON path is refused with a message before anything is sent.
    await wizard.mirrorSettings({ ignoreJsonPaths: 'timestamp' });
    await wizard.create();
    await wizard.byTest('step-error').waitFor();
    expect(await textOf(wizard.byTest('step-error'))).toContain('must start with $');
    expect((await env.api('GET', '/api/v1/releases/reviews-mirror')).status).toBe(404);
    // Every header is compared but x-served-by, which names the version and so differs on every request.
    await wizard.mirrorSettings({
      percent: 100,
      compareBody: true,
      compareHeaders: '*',
      ignoreHeaders: 'x-served-by',
      ignoreJsonPaths: '$.timestamp',
    });
    await inspect('modes-04-wizard-mirror');
    await wizard.create();
    await env.page.waitForURL(/\/releases\/reviews-mirror$/);
    const stored = await release('reviews-mirror');
    expect(stored.strategy).toBe('mirror');
    expect(stored.traffic.mirror.percent).toBe(100);
    expect(stored.compare).toMatchObject({
      body: true,
      headers: ['*'],
      ignoreHeaders: ['x-served-by'],
      ignoreJsonPaths: ['$.timestamp'],
      maxBodyBytes: 65536,
    });
  });

  it('says what to do while nothing was mirrored yet', async () => {
    const detail = new ReleaseDetailPage(env.page);
    await until('the candidate to be ready', async () => (await detail.phase().getAttribute('data-phase')) === 'Progressing');
    await detail.byTest('comparison-empty').waitFor();
    expect(await textOf(detail.byTest('comparison-empty'))).toContain('Send requests to reviews through the ingress');
    await inspect('modes-05-mirror-empty');
  });

  it('compares the mirrored answers: agreement, status and body differences with an example pair, latency', async () => {
    const detail = new ReleaseDetailPage(env.page);
    // Users get v1's answers only, v2's 503 included.
    const sent = { 0: 6, 1: 4, 2: 3, 3: 2 };
    for (const [id, n] of Object.entries(sent)) for (let i = 0; i < n; i++) expect(await servedBy(`/reviews/${id}`)).toBe('200 v1');
    await until('the comparison of 15 requests', async () => (await textOf(detail.byTest('stat-compared'))) === '15', 30_000);
    expect(await textOf(detail.byTest('agreement-counts'))).toBe('6 of 15 compared answers agree');
    expect(await textOf(detail.byTest('agreement'))).toBe('40.0%');
    const diffs = await detail.differences();
    expect(diffs).toContainEqual({ kind: 'status', field: '—', primary: '200', mirror: '503', count: 4 });
    expect(diffs).toContainEqual({ kind: 'body', field: '$.rating', primary: '5', mirror: '4', count: 3 });
    expect(diffs).toContainEqual({ kind: 'header', field: 'cache-control', primary: '(absent)', mirror: 'max-age=60', count: 2 });
    // The ignored header and JSON path differ on every request and are not reported.
    expect(diffs.filter((d) => d.field === 'x-served-by' || d.field === '$.timestamp')).toEqual([]);

    await detail.selectDifference('body');
    const primary = detail.byTest('example-primary');
    const mirror = detail.byTest('example-mirror');
    expect(await textOf(mirror.locator('[data-test="body-marked"]'))).toBe('"rating": 4,');
    expect(await textOf(primary.locator('[data-test="body-marked"]'))).toBe('"rating": 5,');
    await inspect('modes-06-mirror-body-difference');
    await detail.selectDifference('status');
    expect(await textOf(mirror.locator('[data-test="example-status"]'))).toBe('503');
    expect(await mirror.locator('[data-test="example-status"]').getAttribute('data-differs')).toBe('true');
    expect(await textOf(primary.locator('[data-test="example-status"]'))).toBe('200');
    expect(await textOf(mirror.locator('[data-test="example-body"]'))).toContain('unavailable');
    expect(new URL(env.page.url()).searchParams.get('diff')).toBe('status GET /reviews/1');
    // A header difference marks that header only, though others (x-served-by, framing) differ too.
    await detail.selectDifference('header');
    expect(await mirror.locator('[data-test="example-headers"] tr[data-differs="true"]').allTextContents()).toEqual([
      'cache-controlmax-age=60',
    ]);
    for (const side of ['primary', 'mirror']) {
      expect(await textOf(detail.page.locator(`[data-test="latency-row"][data-side="${side}"] [data-test="p50"]`))).toMatch(/ms$/);
    }
  });

  it('renders the new pages in Chinese', async () => {
    const detail = new ReleaseDetailPage(env.page);
    await shell.switchLanguage('zh');
    await until('Chinese comparison', async () => (await textOf(detail.byTest('comparison'))).includes('一致率'));
    expect(await textOf(detail.byTest('preview'))).toContain('预览新版本');
    await inspect('modes-07-mirror-zh');
    await shell.navTo('releases');
    const releases = new ReleasesPage(env.page);
    await releases.byTest('tab-modes').click();
    expect(await textOf(releases.modeCard('blueGreen'))).toContain('蓝绿部署');
    await releases.startMode('blueGreen');
    const wizard = new CreateReleaseWizard(env.page);
    expect(await textOf(wizard.byTest('wizard-title'))).toBe('创建蓝绿部署任务');
    await inspect('modes-08-wizard-zh');
    await shell.switchLanguage('en');
    await env.page.goto(`${env.url}/releases/reviews-mirror`);
  });

  it('lets the mirror take over: the job becomes a canary with v2 at 100 %', async () => {
    const detail = new ReleaseDetailPage(env.page);
    await detail.title().waitFor();
    const said = await detail.mirrorTakeOver();
    expect(said).toContain('receiving 100% of requests');
    await until('phase TakenOver', async () => (await detail.phase().getAttribute('data-phase')) === 'TakenOver');
    await until('the ingress to serve v2', async () => (await servedBy('/reviews/0')) === '200 v2');
    expect(await textOf(detail.configuredShare('v2'))).toBe('100%');
    await inspect('modes-09-mirror-taken-over');
  });
});
