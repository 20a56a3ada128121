import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from './bench-context.js';

/** The shared same-machine comparison script, beside the repository: ../shared/bench/proxy-vs-peers.sh. */
export function peersScriptPath(ctx: BenchContext): string {
  return process.env.CANARY_PEERS_SCRIPT ?? join(ctx.repoRoot, '..', 'shared', 'bench', 'proxy-vs-peers.sh');
}

export interface PeersRun {
  lines: string[];
  medians: Record<string, number>;
  /** `ours/haproxy`, `ours/nginx` as the script printed them. */
  ratios: Record<string, number>;
  /** `split ours: v2 share 50% of 200, non-OK 0` lines. */
  splits: string[];
  exitCode: number;
}

/** Parses the script's output: `median rps X: N`, `ours/haproxy throughput ratio: R`. */
export function parsePeersOutput(text: string): Omit<PeersRun, 'exitCode'> {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const medians: Record<string, number> = {};
  const ratios: Record<string, number> = {};
  const splits: string[] = [];
  for (const line of lines) {
    let m = /^median rps (\S+): ([\d.]+)/.exec(line);
    if (m) medians[m[1]!] = Number(m[2]);
    m = /^(\S+) throughput ratio: ([\d.]+)/.exec(line);
    if (m) ratios[m[1]!] = Number(m[2]);
    if (line.startsWith('split ')) splits.push(line);
  }
  return { lines, medians, ratios, splits };
}

/**
 * Runs proxy-vs-peers.sh with `oursCmd` (started in the repository root). Throws with a clear message when the
 * script is absent. Bounded: rounds x targets x seconds plus start-up, killed after twice that.
 */
export async function runPeersScript(ctx: BenchContext, oursCmd: string, opts: { seconds: number; rounds: number }): Promise<PeersRun> {
  const script = peersScriptPath(ctx);
  if (!existsSync(script))
    throw new Error(
      `${script} is missing: it is the shared same-machine comparison (nginx, HAProxy, wrk); set CANARY_PEERS_SCRIPT to its path`,
    );
  const args = [script, '--ours-cmd', oursCmd, '--seconds', String(opts.seconds), '--rounds', String(opts.rounds)];
  ctx.log(`  $ bash ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`);
  const child = spawn('bash', args, { cwd: ctx.repoRoot, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const budgetMs = (opts.rounds * 4 * (opts.seconds + 2) + 60) * 2 * 1000;
  // The script runs its own process tree (nginx, haproxy, ours); a timeout ends the whole group.
  const timer = setTimeout(() => {
    if (child.pid) process.kill(-child.pid, 'SIGTERM');
  }, budgetMs);
  const exitCode = await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  clearTimeout(timer);
  return { ...parsePeersOutput(out), exitCode };
}

/** Whether the peers' tools are installed (the script installs them only as root). */
export function peersToolsMissing(): string[] {
  const missing: string[] = [];
  const paths = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin']);
  for (const tool of ['nginx', 'haproxy', 'wrk']) if (!paths.some((p) => existsSync(join(p, tool)))) missing.push(tool);
  return missing;
}
