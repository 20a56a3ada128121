import type { AddressInfo } from 'node:net';
import { createControlPlane } from '../control-plane/index.js';
import { EndpointsRuntime } from '../workloads/endpoints-runtime.js';
import { RuntimeByKind } from '../workloads/runtime-by-kind.js';

/**
 * A child process for the benchmarks: the real control plane (SQLite in the data dir given as argv[2], endpoints
 * workloads) on 127.0.0.1 port 0, token from CANARY_ADMIN_TOKEN. Prints `{"port":N}` once listening. In its own
 * process so that the benchmark's load generator does not share its event loop.
 */
const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write('usage: node dist/bench/control-plane-server.js DATA_DIR\n');
  process.exit(2);
}
const runtime = new RuntimeByKind({ endpoints: new EndpointsRuntime() });
const cp = await createControlPlane({ dataDir, runtime, logLevel: 'warn', drainGraceMs: 50 });
await cp.app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ port: (cp.app.server.address() as AddressInfo).port })}\n`);
process.on('SIGTERM', () => {
  void cp
    .close()
    .then(() => runtime.stopAll())
    .then(() => process.exit(0));
});
