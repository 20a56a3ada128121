import { join } from 'node:path';
import { Pool } from 'undici';
import { type BenchContext, startProxy, type ProxyChild } from './bench-context.js';
import type { BenchChild } from './process-group.js';

const token = 'bench-admin-token-0123456789abcdef';

export interface BenchControlPlane {
  process: BenchChild;
  url: string;
  /** A JSON call with the admin token; throws unless the status is `expect`. */
  call(method: string, path: string, body: unknown, expect?: number): Promise<unknown>;
  /** `canary proxy --control-plane URL` following it. */
  startProxy(extra?: string[]): Promise<ProxyChild>;
  close(): Promise<void>;
}

/** Starts dist/bench/control-plane-server.js on a fresh data dir and returns a client for it. */
export async function startBenchControlPlane(ctx: BenchContext, name: string): Promise<BenchControlPlane> {
  const entry = join(ctx.repoRoot, 'dist', 'bench', 'control-plane-server.js');
  const child = ctx.processes.start(process.execPath, [entry, join(ctx.workDir, name)], {
    env: { ...process.env, CANARY_ADMIN_TOKEN: token },
  });
  const m = await ctx.processes.waitForOutput(child, /\{"port":(\d+)\}/);
  const url = `http://127.0.0.1:${m[1]}`;
  const pool = new Pool(url, { connections: 2 });
  return {
    process: child,
    url,
    async call(method, path, body, expect = 200) {
      const res = await pool.request({
        path,
        method: method as 'GET',
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.body.text();
      if (res.statusCode !== expect) throw new Error(`${method} ${path}: expected ${expect}, got ${res.statusCode}: ${text.slice(0, 500)}`);
      return text ? JSON.parse(text) : undefined;
    },
    startProxy: (extra = []) => startProxy(ctx, ['--control-plane', url, ...extra], { env: { CANARY_TOKEN: token } }),
    async close() {
      await pool.close();
      await child.stop();
    },
  };
}
