import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';

/** A started child process with its output kept for error messages. */
export interface BenchChild {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<number | string>;
}

/**
 * Every process a benchmark starts, so that each is stopped at the end, also when the benchmark throws or the
 * run is interrupted (SIGINT).
 */
export class ProcessGroup {
  private readonly children = new Set<BenchChild>();

  start(command: string, args: string[], options: SpawnOptions = {}): BenchChild {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 64_000) output = output.slice(-32_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
      child.once('error', (err) => {
        output += `\n${err.message}`;
        resolve('spawn-error');
      });
    });
    const entry: BenchChild = {
      child,
      pid: child.pid ?? -1,
      output: () => output,
      exited,
      stop: async (graceMs = 5000) => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          const code = await exited;
          clearTimeout(timer);
          this.children.delete(entry);
          return code;
        }
        this.children.delete(entry);
        return exited;
      },
    };
    this.children.add(entry);
    void exited.then(() => this.children.delete(entry));
    return entry;
  }

  /** Waits until `pattern` appears in the child's output, or throws with its output after `timeoutMs`. */
  async waitForOutput(c: BenchChild, pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(c.output());
      if (m) return m;
      if (c.child.exitCode !== null || c.child.signalCode !== null)
        throw new Error(`process ${c.pid} exited before printing ${pattern}:\n${c.output().slice(-2000)}`);
      if (Date.now() > deadline)
        throw new Error(`process ${c.pid} did not print ${pattern} within ${timeoutMs} ms:\n${c.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => c.stop(3000)));
  }

  /** Synchronous last resort (process exit): SIGKILL whatever is left. */
  killAll(): void {
    for (const c of this.children) c.child.kill('SIGKILL');
  }
}
