import { type ChildProcess, spawn } from 'node:child_process';

/**
 * The watchdog's program, run with `node -e` so that it needs no compiled file (it runs the same from the sources,
 * from dist/ and from a test's transpiled copy). argv: ledger file, run id, grace in ms. It reads its stdin, a pipe
 * from the supervisor, and does nothing while the pipe is open. When it closes, the supervisor died (a SIGKILL
 * closes it too; an orderly stop kills the watchdog first): after the grace, which lets a successor on the same data directory take over first,
 * it stops every process group the ledger lists for that run whose leader still is the process it was (pid and
 * start time), SIGTERM then SIGKILL.
 */
const WATCHDOG_PROGRAM = `
const fs = require('node:fs');
const [file, run, grace] = process.argv.slice(1);
let boot = '';
try { boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(); } catch {}
const started = (pid) => {
  try {
    const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return f[0] === 'Z' || f[0] === 'X' ? null : boot + ':' + f[19];
  } catch { return null; }
};
const signal = (groups, sig) => { for (const e of groups) { try { process.kill(-e.pgid, sig); } catch {} } };
const reap = () => {
  let entries = [];
  try { entries = JSON.parse(fs.readFileSync(file, 'utf8')); } catch {}
  const ours = (Array.isArray(entries) ? entries : []).filter(
    (e) => e && e.run === run && e.kind !== 'watchdog' && e.kind !== 'supervisor' && typeof e.pgid === 'number' && e.started && started(e.pgid) === e.started,
  );
  signal(ours, 'SIGTERM');
  setTimeout(() => { signal(ours.filter((e) => started(e.pgid) === e.started), 'SIGKILL'); process.exit(0); }, 1000);
};
let done = false;
const closed = () => {
  if (done) return;
  done = true;
  setTimeout(reap, Number(grace));
};
process.stdin.resume();
process.stdin.on('end', closed);
process.stdin.on('error', closed);
for (const sig of ['SIGINT', 'SIGHUP']) process.on(sig, () => {});
`;

/**
 * One small process per supervisor (a `canary up`, a ProcessRuntime with a data directory) that ends what the
 * supervisor leaves when it dies in a way no handler sees (SIGKILL, OOM kill): its own children cannot be asked
 * to watch their parent (a workload is any command), so the watchdog watches for them. Its own session, so a
 * Ctrl-C in the terminal reaches the supervisor, which then stops everything itself and releases the watchdog.
 */
export class OrphanWatchdog {
  private readonly child: ChildProcess;

  constructor(ledgerFile: string, run: string, graceMs: number) {
    this.child = spawn(process.execPath, ['-e', WATCHDOG_PROGRAM, ledgerFile, run, String(graceMs)], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: process.env.PATH ?? '' },
    });
    this.child.on('error', () => undefined);
    this.child.stdin?.on('error', () => undefined);
    // Neither the process nor its pipe keeps the supervisor's event loop alive.
    this.child.unref();
    (this.child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }

  get pid(): number | null {
    return this.child.pid ?? null;
  }

  /** The supervisor ends in order (it stops its children itself): the watchdog goes at once. */
  release(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      this.child.kill('SIGKILL');
    } catch {
      // Gone already.
    }
  }
}
