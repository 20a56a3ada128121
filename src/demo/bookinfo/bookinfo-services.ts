import { join } from 'node:path';
import type { ServiceSpec } from '../../core/model.js';

export const BOOKINFO_PORT = 9080;

/** The process workload of one Bookinfo service: node running its compiled file, probed on /health. */
function workload(distDir: string, service: string, env: Record<string, string> = {}) {
  return {
    kind: 'process' as const,
    command: process.execPath,
    args: [join(distDir, 'demo', 'bookinfo', `${service}.js`)],
    env,
    replicas: 1,
    readiness: { path: '/health', timeoutSeconds: 30 },
  };
}

/**
 * The Bookinfo demo's services for `canary up --demo bookinfo`: productpage (reachable from the ingress),
 * details, reviews at v1 only (a canary adds v2 or v3 with env SERVICE_VERSION), and ratings.
 * `distDir` is the compiled output directory (the one holding demo/bookinfo/*.js).
 */
export function bookinfoServices(distDir: string): ServiceSpec[] {
  const service = (name: string, env: Record<string, string> = {}, ingressPaths?: string[]): ServiceSpec => ({
    name,
    port: BOOKINFO_PORT,
    ...(ingressPaths ? { ingress: { paths: ingressPaths } } : {}),
    versions: [{ name: 'v1', labels: {}, workload: workload(distDir, name, env) }],
    routes: [],
  });
  return [
    service('productpage', {}, ['/productpage', '/login', '/logout', '/api/v1/products', '/static']),
    service('details'),
    service('reviews', { SERVICE_VERSION: 'v1' }),
    service('ratings'),
  ];
}
