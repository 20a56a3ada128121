import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './dist.js';

/** What one `canary` run gave: its exit code and both outputs. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Added to the clean environment. */
  env?: Record<string, string>;
  /** HOME of the run (where the CLI keeps its login); the caller's HOME when left out. */
  home?: string;
  /** The working directory; the repository root when left out. */
  cwd?: string;
  /** Written to the CLI's stdin, which is then closed. */
  input?: string;
}

/**
 * Runs `canary ARGS` as a user does (`node bin/canary.js` in a child process, the compiled dist/) with a clean
 * environment: PATH and HOME only, so no CANARY_* of the caller leaks in, plus `env`. Never throws: a failure is
 * a non-zero code and stderr.
 */
export function runCanary(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: opts.home ?? process.env.HOME ?? '/tmp', ...opts.env };
  const bin = join(repoRoot, 'bin', 'canary.js');
  return new Promise((done) => {
    const child = execFile(process.execPath, [bin, ...args], { env, cwd: opts.cwd ?? repoRoot, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/**
 * The arguments of a command with its flags: `words` split at spaces, then `--flag value` for each entry of `flags`
 * in order. `canaryArgs('release create r', { service: 'reviews' })` is `['release', 'create', 'r', '--service', 'reviews']`.
 */
export function canaryArgs(words: string, flags: Record<string, string> = {}): string[] {
  return [...words.split(' '), ...Object.entries(flags).flatMap(([flag, value]) => [`--${flag}`, value])];
}
