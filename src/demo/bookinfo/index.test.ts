import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ServiceSpec } from '../../core/model.js';
import { ProcessRuntime } from '../../workloads/process-runtime.js';
import { bookinfoServices } from './index.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Compiles the demo's sources to plain ESM under `<out>/demo/bookinfo`, as `tsc` lays them out in dist/. */
function transpileDemo(out: string): void {
  const target = join(out, 'demo', 'bookinfo');
  mkdirSync(target, { recursive: true });
  for (const f of readdirSync(here)) {
    if (!f.endsWith('.ts') || f.endsWith('.test.ts')) continue;
    const js = ts.transpileModule(readFileSync(join(here, f), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(join(target, f.replace(/\.ts$/, '.js')), js);
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function http(method: string, port: number, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Seen {
  service: string;
  path: string;
  headers: IncomingHttpHeaders;
}

/**
 * A stand-in for the mesh proxy's outbound listener: routes by the first label of Host to a port the test
 * chose, records what each service was sent, and answers 503 for services marked down.
 */
class TestMesh {
  readonly seen: Seen[] = [];
  readonly routes = new Map<string, number>();
  readonly down = new Set<string>();
  private server: Server | null = null;

  async listen(port = 0): Promise<number> {
    this.server = createServer((req, res) => {
      const service = (req.headers.host ?? '').split(/[.:]/)[0] ?? '';
      this.seen.push({ service, path: req.url ?? '', headers: req.headers });
      const target = this.routes.get(service);
      if (target === undefined || this.down.has(service)) {
        res.writeHead(503).end(`no healthy upstream for ${service}`);
        return;
      }
      const up = request(
        { host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers, agent: false },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.writeHead(502).end('upstream failed'));
      req.pipe(up);
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

describe('Bookinfo demo services', () => {
  let dist: string;
  const mesh = new TestMesh();
  let meshPort: number;
  const children: ChildProcess[] = [];
  const ports: Record<string, number> = {};

  /** Starts one service as a real process on an ephemeral port; resolves with its port once it listens. */
  async function startService(file: string, env: Record<string, string>): Promise<number> {
    const child = spawn(process.execPath, [join(dist, 'demo', 'bookinfo', `${file}.js`)], {
      env: { ...process.env, PORT: '0', MESH_OUTBOUND: `http://127.0.0.1:${meshPort}`, ...env },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(child);
    let out = '';
    child.stdout!.setEncoding('utf8');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${file} did not start: ${out}`)), 10_000);
      child.stdout!.on('data', (c: string) => {
        out += c;
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code) => reject(new Error(`${file} exited with ${code}: ${out}`)));
    });
  }

  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), 'bookinfo-'));
    transpileDemo(dist);
    meshPort = await mesh.listen();
    const specs: [string, string, Record<string, string>][] = [
      ['productpage', 'productpage', { MESH_INSTANCE: 'productpage-v1-1' }],
      ['details', 'details', { MESH_INSTANCE: 'details-v1-1' }],
      ['ratings', 'ratings', { MESH_INSTANCE: 'ratings-v1-1' }],
      ['reviews-v1', 'reviews', { MESH_INSTANCE: 'reviews-v1-1', SERVICE_VERSION: 'v1' }],
      ['reviews-v2', 'reviews', { MESH_INSTANCE: 'reviews-v2-1', SERVICE_VERSION: 'v2' }],
      ['reviews-v3', 'reviews', { MESH_INSTANCE: 'reviews-v3-1', SERVICE_VERSION: 'v3' }],
      ['details-faulty', 'details', { MESH_INSTANCE: 'details-v9-1', FAULT_RATE: '1' }],
    ];
    await Promise.all(specs.map(async ([key, file, env]) => (ports[key] = await startService(file, env))));
    mesh.routes.set('details', ports.details!);
    mesh.routes.set('ratings', ports.ratings!);
  });

  beforeEach(() => {
    mesh.seen.length = 0;
    mesh.down.clear();
    mesh.routes.set('reviews', ports['reviews-v1']!);
  });

  afterAll(async () => {
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null || c.signalCode !== null
          ? undefined
          : new Promise<void>((r) => {
              c.once('exit', () => r());
              c.kill('SIGTERM');
            }),
      ),
    );
    await mesh.close();
    rmSync(dist, { recursive: true, force: true });
  });

  const page = (headers: Record<string, string> = {}) => http('GET', ports.productpage!, '/productpage?u=normal', headers);

  it('shows the book, its details and reviews v1 without stars, naming the reviews instance', async () => {
    const r = await page();
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/text\/html/);
    expect(r.body).toContain('<h1>The Comedy of Errors</h1>');
    expect(r.body).toContain('<dt>Type:</dt><dd>paperback</dd>');
    expect(r.body).toContain('<dt>ISBN-10:</dt><dd>1234567890</dd>');
    expect(r.body.match(/data-test="review"/g)).toHaveLength(2);
    expect(r.body).toContain('An extremely entertaining play by Shakespeare.');
    expect(r.body).toMatch(/Reviews served by: reviews-v1-1</);
    expect(r.body).not.toContain('data-stars');
    expect(r.body).toContain('data-test="login-form"');
    // productpage called details and reviews through the mesh by Host; v1 never calls ratings.
    expect(mesh.seen.map((s) => `${s.service} ${s.path}`).sort()).toEqual(['details /details/0', 'reviews /reviews/0']);
    const css = await http('GET', ports.productpage!, '/static/bookinfo.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toMatch(/text\/css/);
  });

  it('shows black stars from reviews v2 and red stars from v3, with the ratings', async () => {
    mesh.routes.set('reviews', ports['reviews-v2']!);
    const v2 = (await page()).body;
    expect(v2).toMatch(/Reviews served by: reviews-v2-1</);
    expect(v2.match(/data-stars="black"/g)).toHaveLength(2);
    expect(v2).toContain('aria-label="5 of 5 stars" style="color:#1a1a1a">★★★★★<');
    expect(v2).toContain('aria-label="4 of 5 stars" style="color:#1a1a1a">★★★★☆<');
    mesh.routes.set('reviews', ports['reviews-v3']!);
    const v3 = (await page()).body;
    expect(v3).toMatch(/Reviews served by: reviews-v3-1</);
    expect(v3.match(/data-stars="red"/g)).toHaveLength(2);
    expect(v3).not.toContain('data-stars="black"');
    expect(mesh.seen.filter((s) => s.service === 'ratings').map((s) => s.path)).toEqual(['/ratings/0', '/ratings/0']);
  });

  it('signs in with a cookie and then sends end-user downstream, down to ratings; signs out', async () => {
    const login = await http(
      'POST',
      ports.productpage!,
      '/login',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'username=jason&passwd=x',
    );
    expect(login.status).toBe(302);
    expect(login.headers.location).toBe('/productpage');
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toMatch(/^user=jason; Path=\//);
    mesh.routes.set('reviews', ports['reviews-v2']!);
    // As a browser sends it: another cookie first, a space after the ';'.
    const r = await page({ cookie: 'theme=dark; user=jason' });
    expect(r.body).toContain('Signed in as <b>jason</b>');
    expect(r.body).not.toContain('data-test="login-form"');
    const reviews = mesh.seen.find((s) => s.service === 'reviews')!;
    expect(reviews.headers['end-user']).toBe('jason');
    expect(reviews.headers.cookie).toBe('theme=dark; user=jason');
    expect(mesh.seen.find((s) => s.service === 'ratings')?.headers['end-user']).toBe('jason');

    const logout = await http('GET', ports.productpage!, '/logout', { cookie: 'user=jason' });
    expect(logout.status).toBe(302);
    expect(String(logout.headers['set-cookie'])).toMatch(/^user=; Path=\/; Max-Age=0/);
    mesh.seen.length = 0;
    await page();
    expect(mesh.seen.find((s) => s.service === 'reviews')?.headers['end-user']).toBeUndefined();
  });

  it('forwards W3C and B3 trace headers and the request id on every hop, down to ratings', async () => {
    mesh.routes.set('reviews', ports['reviews-v3']!);
    const trace = {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'canary=1',
      b3: '4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1',
      'x-b3-traceid': '4bf92f3577b34da6a3ce929d0e0e4736',
      'x-b3-spanid': '00f067aa0ba902b7',
      'x-b3-parentspanid': '0000000000000001',
      'x-b3-sampled': '1',
      'x-b3-flags': '0',
      'x-request-id': 'req-42',
    };
    expect((await page({ ...trace, 'x-not-forwarded': 'no' })).status).toBe(200);
    const ratings = mesh.seen.find((s) => s.service === 'ratings');
    expect(ratings, 'reviews v3 called ratings').toBeDefined();
    expect(ratings!.headers).toMatchObject(trace);
    expect(ratings!.headers['x-not-forwarded']).toBeUndefined();
    expect(mesh.seen.find((s) => s.service === 'details')!.headers).toMatchObject(trace);
  });

  it('degrades gracefully when reviews, ratings or details fail', async () => {
    mesh.down.add('reviews');
    const noReviews = await page();
    expect(noReviews.status).toBe(200);
    expect(noReviews.body).toContain('Sorry, product reviews are currently unavailable for this book.');
    expect(noReviews.body).toContain('<dd>paperback</dd>');
    expect(noReviews.body).not.toContain('Reviews served by');

    mesh.down.clear();
    mesh.down.add('ratings');
    mesh.routes.set('reviews', ports['reviews-v2']!);
    const noRatings = await page();
    expect(noRatings.body).toContain('Ratings service is currently unavailable');
    expect(noRatings.body).toMatch(/Reviews served by: reviews-v2-1</);

    mesh.down.clear();
    mesh.routes.set('details', ports['details-faulty']!);
    try {
      const noDetails = await page();
      expect(noDetails.body).toContain('Sorry, product details are currently unavailable for this book.');
      expect(noDetails.body).toMatch(/Reviews served by: reviews-v2-1</);
    } finally {
      mesh.routes.set('details', ports.details!);
    }
  });

  it('answers the JSON API, passing failures on with a message', async () => {
    mesh.routes.set('reviews', ports['reviews-v2']!);
    const list = await http('GET', ports.productpage!, '/api/v1/products');
    expect(JSON.parse(list.body)).toEqual([expect.objectContaining({ id: 0, title: 'The Comedy of Errors' })]);
    const details = JSON.parse((await http('GET', ports.productpage!, '/api/v1/products/0')).body);
    expect(details).toMatchObject({ id: 0, author: 'William Shakespeare', pages: 200 });
    const reviews = JSON.parse((await http('GET', ports.productpage!, '/api/v1/products/0/reviews')).body);
    expect(reviews).toMatchObject({ podname: 'reviews-v2-1', instance: 'reviews-v2-1', version: 'v2' });
    expect(reviews.reviews[0].rating).toEqual({ stars: 5, color: 'black' });
    const ratings = JSON.parse((await http('GET', ports.productpage!, '/api/v1/products/0/ratings')).body);
    expect(ratings.ratings).toEqual({ Reviewer1: 5, Reviewer2: 4 });
    mesh.down.add('reviews');
    const failed = await http('GET', ports.productpage!, '/api/v1/products/0/reviews');
    expect(failed.status).toBe(503);
    expect(JSON.parse(failed.body).error).toBe('Sorry, product reviews are currently unavailable for this book.');
    expect((await http('GET', ports.productpage!, '/api/v1/products/abc')).status).toBe(404);
  });

  it('every service answers /health, and FAULT_RATE=1 fails every other request with 500', async () => {
    for (const key of ['productpage', 'details', 'ratings', 'reviews-v2', 'details-faulty']) {
      const r = await http('GET', ports[key]!, '/health');
      expect(r.status, key).toBe(200);
    }
    const faulty = await http('GET', ports['details-faulty']!, '/details/0');
    expect(faulty.status).toBe(500);
    expect(JSON.parse(faulty.body).error).toContain('FAULT_RATE=1');
  });
});

describe('bookinfoServices', () => {
  it('gives valid service specs that run the compiled files on port 9080', () => {
    const specs = bookinfoServices('/opt/canary/dist');
    expect(specs.map((s) => s.name)).toEqual(['productpage', 'details', 'reviews', 'ratings']);
    for (const s of specs) {
      expect(ServiceSpec.parse(s)).toEqual(s);
      expect(s.port).toBe(9080);
      expect(s.versions.map((v) => v.name)).toEqual(['v1']);
      expect(s.versions[0]!.workload).toMatchObject({
        kind: 'process',
        command: process.execPath,
        args: [`/opt/canary/dist/demo/bookinfo/${s.name}.js`],
        readiness: { path: '/health' },
      });
    }
    expect(specs[0]!.ingress?.paths).toEqual(['/productpage', '/login', '/logout', '/api/v1/products', '/static']);
    expect(specs[2]!.versions[0]!.workload).toMatchObject({ env: { SERVICE_VERSION: 'v1' } });
  });

  it('runs under ProcessRuntime: all four get ready and the page works through per-instance outbound listeners', async () => {
    const dist = mkdtempSync(join(tmpdir(), 'bookinfo-rt-'));
    transpileDemo(dist);
    const specs = bookinfoServices(dist);
    for (const s of specs) expect(existsSync((s.versions[0]!.workload as { args: string[] }).args[0]!)).toBe(true);
    // As `canary up` runs them when root: as nobody, which must be able to read the demo's scripts.
    chmodSync(dist, 0o755);
    const runtime = new ProcessRuntime({ drainMs: 2000, unreadyDelayMs: 0, runAs: 'nobody' });
    const meshes: TestMesh[] = [];
    try {
      await runtime.reconcile(specs.map((s) => ({ service: s.name, version: s.versions[0]! })));
      // What the proxy does: listen on each instance's outbound port and send each Host to that service's endpoint.
      for (const l of runtime.listeners()) {
        const m = new TestMesh();
        for (const s of specs) m.routes.set(s.name, Number(runtime.endpoints(s.name, 'v1')[0]!.address.split(':')[1]));
        await m.listen(l.port);
        meshes.push(m);
      }
      const deadline = Date.now() + 20_000;
      while (!specs.every((s) => runtime.health(s.name, 'v1').ready)) {
        if (Date.now() > deadline) throw new Error(`not ready: ${specs.map((s) => runtime.health(s.name, 'v1').reason).join('; ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const pagePort = Number(runtime.endpoints('productpage', 'v1')[0]!.address.split(':')[1]);
      const r = await http('GET', pagePort, '/productpage');
      expect(r.body).toMatch(/Reviews served by: reviews-v1-1</);
      expect(r.body).toContain('<dd>paperback</dd>');
      expect(runtime.logs('reviews', 'v1').map((l) => l.line)).toContain(
        `reviews v1 (reviews-v1-1) listening on http://127.0.0.1:${runtime.endpoints('reviews', 'v1')[0]!.address.split(':')[1]}`,
      );
    } finally {
      await runtime.stopAll();
      await Promise.all(meshes.map((m) => m.close()));
      rmSync(dist, { recursive: true, force: true });
    }
  });
});
