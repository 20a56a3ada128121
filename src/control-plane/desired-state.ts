import type { SqliteStore, StoreWriter } from '../store/index.js';
import type { WorkloadRuntime } from '../workloads/workload-runtime.js';
import type { RouteTableFeed } from './route-table-feed.js';

/** Options of a mutating call: `dryRun` validates and computes the result in a transaction that is then undone. */
export interface ChangeOptions {
  dryRun?: boolean;
}

export interface ControllerLog {
  info(msg: string): void;
  warn(msg: string): void;
  error(obj: unknown, msg: string): void;
}

/**
 * One recorded change: who did what to which resource, the resource before and after, and a sentence for people.
 * A `release.*` change is an event of that release; any other names the service it changed, and `release` when a
 * release caused it (the candidate version a release adds, the version its finish retires).
 */
export type ChangeRecord = {
  actor: string;
  before: unknown;
  after: unknown;
  message: string;
} & (
  | { type: `release.${string}`; release: string }
  | { type: `${'service' | 'version' | 'routes' | 'outlierDetection'}.${string}`; service: string; release?: string }
);

/** Appends the event of a change inside its transaction, so that a change and its event commit together. */
export function record(w: StoreWriter, change: ChangeRecord): void {
  const onRelease = 'release' in change && change.type.startsWith('release.');
  w.appendEvent({
    actor: change.actor,
    action: change.type,
    resourceKind: onRelease ? 'release' : 'service',
    resourceName: 'service' in change ? change.service : change.release,
    release: change.release ?? null,
    before: change.before,
    after: change.after,
    message: change.message,
  });
}

/** Thrown inside a dry-run transaction to undo it while carrying its result out. */
class DryRunRollback {
  constructor(readonly result: unknown) {}
}

export interface DesiredStateOptions {
  store: SqliteStore;
  runtime: WorkloadRuntime;
  feed: RouteTableFeed;
  log: ControllerLog;
}

/**
 * The desired state shared by the service and release controllers: changes go through `change` (one store
 * transaction, refreshed route table after it commits, or a dry run that is undone), and `reconcile` makes the
 * workload runtime reach what the store wants, then tells the listeners (the release controller's readiness check).
 */
export class DesiredState {
  readonly store: SqliteStore;
  readonly runtime: WorkloadRuntime;
  readonly feed: RouteTableFeed;
  readonly log: ControllerLog;
  private reconciling: Promise<void> = Promise.resolve();
  private readonly reconciled: (() => void)[] = [];
  private closed = false;

  constructor(options: DesiredStateOptions) {
    this.store = options.store;
    this.runtime = options.runtime;
    this.feed = options.feed;
    this.log = options.log;
  }

  /** `fn` runs after every reconcile of the runtime. */
  onReconciled(fn: () => void): void {
    this.reconciled.push(fn);
  }

  close(): void {
    this.closed = true;
  }

  /**
   * One transaction; the route table is refreshed after it commits. A dry run makes every check and write of
   * `fn` and then undoes the transaction, so it fails exactly when the real change would, and changes nothing.
   */
  change<T>(fn: (w: StoreWriter) => T, opts: ChangeOptions = {}): T {
    if (opts.dryRun) {
      try {
        this.store.write((w) => {
          throw new DryRunRollback(fn(w));
        });
      } catch (err) {
        if (err instanceof DryRunRollback) return err.result as T;
        throw err;
      }
      throw new Error('dry run: the transaction was not undone');
    }
    const result = this.store.write(fn);
    this.feed.invalidate();
    return result;
  }

  /** Waits for the runtime to reach the current desired state. */
  reconcile(): Promise<void> {
    const run = this.reconciling.then(async () => {
      if (this.closed) return;
      const desired = this.store.listServices().flatMap((s) => s.versions.map((version) => ({ service: s.name, version })));
      try {
        await this.runtime.reconcile(desired);
      } catch (err) {
        this.log.error({ err }, 'workload reconcile failed');
      }
      this.feed.invalidate();
      for (const fn of this.reconciled) fn();
    });
    this.reconciling = run;
    return run;
  }
}
