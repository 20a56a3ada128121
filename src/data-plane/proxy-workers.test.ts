import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWorkers } from './proxy-workers.js';
import { call, startUpstream, type TestUpstream } from '../../test/support/test-upstreams.js';
import { ensureBuilt } from '../../test/support/dist.js';
import { waitFor } from '../../test/support/wait-for.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const bin = join(root, 'bin', 'canary.js');
const dir = mkdtempSync(join(tmpdir(), 'canary-workers-'));
const children = new Set<ChildProcess>();
let v1: TestUpstream;
let v2: TestUpstream;

function routesFile(name: string, v2Version = 'v2'): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `services:
  - name: reviews
    ingress: { paths: ["/"] }
    versions:
      - { name: v1, workload: { kind: endpoints, addresses: ["${v1.address}"] } }
      - { name: v2, workload: { kind: endpoints, addresses: ["${v2.address}"] } }
    routes:
      - route: [ { version: v1, weight: 50 }, { version: ${v2Version}, weight: 50 } ]
`,
  );
  return path;
}

function start(args: string[]): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, 'proxy', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return { child, output: () => out, exit: new Promise((r) => child.on('exit', (code) => r(code))) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  ensureBuilt(); // the workers run from dist/: built when missing or stale, never skipped
  v1 = await startUpstream('v1');
  v2 = await startUpstream('v2');
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await v1.close();
  await v2.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('canary proxy --workers', () => {
  it('parses the flag and says what to write instead', () => {
    expect(parseWorkers('3')).toBe(3);
    expect(parseWorkers('auto')).toBe('auto');
    expect(() => parseWorkers('0')).toThrow('--workers: must be a whole number 1..256 or "auto", got "0"');
    expect(() => parseWorkers('two')).toThrow(/got "two"/);
  });

  it('serves one port from two worker processes, each splitting exactly, and SIGTERM stops them all', async () => {
    const p = start(['--config', routesFile('split.yaml'), '--listen', '127.0.0.1:0', '--workers', '2']);
    const m = await waitFor('the primary\'s line "2 workers serving"', () => /2 workers serving \(pids (\d+), (\d+)\)/.exec(p.output()));
    const pids = [Number(m[1]), Number(m[2])];
    const port = Number((await waitFor('the proxy listening', () => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(p.output())))[1]);
    // Fresh connections are handed out round-robin, so both workers answer; 40 of them split 20/20.
    const counts: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      const r = await call(port, { url: '/x', agent: false });
      expect(r.status).toBe(200);
      counts[r.body] = (counts[r.body] ?? 0) + 1;
    }
    expect(counts).toEqual({ v1: 20, v2: 20 });
    expect(pids.every(alive)).toBe(true);

    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    expect(pids.some(alive)).toBe(false);
    expect(p.output()).toContain('stopped');
  });

  it("exits 1, with the worker's reason, when the workers cannot start", async () => {
    const p = start(['--config', routesFile('bad.yaml', 'v3'), '--listen', '127.0.0.1:0', '--workers', '2']);
    expect(await p.exit).toBe(1);
    expect(p.output()).toContain('services.0.routes.0.route.1.version: service reviews has no version "v3"');
  });
});
