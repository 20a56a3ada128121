import type { Service, ServiceSpec, Workload } from '../core/index.js';
import { type ClusterInventory, FIELD_MANAGER, type KubernetesBackend, MANAGED_BY } from '../kubernetes/index.js';
import type { SqliteStore } from '../store/index.js';
import type { ServiceController } from './service-controller.js';

export interface ClusterInventorySyncOptions {
  backend: KubernetesBackend;
  store: SqliteStore;
  services: ServiceController;
  /** Who the imported changes are recorded as; default `cluster`. */
  actor?: string;
  /** Inventory changes within this window are handled together; default 50 ms. */
  debounceMs?: number;
  log?: { info(msg: string): void; warn(msg: string): void };
}

/**
 * Keeps the store's services and versions equal to what the namespace runs. At start: every Service with
 * versioned Deployments the store lacks is registered, and every version the store lacks is added. Then, as
 * the watches report changes: a Deployment that appears becomes a version, one that disappears is removed
 * (unless a release or the routes use it; then a warning), one whose image, env, args or replicas change
 * updates its version's workload. A service whose Kubernetes Service is deleted (or that no Deployment runs any
 * more) is removed, at start too, unless a release is active for it (then a warning, and it is removed once
 * possible). Deployments Canary Mesh created belong to releases and are not imported into a service the store
 * knows already; a version retired through Canary Mesh whose Deployment is left running (not ours, no --adopt)
 * is remembered in the store (see ClusterRuntime) and not imported again while that Deployment runs, not even
 * after a restart.
 */
export class ClusterInventorySync {
  private previous: Map<string, Set<string>> = new Map();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly actor: string;
  private readonly log: NonNullable<ClusterInventorySyncOptions['log']>;
  private readonly warned = new Set<string>();
  /** Services that left the cluster but could not be removed yet (a release was active). */
  private readonly leaving = new Set<string>();

  constructor(private readonly options: ClusterInventorySyncOptions) {
    this.actor = options.actor ?? 'cluster';
    this.log = options.log ?? { info() {}, warn() {} };
  }

  /** Imports what the cluster runs now and follows its changes. */
  async start(): Promise<void> {
    this.options.backend.onInventoryChange(() => this.schedule());
    await this.apply(this.options.backend.inventory(), true);
  }

  /** Resolves once the changes seen so far are in the store. */
  async settle(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.running = this.running.then(() => this.apply(this.options.backend.inventory(), false));
    }
    await this.running;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.running.then(() => this.apply(this.options.backend.inventory(), false));
    }, this.options.debounceMs ?? 50);
  }

  private async apply(inventory: ClusterInventory, initial: boolean): Promise<void> {
    if (this.closed) return;
    for (const w of inventory.warnings) {
      if (this.warned.has(w)) continue;
      this.warned.add(w);
      this.log.warn(`cluster: ${w}`);
    }
    this.pruneRetired();
    const now = new Map(inventory.services.map((s) => [s.name, new Set(s.versions.map((v) => v.name))]));
    for (const spec of inventory.services) {
      try {
        await this.applyService(spec, initial);
      } catch (err) {
        this.log.warn(`cluster: ${spec.name}: ${(err as Error).message}`);
      }
    }
    await this.removeDeparted(now, initial);
    // Departures: versions the cluster ran before and runs no more.
    if (!initial) {
      for (const [service, versions] of this.previous) {
        if (!now.has(service)) continue; // the whole service left: see removeDeparted
        for (const version of versions) {
          if (now.get(service)?.has(version)) continue;
          const current = this.options.store.getService(service);
          if (!current?.versions.some((v) => v.name === version)) continue;
          try {
            await this.options.services.deleteVersion(service, version, this.actor);
            this.log.info(`cluster: ${service} ${version} no longer runs; version removed`);
          } catch (err) {
            this.log.warn(`cluster: ${service} ${version} no longer runs, but ${(err as Error).message}`);
          }
        }
      }
    }
    this.previous = now;
  }

  /**
   * Services the store has that the cluster no longer runs (their Kubernetes Service deleted, or no Deployment
   * left): removed, unless a release is active for them; then tried again at every change until it is possible.
   * At start, every service of the store is checked (it may have been deleted while the control plane was away).
   */
  private async removeDeparted(now: Map<string, Set<string>>, initial: boolean): Promise<void> {
    const { store, services } = this.options;
    const departed = new Set(this.leaving);
    for (const name of initial ? store.listServices().map((s) => s.name) : this.previous.keys()) departed.add(name);
    for (const name of departed) {
      if (now.has(name) || !store.getService(name)) {
        this.leaving.delete(name);
        continue;
      }
      const ns = this.options.backend.namespace;
      try {
        await services.deleteService(
          name,
          this.actor,
          `service "${name}" removed: the cluster no longer runs it (no Service ${ns}/${name} with a port, or no Deployment of it labelled app=${name}, version=<v>); its Deployments are left as they are`,
        );
        this.leaving.delete(name);
        this.log.info(`cluster: ${name} no longer runs in namespace ${ns}; service removed`);
      } catch (err) {
        if (!this.leaving.has(name)) this.log.warn(`cluster: ${name} no longer runs in namespace ${ns}, but ${(err as Error).message}`);
        this.leaving.add(name);
      }
    }
  }

  /** Forgets retired versions whose Deployment is gone or was replaced (another uid): such a one is new. */
  private pruneRetired(): void {
    const { store, backend } = this.options;
    for (const r of store.listRetiredVersions()) {
      if (backend.runtime.deploymentOf(r.service, r.version)?.metadata.uid === r.uid) continue;
      store.forgetRetiredVersion(r.service, r.version);
    }
  }

  private retired(service: string, version: string): boolean {
    const uid = this.options.backend.runtime.deploymentOf(service, version)?.metadata.uid;
    return this.options.store.listRetiredVersions().some((r) => r.service === service && r.version === version && r.uid === uid);
  }

  private async applyService(spec: ServiceSpec, initial: boolean): Promise<void> {
    const { store, services } = this.options;
    const current: Service | undefined = store.getService(spec.name);
    if (!current) {
      const versions = spec.versions.filter((v) => !this.retired(spec.name, v.name));
      if (versions.length === 0) return;
      await services.createService({ ...spec, versions }, this.actor);
      this.log.info(`cluster: service ${spec.name} registered with ${versions.map((v) => v.name).join(', ')}`);
      return;
    }
    const seen = this.previous.get(spec.name);
    for (const version of spec.versions) {
      const known = current.versions.find((v) => v.name === version.name);
      if (known) {
        // What runs is what the store shows: an image, env, args or replicas changed in the cluster.
        if (!sameWorkload(known.workload, version.workload)) {
          await services.updateVersionWorkload(spec.name, version.name, version.workload, this.actor);
          this.log.info(`cluster: ${spec.name} ${version.name}: its Deployment changed; workload updated`);
        }
        continue;
      }
      if (this.ours(spec.name, version.name)) continue; // a release's candidate, or one being retired
      if (this.retired(spec.name, version.name)) continue; // retired through Canary Mesh, its Deployment left running
      if (!initial && seen?.has(version.name)) continue; // ran all along: a retired version left running
      await services.addVersion(spec.name, version, this.actor);
      this.log.info(`cluster: ${spec.name} ${version.name} runs; version added`);
    }
  }

  private ours(service: string, version: string): boolean {
    return this.options.backend.runtime.deploymentOf(service, version)?.metadata.labels?.[MANAGED_BY] === FIELD_MANAGER;
  }
}

/** Workloads as the cluster import reads them: env compared by content, absent args equal to none. */
function sameWorkload(a: Workload, b: Workload): boolean {
  const norm = (w: Workload) => {
    const o = w as Record<string, unknown>;
    const env = (o.env ?? {}) as Record<string, string>;
    const all: Record<string, unknown> = {
      ...o,
      env: Object.fromEntries(Object.entries(env).sort(([x], [y]) => x.localeCompare(y))),
      args: o.args ?? null,
    };
    return JSON.stringify(
      Object.keys(all)
        .sort()
        .map((k) => [k, all[k]]),
    );
  };
  return norm(a) === norm(b);
}
