import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadAdminToken } from '../control-plane/admin-token.js';
import type { ProcessWorkload } from '../core/model.js';
import { SqliteStore } from '../store/index.js';
import { ProcessRuntime, type ProcessRuntimeEvent, type ProcessRuntimeOptions } from './process-runtime.js';
import type { DesiredVersion } from './workload-runtime.js';
import { waitFor } from '../../test/support/wait-for.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', '..', 'test', 'support', 'fixtures', 'workloads');
const fixture = join(fixtures, 'fixture-server.mjs');

function version(service: string, name: string, workload: Partial<ProcessWorkload> = {}): DesiredVersion {
  return {
    service,
    version: {
      name,
      labels: {},
      workload: {
        kind: 'process',
        command: process.execPath,
        args: [fixture],
        env: {},
        replicas: 1,
        readiness: { path: '/health', timeoutSeconds: 10 },
        ...workload,
      },
    },
  };
}

function getJson(port: number, path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

function alive(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An exited child not yet reaped by its parent is a zombie: it no longer runs.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const portOf = (address: string) => Number(address.split(':')[1]);

describe('ProcessRuntime', () => {
  let runtime: ProcessRuntime | null = null;
  let events: ProcessRuntimeEvent[] = [];
  let dir: string;
  const make = (opts: ProcessRuntimeOptions = {}) => {
    events = [];
    runtime = new ProcessRuntime({ drainMs: 2000, unreadyDelayMs: 100, onEvent: (e) => events.push(e), ...opts });
    return runtime;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'process-runtime-'));
  });
  afterEach(async () => {
    await runtime?.stopAll();
    runtime = null;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts each replica with its own ports, the mesh variables and no control-plane secrets', async () => {
    process.env.CANARY_ADMIN_TOKEN = 'secret-admin';
    process.env.CANARY_TOKEN = 'secret-client';
    try {
      const rt = make({ env: { EXTRA: 'for-all' } });
      await rt.reconcile([version('reviews', 'v2', { replicas: 2, env: { FROM_WORKLOAD: 'yes', SERVICE_VERSION: 'v2-custom' } })]);
      await waitFor('both replicas ready', () => rt.health('reviews', 'v2').reason === '2/2 instances ready');
      const insts = rt.instances('reviews', 'v2');
      expect(insts.map((i) => i.name)).toEqual(['reviews-v2-1', 'reviews-v2-2']);
      const listeners = rt.listeners();
      expect(listeners.map((l) => l.instance)).toEqual(['reviews-v2-1', 'reviews-v2-2']);
      const ports = new Set([...insts.map((i) => portOf(i.address)), ...listeners.map((l) => l.port)]);
      expect(ports.size).toBe(4);
      for (const [n, inst] of insts.entries()) {
        const env = await getJson(portOf(inst.address), '/env');
        expect(env).toMatchObject({
          PORT: String(portOf(inst.address)),
          MESH_OUTBOUND: `http://127.0.0.1:${inst.outboundPort}`,
          MESH_INSTANCE: `reviews-v2-${n + 1}`,
          SERVICE_NAME: 'reviews',
          SERVICE_VERSION: 'v2-custom',
          EXTRA: 'for-all',
          FROM_WORKLOAD: 'yes',
          CANARY_ADMIN_TOKEN: null,
          CANARY_TOKEN: null,
          pid: inst.pid,
        });
      }
      // Each endpoint and outbound listener names its process, so spans can say which one served or called.
      expect(rt.endpoints('reviews', 'v2')).toEqual(insts.map((i) => ({ address: i.address, instance: i.name, ready: true, pid: i.pid })));
      expect(listeners.map((l) => l.pid)).toEqual(insts.map((i) => i.pid));
    } finally {
      delete process.env.CANARY_ADMIN_TOKEN;
      delete process.env.CANARY_TOKEN;
    }
  });

  it('is not ready until the readiness path answers 2xx, and says so on change', async () => {
    const rt = make();
    let changes = 0;
    rt.onChange(() => changes++);
    await rt.reconcile([version('details', 'v1', { env: { FIXTURE_READY_AFTER_MS: '800' } })]);
    const t0 = Date.now();
    await waitFor('the process to run', () => rt.instances('details', 'v1')[0]?.pid);
    expect(rt.health('details', 'v1')).toMatchObject({ ready: false, failed: false });
    expect(rt.endpoints('details', 'v1')[0]?.ready).toBe(false);
    await waitFor('ready', () => rt.health('details', 'v1').ready);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    expect(rt.instances('details', 'v1')[0]).toMatchObject({ ready: true, state: 'ready', restarts: 0 });
    expect(changes).toBeGreaterThanOrEqual(2); // started, ready
    expect(events.map((e) => e.type)).toEqual(['started', 'ready']);
  });

  it('restarts a crashing instance with a growing back-off and counts the restarts', async () => {
    const rt = make();
    await rt.reconcile([version('ratings', 'v1', { env: { FIXTURE_CRASH_AFTER_MS: '300' } })]);
    await waitFor('three restarts', () => events.filter((e) => e.type === 'started').length >= 4, 15_000);
    expect(rt.instances('ratings', 'v1')[0]?.restarts).toBeGreaterThanOrEqual(3);
    const starts = events.filter((e) => e.type === 'started').map((e) => Date.parse(e.at));
    const exits = events.filter((e) => e.type === 'exited').map((e) => Date.parse(e.at));
    // Gaps between a crash and the next start: 200, 400, 800 ms.
    const gaps = exits.slice(0, 3).map((x, i) => starts[i + 1]! - x);
    expect(gaps[0]).toBeGreaterThanOrEqual(180);
    expect(gaps[1]).toBeGreaterThanOrEqual(380);
    expect(gaps[2]).toBeGreaterThanOrEqual(780);
    expect(rt.health('ratings', 'v1').failed).toBe(false);
    expect(events.some((e) => e.type === 'ready')).toBe(true);
    expect(rt.logs('ratings', 'v1').some((l) => l.stream === 'stderr' && l.line === 'ratings-v1-1: crashing on purpose')).toBe(true);
  });

  it('a restarted instance has a new pid in its endpoint and listener, and says so on change', async () => {
    const rt = make();
    await rt.reconcile([version('reviews', 'v1')]);
    await waitFor('ready', () => rt.health('reviews', 'v1').ready);
    const first = rt.instances('reviews', 'v1')[0]!.pid!;
    expect(rt.endpoints('reviews', 'v1')[0]?.pid).toBe(first);
    let changes = 0;
    rt.onChange(() => changes++);
    process.kill(first, 'SIGKILL');
    await waitFor('the restart', () => rt.endpoints('reviews', 'v1')[0]?.pid !== first && rt.health('reviews', 'v1').ready, 10_000);
    const second = rt.instances('reviews', 'v1')[0]!.pid!;
    expect(second).not.toBe(first);
    expect(alive(second)).toBe(true);
    expect(rt.endpoints('reviews', 'v1')[0]).toMatchObject({ pid: second, ready: true });
    expect(rt.listeners()[0]).toMatchObject({ instance: 'reviews-v1-1', pid: second });
    expect(changes).toBeGreaterThanOrEqual(2); // exited, started (and ready)
  });

  it('fails a command that exits at once, quoting its last stderr line', async () => {
    const rt = make();
    await rt.reconcile([version('broken', 'v1', { env: { FIXTURE_EXIT_AT_ONCE: '1' } })]);
    const health = await waitFor('failed', () => (rt.health('broken', 'v1').failed ? rt.health('broken', 'v1') : undefined), 15_000);
    expect(health.ready).toBe(false);
    expect(health.reason).toContain('exited 5 times in a row before becoming ready (last: exit code 3)');
    expect(health.reason).toContain('fatal: missing config file /etc/fixture.conf');
    expect(rt.instances('broken', 'v1')[0]).toMatchObject({ state: 'exited', ready: false, pid: null, restarts: 4 });
  });

  it('fails a command that does not exist, and one that never gets ready in time', async () => {
    const rt = make();
    await rt.reconcile([
      version('nocmd', 'v1', { command: '/nonexistent/bin/server-xyz' }),
      version('slow', 'v1', { env: { FIXTURE_NEVER_READY: '1' }, readiness: { path: '/health', timeoutSeconds: 1 } }),
    ]);
    await waitFor('nocmd failed', () => rt.health('nocmd', 'v1').failed);
    expect(rt.health('nocmd', 'v1').reason).toMatch(/cannot start "\/nonexistent\/bin\/server-xyz": .*ENOENT/);
    await waitFor('slow failed', () => rt.health('slow', 'v1').failed, 5000);
    expect(rt.health('slow', 'v1').reason).toMatch(/not ready within 1 s \(GET \/health on port \d+: answered 503\)/);
    await waitFor('slow process gone', () => rt.instances('slow', 'v1')[0]?.pid === null);
  });

  it('keeps a bounded number of log lines per instance', async () => {
    const rt = make({ logLines: 50 });
    await rt.reconcile([version('chatty', 'v1', { env: { FIXTURE_LOG_LINES: '500' } })]);
    await waitFor('ready', () => rt.health('chatty', 'v1').ready);
    await waitFor('all lines read', () => rt.logs('chatty', 'v1').at(-1)?.line === 'line 500');
    const lines = rt.logs('chatty', 'v1');
    expect(lines).toHaveLength(50);
    expect(lines[0]).toMatchObject({ line: 'line 451', stream: 'stdout', instance: 'chatty-v1-1' });
    expect(rt.logs('chatty', 'v1', { tail: 3 }).map((l) => l.line)).toEqual(['line 498', 'line 499', 'line 500']);
    expect(rt.logs('chatty', 'v1', { instance: 'chatty-v1-9' })).toEqual([]);
  });

  it('stops a version that leaves the desired set gracefully: unready first, then SIGTERM', async () => {
    const signals = join(dir, 'signals.txt');
    writeFileSync(signals, '');
    const rt = make();
    const env = { FIXTURE_SIGNAL_FILE: signals };
    await rt.reconcile([version('reviews', 'v1', { env }), version('reviews', 'v2', { env, replicas: 2 })]);
    await waitFor('all ready', () => rt.health('reviews', 'v1').ready && rt.health('reviews', 'v2').reason === '2/2 instances ready');
    const v2pids = rt.instances('reviews', 'v2').map((i) => i.pid);
    let changes = 0;
    rt.onChange(() => changes++);
    await rt.reconcile([version('reviews', 'v1', { env })]);
    // reconcile returns at once with v2 already unready (and said so), its processes still running and not
    // yet signalled: the route table drops them before they are asked to stop.
    expect(changes).toBeGreaterThan(0);
    expect(rt.endpoints('reviews', 'v2').map((e) => e.ready)).toEqual([false, false]);
    expect(v2pids.every((pid) => alive(pid))).toBe(true);
    expect(readFileSync(signals, 'utf8')).toBe('');
    await rt.idle();
    expect(readFileSync(signals, 'utf8').trim().split('\n').sort()).toEqual(['SIGTERM reviews-v2-1', 'SIGTERM reviews-v2-2']);
    for (const pid of v2pids) expect(alive(pid)).toBe(false);
    expect(rt.listeners().map((l) => l.instance)).toEqual(['reviews-v1-1']);
    expect(rt.health('reviews', 'v1').ready).toBe(true);
    expect(
      events
        .filter((e) => e.type === 'stopped')
        .map((e) => e.instance)
        .sort(),
    ).toEqual(['reviews-v2-1', 'reviews-v2-2']);
  });

  it('scales replicas, and replaces instances when the workload changes', async () => {
    const rt = make();
    await rt.reconcile([version('svc', 'v1', { replicas: 3 })]);
    await waitFor('3 ready', () => rt.health('svc', 'v1').reason === '3/3 instances ready');
    const before = rt.instances('svc', 'v1');
    await rt.reconcile([version('svc', 'v1', { replicas: 1 })]);
    await rt.idle();
    expect(rt.instances('svc', 'v1').map((i) => i.pid)).toEqual([before[0]!.pid]);
    expect(alive(before[2]!.pid)).toBe(false);
    await rt.reconcile([version('svc', 'v1', { replicas: 1, env: { EXTRA: 'changed' } })]);
    await rt.idle();
    await waitFor('the new instance ready', () => rt.health('svc', 'v1').ready);
    const env = await getJson(portOf(rt.instances('svc', 'v1')[0]!.address), '/env');
    expect(env.EXTRA).toBe('changed');
    expect(alive(before[0]!.pid)).toBe(false);
  });

  it('kills a process that ignores SIGTERM after the drain period, and its children with it', async () => {
    const rt = make({ drainMs: 300 });
    await rt.reconcile([version('stubborn', 'v1', { env: { FIXTURE_IGNORE_SIGTERM: '1', FIXTURE_GRANDCHILD: '1' } })]);
    await waitFor('ready', () => rt.health('stubborn', 'v1').ready);
    const inst = rt.instances('stubborn', 'v1')[0]!;
    const { grandchildPid } = await getJson(portOf(inst.address), '/env');
    expect(alive(grandchildPid as number)).toBe(true);
    const t0 = Date.now();
    await rt.reconcile([]);
    await rt.idle();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(alive(inst.pid)).toBe(false);
    await waitFor('grandchild gone', () => !alive(grandchildPid as number), 2000);
  });

  it('stopAll leaves no process behind', async () => {
    const rt = make();
    await rt.reconcile([
      version('a', 'v1', { replicas: 2, env: { FIXTURE_GRANDCHILD: '1' } }),
      version('b', 'v1', { env: { FIXTURE_CRASH_AFTER_MS: '200' } }),
    ]);
    await waitFor('a ready', () => rt.health('a', 'v1').reason === '2/2 instances ready');
    const pids: number[] = [];
    for (const i of rt.instances('a', 'v1')) {
      pids.push(i.pid!, (await getJson(portOf(i.address), '/env')).grandchildPid as number);
    }
    await rt.stopAll();
    for (const pid of pids) await waitFor(`pid ${pid} gone`, () => !alive(pid), 2000);
    expect(rt.listeners()).toEqual([]);
    await expect(rt.reconcile([version('a', 'v1')])).rejects.toThrow(/after stopAll/);
  });

  it('refuses workloads that are not processes, naming the version', async () => {
    const rt = make();
    const desired: DesiredVersion = {
      service: 'x',
      version: { name: 'v1', labels: {}, workload: { kind: 'endpoints', addresses: ['127.0.0.1:1'] } },
    };
    await expect(rt.reconcile([desired])).rejects.toThrow('x/v1: workload.kind must be "process" for the process runtime, got "endpoints"');
  });
  it("starts each instance in a working directory of its own, outside the data directory and not the control plane's", async () => {
    const dataDir = join(dir, 'data-cwd');
    const rt = make({ dataDir });
    await rt.reconcile([version('cwd', 'v1', { replicas: 2 })]);
    await waitFor('ready', () => rt.health('cwd', 'v1').ready && rt.instances('cwd', 'v1').every((i) => i.ready));
    const seen = await Promise.all(rt.instances('cwd', 'v1').map((i) => getJson(portOf(i.address), '/files')));
    const cwds = seen.map((s) => s.cwd as string);
    expect(new Set(cwds).size).toBe(2);
    for (const [n, cwd] of cwds.entries()) {
      expect(cwd).not.toBe(process.cwd());
      expect(relative(dataDir, cwd).startsWith('..')).toBe(true);
      expect(basename(cwd).startsWith(`cwd-v1-${n + 1}-`)).toBe(true);
      expect(seen[n]!.writeCwd).toBe('ok');
    }
    await rt.stopAll();
    for (const cwd of cwds) expect(existsSync(cwd)).toBe(false); // nothing left behind in the tmp dir
  });

  it('as root, runs workloads as an unprivileged user that cannot read the admin token or the database', async (ctx) => {
    if (process.getuid?.() !== 0) {
      console.warn(`run-as test skipped: the tests run as uid ${process.getuid?.()}, and only root can switch users`);
      ctx.skip();
    }
    // A data directory as the control plane keeps it: 0700, admin-token and canary.db 0600, in a directory
    // anyone may enter (as ./.canary in a checkout), so that only the data directory's own modes protect it.
    chmodSync(dir, 0o755);
    const dataDir = join(dir, 'data-run-as');
    const store = new SqliteStore({ dataDir });
    const token = loadAdminToken(dataDir);
    store.close();
    const rt = make({ dataDir, runAs: 'nobody' });
    const tryRead = [token.file!, store.file, join(dataDir, 'process-groups.json')];
    await rt.reconcile([version('jail', 'v1', { env: { FIXTURE_TRY_READ: tryRead.join(',') } })]);
    await waitFor('ready', () => rt.health('jail', 'v1').ready);
    const seen = await getJson(portOf(rt.instances('jail', 'v1')[0]!.address), '/files');
    expect(seen).toMatchObject({ uid: 65534, gid: 65534, groups: [65534], writeCwd: 'ok' });
    expect(seen.reads).toEqual(Object.fromEntries(tryRead.map((f) => [f, 'EACCES'])));
    expect(seen.cwd).not.toBe(process.cwd());
    expect(seen.home).toBe(seen.cwd);
    // Stopping still reaches it, though it runs as another user.
    await rt.stopAll();
    expect(rt.instances('jail', 'v1')).toEqual([]);
  });

  it('refuses a run-as user that does not exist, saying which', () => {
    if (process.getuid?.() !== 0) return; // without root the option has no effect, by design
    expect(() => make({ runAs: 'no-such-user-xyz' })).toThrow(/runAs: no user "no-such-user-xyz"/);
  });
});

/** Compiles the runtime's sources to plain ESM in a temp dir, so a separate node process can load them. */
function transpileRuntime(out: string): string {
  const src = join(here, '..');
  const files = ['workloads/process-runtime.ts', 'core/errors.ts', 'core/names.ts'];
  for (const f of ['free-port', 'group-ledger', 'orphan-watchdog', 'process-instance', 'process-groups', 'log-ring', 'run-as'])
    files.push(`workloads/process/${f}.ts`);
  for (const f of files) {
    const js = ts.transpileModule(readFileSync(join(src, f), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const target = join(out, f.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, js);
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  return pathToFileURL(join(out, 'workloads', 'process-runtime.js')).href;
}

describe('no orphans when the supervisor itself ends', () => {
  let dir: string;
  let runtimeUrl: string;
  const parents: ChildProcess[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'process-orphans-'));
    runtimeUrl = transpileRuntime(join(dir, 'build'));
    expect(relative(dir, fileURLToPath(runtimeUrl)).startsWith('build')).toBe(true);
  });
  afterAll(() => {
    for (const p of parents) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a supervisor process; resolves with its instances' and their children's pids once they are ready. */
  async function startParent(dataDir: string, mode: 'handlers' | 'no-handlers' | 'handlers-and-listener', orphanGraceMs?: number) {
    mkdirSync(dataDir, { recursive: true });
    const args = [join(fixtures, 'supervisor-parent.mjs'), runtimeUrl, dataDir, mode];
    if (orphanGraceMs !== undefined) args.push(String(orphanGraceMs));
    const parent = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    parents.push(parent);
    let out = '';
    parent.stdout!.setEncoding('utf8');
    const ready = await new Promise<{ pid: number; port: number }[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`supervisor not ready: ${out}`)), 20_000);
      parent.stdout!.on('data', (c: string) => {
        out += c;
        const m = /READY (.*)\n/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(JSON.parse(m[1]!));
        }
      });
    });
    const pids: number[] = [];
    for (const r of ready) pids.push(r.pid, (await getJson(r.port, '/env')).grandchildPid as number);
    const exited = new Promise<void>((r) => parent.once('exit', () => r()));
    return { parent, pids, exited, output: () => out };
  }

  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`${sig} to the supervisor ends every instance and its children`, async () => {
      const { parent, pids, exited } = await startParent(join(dir, `data-${sig}`), 'handlers');
      expect(pids).toHaveLength(4);
      for (const pid of pids) expect(alive(pid)).toBe(true);
      parent.kill(sig);
      await exited;
      expect(parent.signalCode).toBe(sig); // the handler re-raised the signal: the process ended by it
      for (const pid of pids) await waitFor(`pid ${pid} gone`, () => !alive(pid), 3000);
    });
  }

  it('when the supervisor has its own SIGTERM listener (as `canary up` does), instances end and none restarts', async () => {
    const { parent, pids, exited, output } = await startParent(join(dir, 'data-listener'), 'handlers-and-listener');
    parent.kill('SIGTERM');
    // Killed synchronously by the handler, while the supervisor itself keeps running a while.
    for (const pid of pids) await waitFor(`pid ${pid} gone`, () => !alive(pid), 3000);
    await exited;
    expect(parent.exitCode).toBe(0);
    const after = JSON.parse(/AFTER (.*)\n/.exec(output())![1]!) as { pid: number | null; state: string }[];
    expect(after.map((i) => [i.pid, i.state])).toEqual([
      [null, 'exited'],
      [null, 'exited'],
    ]);
  });

  it('after a SIGKILL of the supervisor, the next start with the same data dir kills what was left', async () => {
    const dataDir = join(dir, 'data-kill');
    const { parent, pids, exited } = await startParent(dataDir, 'no-handlers');
    parent.kill('SIGKILL');
    await exited;
    for (const pid of pids) expect(alive(pid)).toBe(true);
    const events: ProcessRuntimeEvent[] = [];
    const rt = new ProcessRuntime({ dataDir, onEvent: (e) => events.push(e) });
    try {
      for (const pid of pids) await waitFor(`pid ${pid} gone`, () => !alive(pid), 3000);
      expect(events[0]?.message).toMatch(/killed 2 instance\(s\) left running by a previous run: orphan-v1-1, orphan-v1-2/);
    } finally {
      await rt.stopAll();
    }
  });

  it('after a SIGKILL of the supervisor and no new start, the instances end by themselves once the orphan grace is over', async () => {
    const dataDir = join(dir, 'data-orphan-grace');
    const { parent, pids, exited } = await startParent(dataDir, 'no-handlers', 1500);
    const ledger = JSON.parse(readFileSync(join(dataDir, 'process-groups.json'), 'utf8')) as { kind: string; pgid: number }[];
    const watchdog = ledger.find((e) => e.kind === 'watchdog')!.pgid;
    parent.kill('SIGKILL');
    const t0 = Date.now();
    await exited;
    // Within the grace they still serve (a successor could take over without an outage)...
    for (const pid of pids) expect(alive(pid)).toBe(true);
    // ...then the watchdog ends them, grandchildren included, and itself.
    for (const pid of [...pids, watchdog]) await waitFor(`pid ${pid} gone`, () => !alive(pid), 8000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
  });

  it('never signals a process that merely got a recorded pid (start time differs)', async () => {
    const dataDir = join(dir, 'data-recycled');
    mkdirSync(dataDir, { recursive: true });
    const stranger = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    try {
      writeFileSync(
        join(dataDir, 'process-groups.json'),
        JSON.stringify([{ pgid: stranger.pid, name: 'orphan-v1-1', kind: 'instance', started: 'another-boot:1', run: 'old' }]),
      );
      const rt = new ProcessRuntime({ dataDir });
      await rt.stopAll();
      expect(alive(stranger.pid)).toBe(true);
    } finally {
      stranger.kill('SIGKILL');
    }
  });
});
