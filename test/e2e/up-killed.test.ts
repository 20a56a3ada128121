import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxiesFollowing, readLedger, type LedgerRow, startUpProcess, stillRunning, type UpProcess } from '../chaos/chaos-harness.js';
import { ensureBuilt } from '../support/dist.js';
import { echoServiceSpec } from '../support/echo-service.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Issue 13: a `kill -9` of `canary up` left its proxy (and some workloads) running for good, not even in the
 * process ledger. Now every child ends by itself once the orphan grace is over, when no new `canary up` comes.
 */
describe('kill -9 of canary up, and nobody starts it again', () => {
  let dir: string;
  let up: UpProcess | null = null;
  const rows: LedgerRow[] = [];

  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'canary-up-killed-'));
  }, 180_000);
  afterAll(async () => {
    if (up && up.child.exitCode === null && up.child.signalCode === null) up.child.kill('SIGKILL');
    for (const r of rows) if (r.kind !== 'supervisor' && stillRunning(r)) process.kill(-r.pgid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('its proxy, standby, workloads and watchdog all end after the orphan grace, none before', async () => {
    const dataDir = join(dir, 'data');
    const cpPort = await freePort();
    const ingressPort = await freePort();
    const cpUrl = `http://127.0.0.1:${cpPort}`;
    up = startUpProcess(
      ['--data', dataDir, '--port', String(cpPort), '--ingress-port', String(ingressPort), '--orphan-grace', '2'],
      join(dir, 'up.log'),
    );
    const running = up;
    await waitFor('the ingress', () => running.output().includes('mesh ingress:'), 60_000);
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const created = await fetch(`${cpUrl}/api/v1/services`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(echoServiceSpec({ env: { FIXTURE_GRANDCHILD: '1' } })),
    });
    expect(created.status).toBe(201);
    await waitFor(
      'two instances, two proxies and the watchdog in the ledger',
      () => {
        const live = readLedger(dataDir).filter(stillRunning);
        return live.filter((r) => r.kind === 'instance').length === 2 && live.filter((r) => r.kind === 'proxy').length === 2 && live;
      },
      30_000,
    );
    rows.push(...readLedger(dataDir).filter(stillRunning));
    expect(rows.map((r) => r.kind).sort()).toEqual(['instance', 'instance', 'proxy', 'proxy', 'supervisor', 'watchdog']);
    await waitFor('/env through the ingress', async () => (await fetch(`http://127.0.0.1:${ingressPort}/env`)).status === 200, 30_000);

    // A second canary up on the same data directory while this one runs is refused, and touches nothing.
    const second = startUpProcess(
      ['--data', dataDir, '--port', String(await freePort()), '--ingress-port', String(await freePort())],
      join(dir, 'up-second.log'),
    );
    await second.exited;
    expect(second.child.exitCode).toBe(1);
    expect(second.output()).toContain(`another canary up (pid ${running.child.pid}) is running on ${dataDir}`);
    expect(rows.every(stillRunning)).toBe(true);

    running.child.kill('SIGKILL');
    await running.exited;
    const killedAt = Date.now();
    // Within the grace the serving proxy and the instances still answer (a successor could take over).
    const during = await fetch(`http://127.0.0.1:${ingressPort}/env`, { signal: AbortSignal.timeout(3000) });
    expect(during.status).toBe(200);
    // Then every one of them ends.
    await waitFor('no process of the killed run', () => rows.every((r) => !stillRunning(r)), 10_000);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(1500);
    expect(proxiesFollowing(cpUrl)).toEqual([]);
  });
});
