import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { type ControlPlane, createControlPlane } from '../control-plane/index.js';
import { EndpointsRuntime } from '../workloads/endpoints-runtime.js';
import { canaryArgs, runCanary as canary } from '../../test/support/cli-runner.js';
import { ensureBuilt } from '../../test/support/dist.js';

/**
 * The `canary` CLI as a user runs it: `node bin/canary.js ...` in a child process, against a real control plane
 * (SQLite in a temp dir, endpoints workloads) listening on an ephemeral loopback port.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'canary.js');

async function closedPort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => done(port));
    });
  });
}

const reviewsYaml = `# a service as a user would write it
name: reviews
port: 9080
versions:
  - name: v1
    workload: { kind: endpoints, addresses: ["127.0.0.1:19001"] }
  - name: v2
    labels: { track: canary }
    workload: { kind: endpoints, addresses: ["127.0.0.1:19002"] }
`;

describe('canary CLI against a real control plane', () => {
  let dir: string;
  let dataDir: string;
  let cp: ControlPlane;
  let server: string;
  let runtime: EndpointsRuntime;
  /** --server and --data: the token comes from <data>/admin-token, as after `canary up`. */
  let client: string[];

  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'canary-cli-'));
    dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    runtime = new EndpointsRuntime();
    const saved = process.env.CANARY_ADMIN_TOKEN;
    delete process.env.CANARY_ADMIN_TOKEN; // so that the control plane writes <data>/admin-token
    cp = await createControlPlane({ dataDir, runtime, logLevel: 'silent', drainGraceMs: 50, watchPingMs: 60_000 });
    if (saved !== undefined) process.env.CANARY_ADMIN_TOKEN = saved;
    server = (await cp.app.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1');
    client = ['--server', server, '--data', dataDir];
    writeFileSync(join(dir, 'reviews.yaml'), reviewsYaml);
  });

  afterAll(async () => {
    await cp?.close();
    await runtime?.stopAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('registers a service from a YAML file, reading the token from the data directory', async () => {
    expect(existsSync(join(dataDir, 'admin-token'))).toBe(true);
    const r = await canary(['service', 'create', '-f', join(dir, 'reviews.yaml'), ...client]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('service/reviews created (versions v1, v2)');
  });

  it('validates routes with --dry-run and changes nothing', async () => {
    writeFileSync(join(dir, 'rules.yaml'), 'rules:\n  - route: [ { version: v1, weight: 80 }, { version: v2, weight: 20 } ]\n');
    const dry = await canary(['routes', 'set', 'reviews', '-f', join(dir, 'rules.yaml'), '--dry-run', ...client]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^dry run: routes of service\/reviews would be set/);
    expect(dry.stdout).toContain('Nothing was changed.');
    const after = await canary(['routes', 'get', 'reviews', '-o', 'json', ...client]);
    expect(JSON.parse(after.stdout).rules).toEqual([]);
    writeFileSync(join(dir, 'bad-rules.yaml'), 'rules:\n  - route: [ { version: v1, weight: 80 } ]\n');
    const bad = await canary(['routes', 'set', 'reviews', '-f', join(dir, 'bad-rules.yaml'), '--dry-run', ...client]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error: .*weights must sum to 100, got 80/);
  });

  it('prints services as an aligned table, as JSON and as YAML', async () => {
    const table = await canary(['service', 'list', ...client]);
    expect(table.code).toBe(0);
    const [header, row, ...rest] = table.stdout.trimEnd().split('\n');
    expect(rest).toEqual([]);
    expect(header).toMatch(/^NAME {3,}PORT {3,}VERSIONS {3,}READY {3,}RELEASE {3,}AGE$/);
    expect(row).toMatch(/^reviews {3,}9080 {3,}v1,v2 {3,}v1 1\/1, v2 1\/1 {3,}- {3,}\d+s$/);
    // Columns line up: every value starts where its header does.
    for (const col of ['PORT', 'VERSIONS', 'READY', 'RELEASE', 'AGE']) {
      const at = header!.indexOf(col);
      expect(row![at - 1], col).toBe(' ');
      expect(row![at], col).not.toBe(' ');
    }

    const json = await canary(['service', 'list', '-o', 'json', ...client]);
    expect(json.code).toBe(0);
    const fromJson = JSON.parse(json.stdout);
    expect(fromJson.items.map((s: { name: string }) => s.name)).toEqual(['reviews']);
    expect(fromJson.items[0].versions[1]).toMatchObject({ name: 'v2', labels: { track: 'canary' } });

    const yaml = await canary(['service', 'get', 'reviews', '-o', 'yaml', ...client]);
    expect(yaml.code).toBe(0);
    expect(parseYaml(yaml.stdout)).toEqual(fromJson.items[0]);
  });

  it("shows in READY the instances a proxy's outlier detection has ejected", async () => {
    const end = Date.now();
    const batch = (outliers: unknown[]) =>
      cp.app.inject({
        method: 'POST',
        url: '/api/v1/telemetry',
        headers: { authorization: `Bearer ${readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()}` },
        payload: { proxy: { id: 'cli-proxy', host: 'h', pid: 1 }, start: end - 1000, end, edges: [], spans: [], outliers },
      });
    const ejected = { service: 'reviews', version: 'v2', instance: '127.0.0.1:19002', address: '127.0.0.1:19002' };
    expect((await batch([{ ...ejected, ejectedUntil: end + 60_000, multiplier: 1 }])).statusCode).toBe(200);
    const table = await canary(['service', 'list', ...client]);
    expect(table.stdout).toMatch(/v1 1\/1, v2 1\/1 \(1 ejected\)/);
    expect((await batch([])).statusCode).toBe(200);
  });

  it('creates a release from flags and lists it: NAME SERVICE PHASE GOVERNOR WEIGHTS AGE', async () => {
    const created = await canary([
      ...canaryArgs('release create reviews-canary', { service: 'reviews', baseline: 'v1', candidate: 'v2', weights: 'v1=50,v2=50' }),
      ...client,
    ]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^release\/reviews-canary created: phase (Pending|Progressing)/);

    const list = await canary(['release', 'list', ...client]);
    const [header, row] = list.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^NAME {3,}SERVICE {3,}PHASE {3,}GOVERNOR {3,}WEIGHTS {3,}AGE$/);
    expect(row).toMatch(/^reviews-canary {3}reviews {3,}Progressing {3}- {3,}v1=50,v2=50 {3}\d+s$/);
  });

  it('shifts weights, takes over, rolls back and resumes, printing the API objects with -o json', async () => {
    const set = await canary(['release', 'set-weights', 'reviews-canary', 'v1=80,v2=20', '-o', 'json', ...client]);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ name: 'reviews-canary', traffic: { weights: { v1: 80, v2: 20 } } });

    const take = await canary(['release', 'takeover', 'reviews-canary', 'v2', ...client]);
    expect(take.stdout.trim()).toBe('release/reviews-canary taken over by v2: phase TakenOver, governor v2, weights v1=80,v2=20');

    const back = await canary(['release', 'rollback', 'reviews-canary', '-o', 'yaml', ...client]);
    expect(parseYaml(back.stdout).status).toMatchObject({ phase: 'RolledBack', governor: 'v1' });

    const resumed = await canary(['release', 'resume', 'reviews-canary', '-o', 'json', ...client]);
    expect(JSON.parse(resumed.stdout).status).toMatchObject({ phase: 'Progressing', governor: null });

    const detail = await canary(['release', 'get', 'reviews-canary', ...client]);
    expect(detail.stdout).toMatch(/^Phase: +Progressing$/m);
    expect(detail.stdout).toMatch(/^Weights: +v1=80,v2=20$/m);
  });

  it('prints the Istio manifests as routed now', async () => {
    const r = await canary(['manifests', 'reviews', ...client]);
    expect(r.code).toBe(0);
    const [vs, dr] = parseAllDocuments(r.stdout).map((d) => d.toJS());
    expect(vs).toMatchObject({ kind: 'VirtualService', metadata: { name: 'reviews' }, spec: { hosts: ['reviews'] } });
    // First the preview route (x-canary-preview: v2 reaches the candidate), then the release's split.
    expect(vs.spec.http).toHaveLength(2);
    expect(vs.spec.http[0].match).toEqual([{ headers: { 'x-canary-preview': { exact: 'v2' } } }]);
    expect(vs.spec.http[0].route).toEqual([{ destination: { host: 'reviews', port: { number: 9080 }, subset: 'v2' }, weight: 100 }]);
    expect(vs.spec.http[1].route).toEqual([
      { destination: { host: 'reviews', port: { number: 9080 }, subset: 'v1' }, weight: 80 },
      { destination: { host: 'reviews', port: { number: 9080 }, subset: 'v2' }, weight: 20 },
    ]);
    expect(dr.spec.subsets).toEqual([
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2', track: 'canary' } },
    ]);
  });

  it("prints the API's message with `Error:` on stderr and exits 1 on a 400, changing nothing", async () => {
    const r = await canary(['release', 'set-weights', 'reviews-canary', 'v1=70,v2=20', ...client]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: .*must sum to 100, got 90/);
    const after = JSON.parse((await canary(['release', 'get', 'reviews-canary', '-o', 'json', ...client])).stdout);
    expect(after.traffic.weights).toEqual({ v1: 80, v2: 20 });

    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ name: 'Bad_Name', versions: [] }));
    const bad = await canary(['service', 'create', '-f', join(dir, 'bad.json'), ...client]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error: .*name.*DNS-1123/);
    expect(bad.stderr).toMatch(/versions.*at least one version/);
  });

  it('says what is wrong with a local mistake before calling the API', async () => {
    const r = await canary(['release', 'set-weights', 'reviews-canary', 'v1:80', ...client]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('Error: weights: "v1:80" is not VERSION=WEIGHT; write e.g. v1=80,v2=20');
    const missing = await canary(['service', 'create', '-f', join(dir, 'nope.yaml'), ...client]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`Error: -f ${join(dir, 'nope.yaml')}: cannot read it: no such file`);
  });

  it('explains a missing token (401) and accepts one from CANARY_TOKEN', async () => {
    const empty = join(dir, 'empty-data');
    mkdirSync(empty, { recursive: true });
    const denied = await canary(['service', 'list', '--server', server, '--data', empty]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^Error: /);
    expect(denied.stderr).toContain('--token or CANARY_TOKEN');

    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const ok = await canary(['service', 'list', '-o', 'json', '--server', server, '--data', empty], { env: { CANARY_TOKEN: token } });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).items).toHaveLength(1);
  });

  it('creates a token once, lists it without its value, refuses its role what it may not do, and revokes it', async () => {
    const created = await canary(['token', 'create', 'alice', '--role', 'viewer', '--expires', '30d', '-o', 'json', ...client]);
    expect(created.stderr).toBe('');
    const shown = JSON.parse(created.stdout);
    expect(Object.keys(shown)).toEqual(['name', 'role', 'token', 'expiresAt']);
    expect(shown).toMatchObject({ name: 'alice', role: 'viewer', token: expect.stringMatching(/^canary_/) });
    const asAlice = { env: { CANARY_TOKEN: shown.token } };
    const me = await canary(['whoami', '--server', server], asAlice);
    expect(me.stdout.trim()).toBe('alice (role viewer)');
    expect((await canary(['release', 'list', '--server', server], asAlice)).code).toBe(0);
    const refused = await canary(['release', 'rollback', 'reviews-canary', '--server', server], asAlice);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^Error: role viewer \(token "alice"\) may not change releases/);
    expect(refused.stderr).toContain('canary whoami');

    const list = await canary(['token', 'list', ...client]);
    expect(list.stdout.split('\n')[0]).toMatch(/^NAME {3,}ROLE {3,}EXPIRES {3,}CREATED BY {3,}AGE {3,}SOURCE$/);
    expect(list.stdout).toMatch(/\nalice {3,}viewer {3,}20\d\d-/);
    expect(list.stdout).not.toContain(shown.token);

    const plain = await canary(['token', 'create', 'bob', '--role', 'operator', ...client]);
    expect(plain.stdout).toMatch(/^token\/bob created \(role operator, does not expire\)\ncanary_[0-9a-f_]+\nThis is the only time/);
    expect((await canary(['token', 'create', 'carol', '--role', 'root', ...client])).stderr).toContain(
      'Allowed choices are viewer, operator, admin, proxy',
    );

    expect((await canary(['token', 'revoke', 'alice', ...client])).stdout.trim()).toBe('token/alice revoked');
    const after = await canary(['release', 'list', '--server', server], asAlice);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('invalid token');
  });

  it('takes the server from CANARY_SERVER', async () => {
    const r = await canary(['release', 'list', '-o', 'json', '--data', dataDir], { env: { CANARY_SERVER: server } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).items[0].name).toBe('reviews-canary');
  });

  it('accepts the client options before the subcommand too, as scripts write them', async () => {
    const r = await canary(['--server', server, '--data', dataDir, '-o', 'json', 'release', 'list']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).items[0].name).toBe('reviews-canary');
  });

  it('shows the events of a release, and finishes it keeping v2', async () => {
    const events = await canary(['events', '--release', 'reviews-canary', ...client]);
    expect(events.code).toBe(0);
    expect(events.stdout.split('\n')[0]).toMatch(/^TIME {3,}ACTOR {3,}ACTION {3,}RESOURCE {3,}MESSAGE$/);
    expect(events.stdout).toMatch(/admin {3,}release\.created {3,}release\/reviews-canary/);
    expect(events.stdout).toContain('release.taken-over');

    const fin = await canary(['release', 'finish', 'reviews-canary', '--keep', 'v2', ...client]);
    expect(fin.stderr).toBe('');
    expect(fin.stdout.trim()).toBe('release/reviews-canary finished: v2 kept');
    const svc = JSON.parse((await canary(['service', 'get', 'reviews', '-o', 'json', ...client])).stdout);
    expect(svc.versions.map((v: { name: string }) => v.name)).toEqual(['v2']);
  });

  it('prints log lines as JSON', async () => {
    const r = await canary(['logs', 'reviews', 'v2', '--tail', '5', '-o', 'json', ...client]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ lines: expect.any(Array) });
  });
});

describe('canary CLI without a control plane', () => {
  beforeAll(ensureBuilt);

  it('says the control plane is not reachable at the URL and how to start one', async () => {
    const port = await closedPort();
    const r = await canary(['release', 'list', '--server', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`Error: the control plane is not reachable at http://127.0.0.1:${port}`);
    expect(r.stderr).toContain('`canary up`');
  });

  it('refuses an --allowed-hosts entry that is not a host name before starting anything', async () => {
    const r = await canary([
      'up',
      '--allowed-hosts',
      'canary.example.com,http://evil:80',
      '--data',
      join(tmpdir(), 'never-created-canary'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'Error: --allowed-hosts: "http://evil:80" is not a host name or address (write names without scheme or port, e.g. canary.example.com,.corp.example)\n',
    );
    expect(existsSync(join(tmpdir(), 'never-created-canary'))).toBe(false);
  });

  it('teaches with examples in --help of every command', async () => {
    const helps = await Promise.all(
      [
        ['release', 'create'],
        ['release', 'set-weights'],
        ['service', 'create'],
        ['routes', 'set'],
        ['manifests'],
        ['events'],
        ['logs'],
        ['up'],
        ['proxy'],
        ['token', 'create'],
      ].map((c) => canary([...c, '--help'])),
    );
    for (const h of helps) {
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(/Examples:\n {2}(# .*\n {2})?canary /);
    }
    expect(helps[0]!.stdout).toContain('--weights v1=50,v2=50');
    expect(helps[0]!.stdout).toContain('-o, --output <format>');
  });

  it('lists the limit flags of `canary proxy` and `canary up`, and refuses a bad one naming it before starting anything', async () => {
    const [proxyHelp, upHelp, badProxy, badUp, clusterUp] = await Promise.all([
      canary(['proxy', '--help']),
      canary(['up', '--help']),
      canary(['proxy', '--config', 'routes.yaml', '--send-timeout', 'soon']),
      canary(['up', '--data', join(tmpdir(), 'canary-never-created'), '--header-timeout', '0']),
      canary(['up', '--kubernetes', '--max-connections', '10']),
    ]);
    for (const flag of [
      '--header-timeout',
      '--idle-timeout',
      '--send-timeout',
      '--queue-timeout',
      '--max-connections',
      '--max-head-bytes',
      '--max-target-bytes',
    ]) {
      expect(proxyHelp.stdout).toContain(flag);
      expect(upHelp.stdout).toContain(flag);
    }
    expect(badProxy.code).toBe(1);
    expect(badProxy.stderr).toContain('--send-timeout: must be a whole number, got "soon"');
    expect(badUp.code).toBe(1);
    expect(badUp.stderr).toContain('--header-timeout: must be a whole number of ms from 1 to 300000, got 0');
    expect(clusterUp.code).toBe(1);
    expect(clusterUp.stderr).toContain('--max-connections: not with --kubernetes');
  });

  it('runs `canary proxy --config FILE --listen 127.0.0.1:0` and stops it on SIGTERM', async () => {
    const upstream = createHttpServer((_req, res) => res.end('from v1'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upstreamPort = (upstream.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'canary-cli-proxy-'));
    const file = join(dir, 'routes.yaml');
    writeFileSync(
      file,
      `services:
  - name: reviews
    port: 9080
    ingress: { paths: ["/"] }
    versions:
      - { name: v1, workload: { kind: endpoints, addresses: ["127.0.0.1:${upstreamPort}"] } }
    routes:
      - route: [ { version: v1, weight: 100 } ]
`,
    );
    const child = spawn(process.execPath, [bin, 'proxy', '--config', file, '--listen', '127.0.0.1:0'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      let log = '';
      const port = await new Promise<number>((found, fail) => {
        const timer = setTimeout(() => fail(new Error(`the proxy did not say where it listens: ${log}`)), 15_000);
        const onData = (chunk: Buffer) => {
          log += chunk.toString();
          const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
          if (m) {
            clearTimeout(timer);
            found(Number(m[1]));
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', () => fail(new Error(`the proxy exited: ${log}`)));
      });
      const res = await fetch(`http://127.0.0.1:${port}/reviews/1`, { headers: { host: 'reviews' } });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('from v1');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await new Promise((r) => upstream.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
