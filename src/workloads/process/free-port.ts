import { createServer } from 'node:net';

/**
 * A loopback port that was free a moment ago: binds port 0, reads the port the kernel chose, closes.
 * `avoid` holds ports this process already handed out (so two instances never get the same one).
 */
export async function freeLoopbackPort(avoid: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port > 0 && !avoid.has(port)) return port;
  }
  throw new Error('could not find a free loopback port after 20 attempts');
}
