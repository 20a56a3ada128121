import { join } from 'node:path';
import { repoRoot } from './dist.js';

/**
 * The `echo` service the `canary up` tests register: the fixture server as a two-replica process workload
 * behind `/env` on the ingress. `env` and `readiness` are the per-test differences.
 */
export function echoServiceSpec(opts: { env?: Record<string, string>; readiness?: { path: string; timeoutSeconds: number } } = {}) {
  return {
    name: 'echo',
    port: 9080,
    ingress: { paths: ['/env'] },
    versions: [
      {
        name: 'v1',
        labels: {},
        workload: {
          kind: 'process',
          command: process.execPath,
          args: [join(repoRoot, 'test', 'support', 'fixtures', 'workloads', 'fixture-server.mjs')],
          env: opts.env ?? {},
          replicas: 2,
          ...(opts.readiness ? { readiness: opts.readiness } : {}),
        },
      },
    ],
  };
}
