import { compileRouteTable, type RouteTable } from '../core/index.js';
import type { SqliteStore } from '../store/index.js';
import type { WorkloadRuntime } from '../workloads/workload-runtime.js';

export interface RouteTableFeedOptions {
  store: SqliteStore;
  runtime: WorkloadRuntime;
  /** Changes within this long after a publish are batched into the next snapshot; default 1 ms. */
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
  private immediate: NodeJS.Immediate | null = null;
  private lastFlushAt = -Infinity;
  private closed = false;
  private readonly watchers = new Set<(table: RouteTable) => void>();
  private readonly debounceMs: number;

  constructor(private readonly options: RouteTableFeedOptions) {
    this.debounceMs = options.debounceMs ?? 1;
  }

  /** The table as of now (compiled first if a change is pending). */
  current(): RouteTable {
    if (this.dirty || !this.table) this.flush();
    return this.table!;
  }

  /**
   * Something changed: recompile soon. The first change after a quiet spell is published right after the current
   * turn of the event loop (a burst of writes in one call still makes one snapshot); changes that follow a
   * publish within `debounceMs` are batched into the next one, so a storm of changes cannot recompile per change.
   */
  invalidate(): void {
    this.dirty = true;
    if (this.timer || this.immediate || this.closed) return;
    const quietFor = performance.now() - this.lastFlushAt;
    if (quietFor >= this.debounceMs) {
      this.immediate = setImmediate(this.flushSoon);
      return;
    }
    this.timer = setTimeout(this.flushSoon, this.debounceMs - quietFor);
  }

  private readonly flushSoon = (): void => {
    this.timer = null;
    this.immediate = null;
    try {
      this.flush();
    } catch (err) {
      this.options.onError?.(err);
    }
  };

  /** Recompiles now and notifies watchers when the content changed. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.immediate) {
      clearImmediate(this.immediate);
      this.immediate = null;
    }
    this.lastFlushAt = performance.now();
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
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    this.watchers.clear();
  }
}
