import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Endpoint, OutlierPolicy, Rule, RouteTable, ServiceRoute } from '../../src/core/index.js';

/** Test support (not a test): small real upstream servers and a client, all on 127.0.0.1. */

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
}

export interface TestUpstream {
  name: string;
  address: string;
  server: Server;
  /** TCP connections accepted so far. */
  connections: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, name: string) => void;

/**
 * Answers its name as the body; `/echo` streams the request body back as it arrives; `/slow?ms=N` answers
 * after N ms; `/trailers` answers with a trailer.
 */
export const defaultUpstreamHandler: UpstreamHandler = (req, res, name) => {
  const url = req.url ?? '/';
  if (url.startsWith('/echo')) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-served-by': name });
    req.pipe(res);
    return;
  }
  if (url.startsWith('/slow')) {
    const ms = Number(new URL(url, 'http://x').searchParams.get('ms') ?? '1000');
    req.resume();
    const timer = setTimeout(() => res.end(name), ms);
    res.on('close', () => clearTimeout(timer));
    return;
  }
  if (url.startsWith('/trailers')) {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
    res.write(name);
    res.addTrailers({ 'x-checksum': 'abc123' });
    res.end();
    return;
  }
  req.resume();
  req.on('end', () => {
    res.writeHead(200, {
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(name),
      connection: 'keep-alive, x-upstream-private',
      'x-upstream-private': 'secret',
      'set-cookie': ['a=1', 'b=2'],
    });
    res.end(name);
  });
};

export async function startUpstream(name: string, handler: UpstreamHandler = defaultUpstreamHandler): Promise<TestUpstream> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    handler(req, res, name);
  });
  const upstream: TestUpstream = {
    name,
    address: '',
    server,
    connections: 0,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => upstream.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return upstream;
}

/** A free loopback port (bound then released), for addresses that must refuse connections or for listeners. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ServiceFixture {
  name: string;
  /** Version name -> upstreams serving it (addresses may be strings for endpoints that are not running). */
  versions: Record<string, Array<TestUpstream | string>>;
  rules: Rule[];
  ingressPaths?: string[];
  /** Outlier detection; absent: the defaults (on). */
  outlierDetection?: OutlierPolicy;
}

/** Outlier detection off, for tests about what happens before (or without) an ejection. */
export const NO_OUTLIER_DETECTION: OutlierPolicy = {
  consecutive5xxErrors: 0,
  consecutiveGatewayErrors: 0,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 0,
};

function endpointsOf(list: Array<TestUpstream | string>): Endpoint[] {
  return list.map((u, i) => {
    const address = typeof u === 'string' ? u : u.address;
    return { address, instance: typeof u === 'string' ? address : `${u.name}-${i + 1}`, ready: true };
  });
}

export function routeTable(revision: number, services: ServiceFixture[], listeners: RouteTable['listeners'] = []): RouteTable {
  const routes: ServiceRoute[] = services.map((s) => ({
    name: s.name,
    port: 9080,
    ingressPaths: s.ingressPaths ?? [],
    release: null,
    versions: Object.entries(s.versions).map(([name, list]) => ({ name, endpoints: endpointsOf(list) })),
    rules: s.rules,
    ...(s.outlierDetection ? { outlierDetection: s.outlierDetection } : {}),
  }));
  return { revision, generatedAt: new Date().toISOString(), services: routes, listeners };
}

export interface CallResult {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  trailers: NodeJS.Dict<string>;
}

export interface CallOptions {
  method?: string;
  url?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  agent?: Agent | false;
}

const defaultAgent = new Agent({ keepAlive: true, maxSockets: 32 });

/** One HTTP request to 127.0.0.1:port; resolves with the whole answer. */
export function call(port: number, options: CallOptions = {}): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.url ?? '/',
        headers: options.headers ?? {},
        agent: options.agent ?? defaultAgent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks).toString('utf8'),
            trailers: res.trailers,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('test client timeout')));
    req.end(options.body);
  });
}
