import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { FileRouteSource } from './file-route-source.js';
import { consoleProxyLogger } from './proxy-logger.js';
import { type ProxyOptions, runProxy } from './run-proxy.js';
import { supervisorLink } from './supervisor-link.js';

/** `canary proxy --workers N`: how many proxy processes share the listeners. */
export type ProxyWorkersOptions = Omit<ProxyOptions, 'handleSignals'> & {
  /** Worker processes; `auto` (or 0): one per core. Default 1: this process serves, no cluster. */
  workers?: number | 'auto';
};

/** Parses the `--workers` flag: a positive integer or `auto`. */
export function parseWorkers(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`--workers: must be a whole number 1..256 or "auto", got "${value}"`);
  return n;
}

function workerCount(workers: number | 'auto' | undefined): number {
  if (workers === undefined) return 1;
  if (workers === 'auto' || workers === 0) return availableParallelism();
  return workers;
}

interface WorkerMessage {
  canaryProxy: 'ready';
}

function isReady(message: unknown): message is WorkerMessage {
  return typeof message === 'object' && message !== null && (message as WorkerMessage).canaryProxy === 'ready';
}

/**
 * Runs `canary proxy` in one process, or in N worker processes (node:cluster) that share the ingress and outbound
 * listeners: the primary accepts connections and hands them out round-robin, so each keep-alive connection stays
 * with one worker. Each worker follows the route source itself (its own file watch or control-plane watch
 * stream), so a table reaches every worker independently, and each worker keeps its own weighted-pick state:
 * splits are exact per worker. The primary forwards SIGTERM/SIGINT/SIGHUP, restarts a worker that dies (with
 * back-off), and exits 1 when a worker fails before it ever listened (an invalid file, a port in use).
 * Resolves once serving (one process) or once every worker listens (primary).
 */
export async function runProxyWorkers(options: ProxyWorkersOptions): Promise<void> {
  const { workers, ...proxyOptions } = options;
  const count = workerCount(workers);
  // Both sources parse a whole table only now and then: a file on load and on edits (compiled in a child process),
  // a control plane on connect (about 1 MB for 1,000 services, which a small young generation parses about 3x
  // slower since its objects live on), then small deltas per change.
  keepYoungGenerationSmall();
  if (cluster.isWorker) {
    await runWorker(proxyOptions);
    return;
  }
  if (count <= 1) {
    const link = supervisorLink();
    const running = await runProxy({ ...proxyOptions, ...(link ? { ingressHandle: link.ingress, standby: link.standby } : {}) });
    link?.attach(running, proxyOptions.logger ?? consoleProxyLogger);
    return;
  }
  await runPrimary(count, proxyOptions.logger ?? consoleProxyLogger);
}

/**
 * A proxy process makes short-lived garbage (per request) plus one burst when it loads a big table. V8 answers
 * the burst by growing its young generation up to 2 x 16 MB and keeps it, which is most of the RSS gap to a bare
 * proxy; held at its first size, the young generation is collected a little more often (cheap: almost nothing in
 * it survives) and the process stays tens of MB smaller (docs/adr/0003-proxy-hot-path.md). Only `canary proxy`
 * processes do this; a proxy embedded in another process leaves that process's heap alone.
 */
function keepYoungGenerationSmall(): void {
  try {
    setFlagsFromString('--semi-space-growth-factor=1');
  } catch {
    // An engine without the flag: nothing to tune.
  }
}

async function runWorker(options: Omit<ProxyOptions, 'handleSignals'>): Promise<void> {
  const logger = options.logger ?? consoleProxyLogger;
  const running = await runProxy({ ...options, handleSignals: false });
  // The IPC channel keeps a worker alive, so a worker exits explicitly once its listeners have drained.
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info(`worker ${process.pid}: ${signal}: closing listeners, letting requests in flight finish`);
    running.close().then(
      () => process.exit(0),
      (err: Error) => {
        logger.error(`worker ${process.pid}: while stopping: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  process.on('SIGHUP', () => {
    if (running.source instanceof FileRouteSource) void running.source.reload();
  });
  process.send?.({ canaryProxy: 'ready' } satisfies WorkerMessage);
}

function runPrimary(count: number, logger: ProxyOptions['logger'] & object): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const ready = new Set<number>();
    let everyoneReady = false;
    let stopping = false;
    let restarts = 0;

    const fork = (): Worker => {
      const worker = cluster.fork();
      worker.on('message', (message: unknown) => {
        if (!isReady(message)) return;
        ready.add(worker.id);
        if (!everyoneReady && ready.size === count) {
          everyoneReady = true;
          const pids = Object.values(cluster.workers ?? {}).map((w) => w?.process.pid);
          logger.info(`primary ${process.pid}: ${count} workers serving (pids ${pids.join(', ')})`);
          resolve();
        }
      });
      return worker;
    };

    const stopAll = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      logger.info(`${signal}: stopping ${count} workers (requests in flight finish)`);
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    };
    process.on('SIGTERM', stopAll);
    process.on('SIGINT', stopAll);
    process.on('SIGHUP', () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
    });

    cluster.on('exit', (worker, code, signal) => {
      const wasReady = ready.delete(worker.id);
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) {
          logger.info('stopped');
          process.exit(0);
        }
        return;
      }
      if (!wasReady) {
        // It never listened: the same settings would fail again. The worker has printed why.
        stopping = true;
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
        const err = new Error(`a proxy worker failed to start (${signal ?? `exit code ${code}`})`);
        if (everyoneReady) {
          logger.error(err.message);
          process.exit(1);
        }
        reject(err);
        return;
      }
      restarts++;
      const delay = Math.min(100 * 2 ** Math.min(restarts, 8), 20_000);
      logger.warn(`worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting another in ${delay} ms`);
      setTimeout(() => {
        if (!stopping) fork();
      }, delay).unref();
    });

    for (let i = 0; i < count; i++) fork();
  });
}
