import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import { MeshClient } from './mesh-client.js';

/** What the mesh tells a Bookinfo service through its environment. */
export interface BookinfoEnv {
  port: number;
  host: string;
  /** This instance's name, e.g. reviews-v2-1. */
  instance: string;
  version: string;
  /** 0..1: share of requests answered 500 on purpose. */
  faultRate: number;
  mesh: MeshClient;
}

/** Reads and checks the environment; a wrong value names the variable. */
export function readBookinfoEnv(service: string, env: NodeJS.ProcessEnv = process.env): BookinfoEnv {
  const port = Number(env.PORT ?? 9080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT: must be a port number, got "${env.PORT}"`);
  const faultRate = Number(env.FAULT_RATE ?? 0);
  if (!(faultRate >= 0 && faultRate <= 1)) throw new Error(`FAULT_RATE: must be a number from 0 to 1, got "${env.FAULT_RATE}"`);
  const version = env.SERVICE_VERSION ?? 'v1';
  return {
    port,
    host: env.HOST ?? '127.0.0.1',
    instance: env.MESH_INSTANCE ?? `${service}-${version}-1`,
    version,
    faultRate,
    mesh: new MeshClient(env.MESH_OUTBOUND ?? 'http://127.0.0.1:15001'),
  };
}

export type BookinfoHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * A Bookinfo service's HTTP server: GET /health, optional fault injection (FAULT_RATE), errors as 500 JSON,
 * and a graceful stop on SIGTERM (stop accepting, finish what is in flight, exit).
 */
export function startBookinfoServer(service: string, env: BookinfoEnv, handle: BookinfoHandler): Server {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'ok', service, version: env.version, instance: env.instance });
    if (env.faultRate > 0 && Math.random() < env.faultRate) {
      return sendJson(res, 500, { error: `fault injected by FAULT_RATE=${env.faultRate} in ${env.instance}` });
    }
    Promise.resolve(handle(req, res, url)).catch((err: unknown) => {
      process.stderr.write(`${service}: ${req.method} ${req.url} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  // Longer than the mesh proxy's idle timeout for its upstream pool, so the proxy, not us, closes idle
  // connections (a close racing a new request on the same connection would fail that request).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.listen(env.port, env.host, () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : env.port;
    process.stdout.write(`${service} ${env.version} (${env.instance}) listening on http://${env.host}:${port}\n`);
  });
  const stop = () => {
    process.stdout.write(`${service} (${env.instance}): SIGTERM, finishing requests in flight\n`);
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return server;
}

/** True when `moduleUrl` is the script node was started with (`node dist/demo/bookinfo/x.js`). */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === moduleUrl;
}

/** Each service's entry: when `moduleUrl` is the script node runs, serves `service` with the handler made from the environment. */
export function serveIfMain(moduleUrl: string, service: string, makeHandler: (env: BookinfoEnv) => BookinfoHandler): void {
  if (!isMain(moduleUrl)) return;
  const env = readBookinfoEnv(service);
  startBookinfoServer(service, env, makeHandler(env));
}

/** Parses a non-negative integer id from a path segment, or undefined. */
export function parseId(segment: string | undefined): number | undefined {
  if (segment === undefined || !/^\d{1,9}$/.test(segment)) return undefined;
  return Number(segment);
}
