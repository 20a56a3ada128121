import type { Release, Service } from '../core/index.js';
import type { ClusterTraffic } from '../kubernetes/index.js';
import type { SqliteStore } from '../store/index.js';
import type { RouteTableFeed } from './route-table-feed.js';

export interface ClusterSyncOptions {
  store: SqliteStore;
  feed: RouteTableFeed;
  traffic: ClusterTraffic;
  /** Who failures are recorded as in the event log; default `controller`. */
  actor?: string;
  /** A failed apply is tried again after this long; default 5000 ms. */
  retryMs?: number;
  log?: { info(msg: string): void; warn(msg: string): void };
}

interface Applied {
  /** The rendered objects last applied (JSON), to skip applies that would change nothing. */
  key: string;
  release: Release | undefined;
}

/**
 * Keeps the cluster's traffic objects equal to the store: after every change of the route table (a release
 * created, its traffic changed, taken over, rolled back, resumed, its candidate ready or failed, a service's
 * routes replaced) it applies the service's VirtualService + DestinationRule (or HTTPRoute) with
 * `ClusterTraffic.sync`, and when a release has ended it routes to the kept version alone with
 * `ClusterTraffic.finish`. Only services with a release or routes of their own are touched (and those touched
 * before), so starting against a namespace writes nothing until a release starts. One apply at a time.
 */
export class ClusterSync {
  private readonly applied = new Map<string, Applied>();
  /** The last failure per service, so the event log gets each distinct failure once. */
  private readonly failures = new Map<string, string>();
  private queue: Promise<void> = Promise.resolve();
  private queued = false;
  private retry: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private closed = false;
  private readonly log: NonNullable<ClusterSyncOptions['log']>;

  constructor(private readonly options: ClusterSyncOptions) {
    this.log = options.log ?? { info() {}, warn() {} };
  }

  /** Follows the route table; resolves once the first sync is done. */
  start(): Promise<void> {
    this.unsubscribe = this.options.feed.subscribe(() => void this.schedule());
    return this.schedule();
  }

  /** Resolves once the traffic objects are applied for the store as it is now (failures are logged, not thrown). */
  settle(): Promise<void> {
    if (!this.closed) this.options.feed.flush();
    return this.schedule();
  }

  /** Whether the service's traffic objects have been applied by this sync (so an empty rule list is applied too). */
  touches(service: string): boolean {
    return this.applied.has(service);
  }

  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    if (this.retry) clearTimeout(this.retry);
  }

  /** Queues one sync of every service after the ones running; calls made meanwhile share it. */
  private schedule(): Promise<void> {
    if (this.closed) return this.queue;
    if (this.queued) return this.queue;
    this.queued = true;
    this.queue = this.queue.then(async () => {
      this.queued = false;
      if (!this.closed) await this.syncAll();
    });
    return this.queue;
  }

  private async syncAll(): Promise<void> {
    const { store } = this.options;
    const releases = new Map(store.listReleases().map((r) => [r.service, r]));
    const services = store.listServices();
    for (const name of this.applied.keys()) if (!services.some((s) => s.name === name)) this.applied.delete(name);
    let failed = false;
    for (const service of services) {
      const release = releases.get(service.name);
      try {
        await this.syncService(service, release);
        this.failures.delete(service.name);
      } catch (err) {
        failed = true;
        this.recordFailure(service, release, (err as Error).message);
      }
    }
    if (failed && !this.retry && !this.closed) {
      this.retry = setTimeout(() => {
        this.retry = null;
        void this.schedule();
      }, this.options.retryMs ?? 5000);
      this.retry.unref();
    }
  }

  private async syncService(service: Service, release: Release | undefined): Promise<void> {
    const { traffic } = this.options;
    const before = this.applied.get(service.name);
    if (!release && service.routes.length === 0 && !before) return; // never routed by us: leave it alone
    const key = JSON.stringify(traffic.render(service, release));
    if (!release && before?.release) {
      // The release ended (finished): the stable version is the kept one; the other is gone from the service.
      const keep = service.versions[0]!.name;
      const ended = before.release;
      const retire = [ended.baseline, ended.candidate.name].find((v) => v !== keep && !service.versions.some((x) => x.name === v));
      await traffic.finish(service, keep, retire ?? null);
      this.log.info(`cluster: ${service.name} routed to ${keep} alone${retire ? `; subset ${retire} removed` : ''}`);
      this.applied.set(service.name, { key, release: undefined });
      return;
    }
    if (before?.key === key) {
      before.release = release;
      return;
    }
    const actions = await traffic.sync(service, release);
    const changed = actions.filter((a) => a.action !== 'unchanged');
    if (changed.length > 0)
      this.log.info(`cluster: ${changed.map((a) => `${a.action} ${a.object.kind} ${a.object.metadata.name}`).join(', ')}`);
    this.applied.set(service.name, { key, release });
  }

  private recordFailure(service: Service, release: Release | undefined, message: string): void {
    const text = `traffic of "${service.name}" not applied to the cluster: ${message}`;
    this.log.warn(text);
    if (this.failures.get(service.name) === message || this.closed) return;
    this.failures.set(service.name, message);
    try {
      this.options.store.write((w) =>
        w.appendEvent({
          actor: this.options.actor ?? 'controller',
          action: 'cluster.apply-failed',
          resourceKind: 'service',
          resourceName: service.name,
          release: release?.name ?? null,
          before: null,
          after: null,
          message: text,
        }),
      );
    } catch {
      // the store is closing; the log line above remains
    }
  }
}
