import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileRouteSource } from './file-route-source.js';
import { compileRouteFile } from '../route-file/compile-route-file.js';
import { type ProxyOptions, type RunningProxy, runProxy } from './run-proxy.js';
import { silentProxyLogger } from './proxy-logger.js';
import { call, startUpstream, type TestUpstream } from '../../test/support/test-upstreams.js';
import { ensureBuilt } from '../../test/support/dist.js';
import { waitFor } from '../../test/support/wait-for.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const fixtures = join(root, 'test', 'support', 'fixtures', 'data-plane');
const fixture = join(fixtures, 'run-proxy.mjs');
const dir = mkdtempSync(join(tmpdir(), 'canary-run-proxy-'));
const children = new Set<ChildProcess>();
let v1: TestUpstream;
let v2: TestUpstream;

function routesFile(name: string, routes: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `services:
  - name: reviews
    port: 9080
    ingress: { paths: ["/"] }
    versions:
      - { name: v1, workload: { kind: endpoints, addresses: ["${v1.address}"] } }
      - { name: v2, workload: { kind: endpoints, addresses: ["${v2.address}"] } }
    routes:
${routes}
`,
  );
  return path;
}

interface Started {
  child: ChildProcess;
  port: number;
  output: () => string;
  exit: Promise<number | null>;
}

/** Spawns a proxy process and waits for its "listening on" line. */
function spawnProxy(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start:\n${out}`)), 15_000);
    const check = () => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePort({ child, port: Number(m[1]), output: () => out, exit });
      }
    };
    child.stdout!.on('data', check);
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`proxy exited with ${code}:\n${out}`));
    });
  });
}

beforeAll(async () => {
  ensureBuilt();
  v1 = await startUpstream('v1');
  v2 = await startUpstream('v2');
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await v1.close();
  await v2.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('canary proxy as a process', () => {
  it('routes by the static file, and on SIGTERM lets a request in flight finish before exiting', async () => {
    const config = routesFile('split.yaml', '      - route: [ { version: v1, weight: 50 }, { version: v2, weight: 50 } ]');
    const p = await spawnProxy([fixture, 'proxy', '--config', config, '--listen', '127.0.0.1:0']);
    expect(p.output()).toContain(`routes from file ${config}, revision 1`);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const r = await call(p.port, { url: '/reviews/1' });
      counts[r.body] = (counts[r.body] ?? 0) + 1;
    }
    expect(counts).toEqual({ v1: 50, v2: 50 });

    const inFlight = call(p.port, { url: '/slow?ms=400', agent: false });
    // SIGTERM once the request is at its upstream: in flight, not merely sent.
    await waitFor('the slow request at an upstream', () => [...v1.requests, ...v2.requests].some((r) => r.url === '/slow?ms=400'));
    p.child.kill('SIGTERM');
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(await p.exit).toBe(0);
    expect(p.output()).toContain('SIGTERM: closing listeners');
  });

  it('exits with a clear message when the file is invalid', async () => {
    const config = routesFile('bad.yaml', '      - route: [ { version: v1, weight: 50 }, { version: v3, weight: 50 } ]');
    const child = spawn(process.execPath, [fixture, 'proxy', '--config', config, '--listen', '127.0.0.1:0'], { cwd: root });
    children.add(child);
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(1);
    expect(err).toContain(`${config}: services.0.routes.0.route.1.version: service reviews has no version "v3"`);
  });

  it('keeps the proxy process lean: zod, yaml and the client never load in it', async () => {
    // What a proxy loads is most of its memory (docs/adr/0006-lean-proxy-process.md): the file is compiled in a child.
    const config = routesFile('lean.yaml', '      - route: [ { version: v2, weight: 100 } ]');
    const hooks = join(fixtures, 'module-log.mjs');
    const p = await spawnProxy(['--import', hooks, join(root, 'bin', 'canary.js'), 'proxy', '--config', config, '--listen', '127.0.0.1:0']);
    expect((await call(p.port)).body).toBe('v2');
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    const modules = [...p.output().matchAll(/^MODULE (\S+)$/gm)].map((m) => m[1]!);
    expect(modules.some((m) => m.includes('/dist/data-plane/mesh-proxy.js'))).toBe(true);
    expect(modules.filter((m) => /node_modules\/(zod|yaml)\/|\/dist\/(cli\/api-client|cli\/output|core\/model)\.js/.test(m))).toEqual([]);
  });

  it('runs as `node bin/canary.js proxy --config FILE --listen HOST:PORT`', async () => {
    const config = routesFile('cli.yaml', '      - route: [ { version: v2, weight: 100 } ]');
    const p = await spawnProxy([join(root, 'bin', 'canary.js'), 'proxy', '--config', config, '--listen', '127.0.0.1:0']);
    expect((await call(p.port)).body).toBe('v2');
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
  });
});

/** Sends an unfinished head to the proxy; resolves with what came back once the proxy closed (or after `ms`). */
function unfinishedHead(port: number, ms: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET /reviews/1 HTTP/1.1\r\nhost: reviews\r\n'));
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
  });
}

/** runProxy on a static file in this process: quiet, no signal handlers, no file watch. */
function runOnFile(config: string, more: Partial<ProxyOptions> = {}): Promise<RunningProxy> {
  const options: ProxyOptions = { compileRouteFile, config, listen: '127.0.0.1:0', logger: silentProxyLogger, handleSignals: false };
  return runProxy({ ...options, watch: false, ...more });
}

describe('limits', () => {
  it('takes them as flags of `canary proxy` (a head not finished in --header-timeout gets 408)', async () => {
    const config = routesFile('limits-flag.yaml', '      - route: [ { version: v1, weight: 100 } ]');
    const args = [join(root, 'bin', 'canary.js'), 'proxy', '--config', config, '--listen', '127.0.0.1:0', '--workers', '1'];
    const p = await spawnProxy([...args, '--header-timeout', '300']);
    const cut = await unfinishedHead(p.port, 5000);
    expect(cut.closed).toBe(true);
    expect(cut.text).toMatch(/^HTTP\/1\.1 408 /);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
  });

  it("takes them from the file's proxy: block, the flags winning, and follows an edit of the block", async () => {
    const path = routesFile('limits-file.yaml', '      - route: [ { version: v1, weight: 100 } ]');
    const base = readFileSync(path, 'utf8');
    writeFileSync(path, `${base}proxy:\n  headerTimeoutMs: 300\n`);
    const fromFile = await runOnFile(path);
    try {
      expect((await unfinishedHead(fromFile.address.port, 5000)).text).toMatch(/^HTTP\/1\.1 408 /);
      // An edit raises it: a head unfinished for a second is no longer cut.
      writeFileSync(path, `${base}proxy:\n  headerTimeoutMs: 20000\n`);
      expect(await (fromFile.source as FileRouteSource).reload()).toBe(true);
      expect((await unfinishedHead(fromFile.address.port, 1000)).closed).toBe(false);
      // An invalid block changes nothing.
      writeFileSync(path, `${base}proxy:\n  headerTimeoutMs: 0\n`);
      expect(await (fromFile.source as FileRouteSource).reload()).toBe(false);
      expect((await unfinishedHead(fromFile.address.port, 1000)).closed).toBe(false);
    } finally {
      await fromFile.close();
    }
    writeFileSync(path, `${base}proxy:\n  headerTimeoutMs: 300\n`);
    const flagWins = await runOnFile(path, { headerTimeoutMs: 20_000 });
    try {
      expect((await unfinishedHead(flagWins.address.port, 1000)).closed).toBe(false);
    } finally {
      await flagWins.close();
    }
  });
});

describe('runProxy options', () => {
  it('refuses neither or both route sources, and a control plane without a token', async () => {
    await expect(runProxy({ listen: '127.0.0.1:0', handleSignals: false })).rejects.toThrow(/give either --config FILE/);
    const saved = process.env.CANARY_TOKEN;
    delete process.env.CANARY_TOKEN;
    try {
      await expect(runProxy({ controlPlane: 'http://127.0.0.1:1', handleSignals: false })).rejects.toThrow(
        /token: the control plane needs a token/,
      );
    } finally {
      if (saved !== undefined) process.env.CANARY_TOKEN = saved;
    }
    await expect(runProxy({ config: 'x.yaml', listen: 'localhost', handleSignals: false })).rejects.toThrow(/listen: must be HOST:PORT/);
  });

  it('runs in-process and closes cleanly', async () => {
    const config = routesFile('inproc.yaml', '      - route: [ { version: v1, weight: 100 } ]');
    const running = await runOnFile(config);
    try {
      expect((await call(running.address.port)).body).toBe('v1');
    } finally {
      await running.close();
    }
  });
});
