import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchChild, ProcessGroup } from './process-group.js';

/** The repository root (dist/bench/ -> ../..). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What every benchmark gets: the mode, a scratch directory and the process group that cleans up. */
export interface BenchContext {
  smoke: boolean;
  repoRoot: string;
  workDir: string;
  processes: ProcessGroup;
  log(message: string): void;
}

export function createBenchContext(smoke: boolean, log: (m: string) => void): BenchContext & { dispose(): Promise<void> } {
  const workDir = mkdtempSync(join(tmpdir(), 'canary-bench-'));
  const processes = new ProcessGroup();
  return {
    smoke,
    repoRoot,
    workDir,
    processes,
    log,
    async dispose() {
      await processes.stopAll();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

export interface Upstreams {
  process: BenchChild;
  /** `127.0.0.1:port`, one per name, in order. */
  addresses: string[];
}

/** Starts the upstream child process (dist/bench/upstream-server.js) answering each name. */
export async function startUpstreams(ctx: BenchContext, names: string[]): Promise<Upstreams> {
  const entry = join(ctx.repoRoot, 'dist', 'bench', 'upstream-server.js');
  const child = ctx.processes.start(process.execPath, [entry, ...names]);
  const m = await ctx.processes.waitForOutput(child, /\{"ports":\[[\d,]+\]\}/);
  const ports = (JSON.parse(m[0]) as { ports: number[] }).ports;
  return { process: child, addresses: ports.map((p) => `127.0.0.1:${p}`) };
}

export interface ProxyChild {
  process: BenchChild;
  port: number;
}

/** The CLI entry, with a clear message when dist/ has not been built. */
export function cliEntry(ctx: BenchContext): string {
  const bin = join(ctx.repoRoot, 'bin', 'canary.js');
  if (!existsSync(join(ctx.repoRoot, 'dist', 'cli', 'main.js'))) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  return bin;
}

/** `node [nodeArgs] bin/canary.js proxy ARGS --listen 127.0.0.1:0`, resolved once it listens. */
export async function startProxy(
  ctx: BenchContext,
  args: string[],
  options: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<ProxyChild> {
  const child = ctx.processes.start(
    process.execPath,
    [...(options.nodeArgs ?? []), cliEntry(ctx), 'proxy', ...args, '--listen', '127.0.0.1:0'],
    {
      cwd: ctx.repoRoot,
      env: { ...process.env, ...options.env },
    },
  );
  const m = await ctx.processes.waitForOutput(child, /listening on http:\/\/127\.0\.0\.1:(\d+)/);
  if (args.includes('--workers') && args[args.indexOf('--workers') + 1] !== '1')
    await ctx.processes.waitForOutput(child, /workers serving/);
  return { process: child, port: Number(m[1]) };
}
