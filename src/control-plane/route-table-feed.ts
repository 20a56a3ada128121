import { compileRouteTable, type RouteTable, type ServiceRoute } from '../core/index.js';
import { diffRouteTables } from '../core/route-table-delta.js';
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
 * A service whose content is unchanged stays the same object from table to table, and each service's JSON is
 * kept, so the delta from the previous revision costs a comparison per service, made once whatever the number of
 * watchers; the JSON of the table and of that delta are made once per revision too.
 */
export class RouteTableFeed {
  private table: RouteTable | null = null;
  private previous: RouteTable | null = null;
  private listenersKey = '';
  /** Each service entry's JSON: its content for comparisons. */
  private readonly serviceKeys = new WeakMap<ServiceRoute, string>();
  private tableJson: string | null = null;
  /** The delta previous -> table as JSON; null: not made yet; false: none can be made (send the table). */
  private deltaJsonText: string | false | null = null;
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
    const before = new Map<string, ServiceRoute>();
    for (const s of this.table?.services ?? []) before.set(s.name, s);
    let changed = this.table === null || this.table.services.length !== compiled.services.length;
    const services = compiled.services.map((s) => {
      const key = JSON.stringify(s);
      const old = before.get(s.name);
      if (old !== undefined && this.serviceKeys.get(old) === key) return old;
      changed = true;
      this.serviceKeys.set(s, key);
      return s;
    });
    const listenersKey = JSON.stringify(compiled.listeners);
    if (!changed && listenersKey === this.listenersKey) return;
    this.listenersKey = listenersKey;
    this.previous = this.table;
    this.table = { ...compiled, services, revision: store.nextRouteTableRevision(), generatedAt: new Date().toISOString() };
    this.tableJson = null;
    this.deltaJsonText = null;
    for (const w of this.watchers) {
      try {
        w(this.table);
      } catch (err) {
        this.options.onError?.(err);
      }
    }
  }

  /** The JSON of `table`, made once per revision for the current table. */
  snapshotJson(table: RouteTable): string {
    if (table !== this.table) return JSON.stringify(table);
    this.tableJson ??= JSON.stringify(table);
    return this.tableJson;
  }

  /**
   * The JSON of the delta (core/route-table-delta.ts) from revision `fromRevision` to `table`, or null when there
   * is none: `table` is not the current table, `fromRevision` is not the one before it, or no delta can express
   * the change. Made once per revision, whatever the number of watchers.
   */
  deltaJson(fromRevision: number, table: RouteTable): string | null {
    const previous = this.previous;
    if (table !== this.table || previous === null || previous.revision !== fromRevision) return null;
    if (this.deltaJsonText === null) {
      const delta = diffRouteTables(previous, table, (s) => this.serviceKeys.get(s) ?? JSON.stringify(s));
      this.deltaJsonText = delta === null ? false : JSON.stringify(delta);
    }
    return this.deltaJsonText === false ? null : this.deltaJsonText;
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
