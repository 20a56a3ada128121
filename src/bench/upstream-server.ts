import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A child process for the benchmarks: one tiny HTTP server per name given in argv, each answering its name
 * (`v1`, `v2`) as a 2-byte body, on 127.0.0.1 port 0. Prints `{"ports":[...]}` once all listen. Kept out of the
 * benchmark's own process so that the load generator and the upstreams do not share an event loop.
 */
const names = process.argv.slice(2);
if (names.length === 0) {
  process.stderr.write('usage: node dist/bench/upstream-server.js NAME...\n');
  process.exit(2);
}
const ports: number[] = [];
for (const name of names) {
  const body = Buffer.from(name);
  const length = String(body.length);
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    req.resume();
    res.writeHead(200, ['content-type', 'text/plain', 'content-length', length]);
    res.end(body);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ports.push((server.address() as AddressInfo).port);
}
process.stdout.write(`${JSON.stringify({ ports })}\n`);
process.on('SIGTERM', () => process.exit(0));
