import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Dispatcher, Pool } from 'undici';

/**
 * A child process for the benchmarks: the least a Node proxy can do (node:http server, one undici Pool,
 * alternate between two upstreams, no header rewriting, no routing). The floor our proxy is compared with: what
 * the runtime costs before any of our code runs. Prints `listening on http://127.0.0.1:PORT`.
 */
const pools = process.argv.slice(2).map((address) => new Pool(`http://${address}`, { connections: 256, pipelining: 1 }));
let next = 0;
const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const pool = pools[next]!;
  next = (next + 1) % pools.length;
  const handler: Dispatcher.DispatchHandlers = {
    onConnect: () => undefined,
    onHeaders: (status) => {
      res.writeHead(status);
      return true;
    },
    onData: (chunk) => res.write(chunk),
    onComplete: () => res.end(),
    onError: (err) => res.destroy(err),
  };
  pool.dispatch({ path: req.url ?? '/', method: 'GET', headers: [], body: null }, handler);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => process.exit(0));
