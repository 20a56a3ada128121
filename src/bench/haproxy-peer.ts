import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from './bench-context.js';
import { freePort } from './free-port.js';
import type { BenchChild } from './process-group.js';

export function haproxyBinary(): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin']))
    if (existsSync(join(dir, 'haproxy'))) return join(dir, 'haproxy');
  return null;
}

/** HAProxy (1 thread, keep-alive to the upstreams) splitting 50/50 between two addresses, on a free port. */
export async function startHaproxyPeer(ctx: BenchContext, a: string, b: string): Promise<{ process: BenchChild; port: number } | null> {
  const bin = haproxyBinary();
  if (bin === null) return null;
  const port = await freePort();
  const cfg = join(ctx.workDir, `haproxy-${port}.cfg`);
  writeFileSync(
    cfg,
    `global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  balance roundrobin
  server v1 ${a} weight 50
  server v2 ${b} weight 50
`,
  );
  const child = ctx.processes.start(bin, ['-db', '-f', cfg]);
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      await res.text();
      if (res.ok) return { process: child, port };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await child.stop();
  throw new Error(`haproxy did not answer on ${port}:\n${child.output().slice(-1000)}`);
}
