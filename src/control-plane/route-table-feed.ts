import { compileRouteTable, type RouteTable } from '../core/index.js';
import type { SqliteStore } from '../store/index.js';
import type { WorkloadRuntime } from '../workloads/workload-runtime.js';

export interface RouteTableFeedOptions {
  store: SqliteStore;
  runtime: WorkloadRuntime;
  /** Changes within this window are compiled into one snapshot; default 5 ms. */
  debounceMs?: number;
  onError?: (err: unknown) => void;
}

/**
 * The compiled route table and its watchers. Any change (a write, an endpoint turning ready) marks it
 * stale; a debounced recompile publishes a new snapshot only when its content differs, with a new revision.
 */
export class RouteTableFeed {
  private table: RouteTable | null = null;
  private contentKey = '';
  private dirty = true;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly watchers = new Set<(table: RouteTable) => void>();
  private readonly debounceMs: number;

  constructor(private readonly options: RouteTableFeedOptions) {
    this.debounceMs = options.debounceMs ?? 5;
  }

  /** The table as of now (compiled first if a change is pending). */
  current(): RouteTable {
    if (this.dirty || !this.table) this.flush();
    return this.table!;
  }

  /** Something changed: recompile soon. */
  invalidate(): void {
    this.dirty = true;
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      try {
        this.flush();
      } catch (err) {
        this.options.onError?.(err);
      }
    }, this.debounceMs);
  }

  /** Recompiles now and notifies watchers when the content changed. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.dirty = false;
    const { store, runtime } = this.options;
    const compiled = compileRouteTable({
      revision: 0,
      services: store.listServices(),
      releases: store.listReleases(),
      endpoints: (service, version) => runtime.endpoints(service, version),
      listeners: runtime.listeners(),
      now: '',
    });
    const key = JSON.stringify([compiled.services, compiled.listeners]);
    if (this.table && key === this.contentKey) return;
    this.contentKey = key;
    this.table = { ...compiled, revision: store.nextRouteTableRevision(), generatedAt: new Date().toISOString() };
    for (const w of this.watchers) {
      try {
        w(this.table);
      } catch (err) {
        this.options.onError?.(err);
      }
    }
  }

  /** Calls `watcher` with every new snapshot; returns the unsubscribe function. */
  subscribe(watcher: (table: RouteTable) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.watchers.clear();
  }
}
