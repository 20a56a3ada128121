import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceSpec } from '../core/index.js';

/** A service with two endpoints versions and the given rules, in the API's shapes. */
export function splitService(name: string, v1: string, v2: string, weights: [number, number], ingress = false): ServiceSpec {
  return {
    name,
    port: 9080,
    ...(ingress ? { ingress: { paths: ['/'] } } : {}),
    versions: [
      { name: 'v1', labels: {}, workload: { kind: 'endpoints', addresses: [v1] } },
      { name: 'v2', labels: {}, workload: { kind: 'endpoints', addresses: [v2] } },
    ],
    routes: [
      {
        route: [
          { version: 'v1', weight: weights[0] },
          { version: 'v2', weight: weights[1] },
        ],
      },
    ],
  };
}

/**
 * `count` services of 3 versions and 5 rules each (a header, a cookie, a URI regex, a query parameter, then a
 * weighted default), like a real mesh's tables; the versions point at the given upstream addresses.
 */
export function largeServices(count: number, addresses: [string, string, string]): ServiceSpec[] {
  const out: ServiceSpec[] = [];
  for (let i = 0; i < count; i++) {
    const name = `svc-${String(i).padStart(4, '0')}`;
    out.push({
      name,
      port: 9080,
      versions: ['v1', 'v2', 'v3'].map((v, j) => ({ name: v, labels: {}, workload: { kind: 'endpoints', addresses: [addresses[j]!] } })),
      routes: [
        { match: [{ headers: { 'end-user': { exact: `user-${i}` } } }], route: [{ version: 'v3', weight: 100 }] },
        { match: [{ cookie: { user: { exact: 'jason' } } }], route: [{ version: 'v2', weight: 100 }] },
        { match: [{ uri: { regex: `/api/v[0-9]+/${name}/.*` } }], route: [{ version: 'v2', weight: 100 }] },
        { match: [{ queryParams: { canary: { exact: 'true' } } }], route: [{ version: 'v3', weight: 100 }] },
        {
          route: [
            { version: 'v1', weight: 80 },
            { version: 'v2', weight: 20 },
          ],
        },
      ],
    });
  }
  return out;
}

/** Writes a static route file for `canary proxy --config` (JSON is YAML). */
export function writeRouteFile(dir: string, name: string, services: unknown[]): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ services }));
  return path;
}
