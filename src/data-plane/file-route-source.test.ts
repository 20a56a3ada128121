import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InputError, type RouteTable } from '../core/index.js';
import { ensureBuilt, repoRoot } from '../../test/support/dist.js';
import { FileRouteSource } from './file-route-source.js';
import { compileRouteFile } from '../route-file/compile-route-file.js';
import { parseStaticRouteFile, readStaticRouteFile } from '../route-file/static-route-file.js';
import { MeshProxy } from './mesh-proxy.js';
import { silentProxyLogger } from './proxy-logger.js';
import { call, startUpstream, type TestUpstream } from '../../test/support/test-upstreams.js';

const dir = mkdtempSync(join(tmpdir(), 'canary-routes-'));
let v1: TestUpstream;
let v2: TestUpstream;

beforeAll(async () => {
  [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
});
afterAll(async () => {
  await Promise.all([v1.close(), v2.close()]);
  rmSync(dir, { recursive: true, force: true });
});

function fileWith(routes: string, a = v1.address, b = v2.address): string {
  return `services:
  - name: reviews
    port: 9080
    ingress: { paths: ["/"] }
    versions:
      - { name: v1, workload: { kind: endpoints, addresses: ["${a}"] } }
      - { name: v2, workload: { kind: endpoints, addresses: ["${b}"] } }
    routes:
${routes}
`;
}

function problemOf(text: string): string {
  try {
    parseStaticRouteFile(text);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected the file to be refused');
}

describe('parseStaticRouteFile', () => {
  it('compiles the file of DESIGN.md into a route table', () => {
    const table = parseStaticRouteFile(fileWith('      - route: [ { version: v1, weight: 50 }, { version: v2, weight: 50 } ]'));
    expect(table.revision).toBe(1);
    expect(table.services[0]).toMatchObject({
      name: 'reviews',
      ingressPaths: ['/'],
      versions: [
        { name: 'v1', endpoints: [{ address: v1.address, ready: true }] },
        { name: 'v2', endpoints: [{ address: v2.address, ready: true }] },
      ],
      rules: [
        {
          route: [
            { version: 'v1', weight: 50 },
            { version: 'v2', weight: 50 },
          ],
        },
      ],
    });
  });

  it('refuses weights that do not sum to 100, naming the field', () => {
    expect(problemOf(fileWith('      - route: [ { version: v1, weight: 50 }, { version: v2, weight: 60 } ]'))).toContain(
      'services.0.routes.0.route: weights must sum to 100, got 110',
    );
  });

  it('refuses a route to a version the service does not list', () => {
    expect(problemOf(fileWith('      - route: [ { version: v3, weight: 100 } ]'))).toContain(
      'services.0.routes.0.route.0.version: service reviews has no version "v3"',
    );
  });

  it('refuses workloads that are not endpoints, saying what to write', () => {
    const text = `services:
  - name: reviews
    versions:
      - { name: v1, workload: { kind: process, command: node } }
`;
    expect(problemOf(text)).toContain('services.0.versions.0.workload.kind: the static file serves running endpoints only');
  });

  it('refuses invalid RE2 regexes and broken YAML', () => {
    expect(problemOf(fileWith('      - { match: [ { uri: { regex: "(?=x)" } } ], route: [ { version: v1, weight: 100 } ] }'))).toContain(
      'services.0.routes.0.match.0.uri.regex: not a valid RE2 regex',
    );
    expect(problemOf('services: [ { name: reviews')).toContain('not valid YAML');
  });
});

describe("the static file's proxy: block", () => {
  const route = '      - route: [ { version: v1, weight: 100 } ]';

  it('gives the limits it names, and none without it', () => {
    const text = `${fileWith(route)}proxy:\n  headerTimeoutMs: 2000\n  maxConnections: 50\n`;
    expect(readStaticRouteFile(text).proxy).toEqual({ headerTimeoutMs: 2000, maxConnections: 50 });
    expect(readStaticRouteFile(fileWith(route)).proxy).toEqual({});
  });

  it('refuses a limit out of range or unknown, naming the key and saying what is allowed', () => {
    expect(problemOf(`${fileWith(route)}proxy:\n  headerTimeoutMs: -5\n`)).toBe(
      'proxy.headerTimeoutMs: must be a whole number of ms from 1 to 300000, got -5',
    );
    expect(problemOf(`${fileWith(route)}proxy:\n  maxConnections: "many"\n`)).toContain(
      'proxy.maxConnections: must be a whole number of connections from 1 to 1000000, got "many"',
    );
    expect(problemOf(`${fileWith(route)}proxy:\n  headerTimeout: 5\n`)).toMatch(
      /^proxy\.headerTimeout: is not a proxy limit; the limits are headerTimeoutMs, idleTimeoutMs, /,
    );
  });
});

describe('FileRouteSource', () => {
  let proxy: MeshProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
  });

  it('serves the file, and on reload applies a valid edit but keeps the last table on an invalid one', async () => {
    const path = join(dir, 'routes.yaml');
    writeFileSync(path, fileWith('      - route: [ { version: v1, weight: 100 } ]'));
    proxy = new MeshProxy({ logger: silentProxyLogger });
    const port = (await proxy.listenIngress('127.0.0.1', 0)).port;
    const errors: string[] = [];
    const source = new FileRouteSource(path, {
      compile: compileRouteFile,
      watch: false,
      logger: { ...silentProxyLogger, error: (m) => errors.push(m) },
    });
    await source.start((t) => proxy!.applyRouteTable(t));
    expect((await call(port, { url: '/anything' })).body).toBe('v1');

    writeFileSync(path, fileWith('      - route: [ { version: v2, weight: 100 } ]'));
    expect(await source.reload()).toBe(true);
    expect(proxy.revision).toBe(2);
    expect((await call(port, { url: '/anything' })).body).toBe('v2');

    writeFileSync(path, fileWith('      - route: [ { version: v1, weight: 10 } ]'));
    expect(await source.reload()).toBe(false);
    expect(errors.join('\n')).toContain(`${path}: services.0.routes.0.route: weights must sum to 100, got 10 (keeping revision 2)`);
    expect((await call(port, { url: '/anything' })).body).toBe('v2');
    await source.close();
  });

  it('applies reloads in the order they were asked, even when an older edit compiles slower (compiled process)', async () => {
    // The compiled module compiles each edit in a child process: a big edit takes longer than a small one after it.
    ensureBuilt();
    const compiled = (await import(
      join(repoRoot, 'dist', 'data-plane', 'file-route-source.js')
    )) as typeof import('./file-route-source.js');
    const compiler = (await import(
      join(repoRoot, 'dist', 'route-file', 'compile-route-file.js')
    )) as typeof import('../route-file/compile-route-file.js');
    const path = join(dir, 'ordered.json');
    const reviews = (version: string) => ({
      name: 'reviews',
      port: 9080,
      versions: [
        { name: 'v1', workload: { kind: 'endpoints', addresses: [v1.address] } },
        { name: 'v2', workload: { kind: 'endpoints', addresses: [v2.address] } },
      ],
      routes: [{ route: [{ version, weight: 100 }] }],
    });
    const fillers = Array.from({ length: 3000 }, (_, i) => ({
      name: `filler-${i}`,
      port: 9080,
      versions: [{ name: 'v1', workload: { kind: 'endpoints', addresses: [v1.address] } }],
      routes: [
        { match: [{ uri: { regex: `/api/v[0-9]+/filler-${i}/.*` } }], route: [{ version: 'v1', weight: 100 }] },
        { route: [{ version: 'v1', weight: 100 }] },
      ],
    }));
    writeFileSync(path, JSON.stringify({ services: [reviews('v1')] }));
    const applied: RouteTable[] = [];
    const source = new compiled.FileRouteSource(path, { compile: compiler.compileRouteFile, watch: false, logger: silentProxyLogger });
    await source.start(async (t) => {
      applied.push(t);
    });
    writeFileSync(path, JSON.stringify({ services: [reviews('v1'), ...fillers] }));
    const big = source.reload();
    await new Promise((r) => setTimeout(r, 20)); // the big edit has been read
    writeFileSync(path, JSON.stringify({ services: [reviews('v2')] }));
    const small = source.reload();
    expect(await Promise.all([big, small])).toEqual([true, true]);
    const last = applied.at(-1)!;
    expect(last.services.find((svc) => svc.name === 'reviews')!.rules[0]!.route[0]!.version).toBe('v2');
    expect(last.services).toHaveLength(1);
    expect(applied.map((t) => t.revision)).toEqual([1, 2, 3]);
    await source.close();
  });

  it('names the file when it cannot be read', async () => {
    const source = new FileRouteSource(join(dir, 'missing.yaml'), { compile: compileRouteFile, watch: false });
    await expect(source.start(async () => undefined)).rejects.toThrow(/missing\.yaml: cannot read the route file/);
  });
});
