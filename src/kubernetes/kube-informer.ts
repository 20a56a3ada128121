import { KubeApiError, type KubeClient } from './kube-client.js';
import type { KubeObject, ResourceType } from './kube-object.js';

export interface KubeInformerOptions {
  namespace?: string;
  labelSelector?: string;
  /**
   * First delay before reconnecting after a failure; doubles up to maxBackoffMs. Default 200 ms. Each delay is
   * jittered (between 1x and 2x), so that many informers cut off together do not come back in step.
   */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Random source in [0, 1) for the jitter (tests); default Math.random. */
  random?: () => number;
}

/**
 * A local copy of one kind of object, kept current: LIST, then WATCH from the list's resourceVersion. A watch
 * that ends (timeout, dropped connection) resumes from the last resourceVersion seen; a 410 Expired (history
 * compacted while away) re-lists and diffs by uid, so no change is lost either way: an object deleted and
 * created again under the same name while away comes out as DELETED then ADDED. A "Too large resource
 * version" (a failover to an API server whose watch cache is behind) re-lists as well, from etcd.
 */
export class KubeInformer<T extends KubeObject = KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly listeners: ((type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T) => void)[] = [];
  private readonly abort = new AbortController();
  private resourceVersion = '';
  private running: Promise<void> | null = null;
  private syncedResolve!: () => void;
  private syncedReject!: (err: Error) => void;
  /** Resolves after the first LIST. */
  readonly synced: Promise<void>;
  /** Counts, for tests and diagnostics. */
  readonly stats = { lists: 0, watches: 0, lastError: '' };

  constructor(
    private readonly client: KubeClient,
    private readonly type: ResourceType,
    private readonly options: KubeInformerOptions = {},
  ) {
    this.synced = new Promise((resolve, reject) => {
      this.syncedResolve = resolve;
      this.syncedReject = reject;
    });
    this.synced.catch(() => {});
  }

  start(): Promise<void> {
    this.running ??= this.loop();
    return this.synced;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => {});
  }

  items(): T[] {
    return [...this.cache.values()];
  }

  get(name: string): T | undefined {
    return this.cache.get(name);
  }

  onChange(listener: (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T) => void): void {
    this.listeners.push(listener);
  }

  /** The next back-off: the nominal delay stretched by a random factor between 1 and 2. */
  private jittered(delay: number): number {
    return Math.round(delay * (1 + (this.options.random ?? Math.random)()));
  }

  private async loop(): Promise<void> {
    let delay = this.options.backoffMs ?? 200;
    let needList = true;
    let first = true;
    while (!this.abort.signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
          if (first) this.syncedResolve();
          first = false;
        }
        this.stats.watches++;
        const openedAt = Date.now();
        let expired = false;
        await this.client.watch<T>(
          this.type,
          { ...this.watchScope(), resourceVersion: this.resourceVersion, signal: this.abort.signal },
          (e) => {
            if (e.type === 'ERROR') {
              if (mustRelist(e.object as unknown as WatchStatus)) expired = true;
              return;
            }
            if (e.object.metadata?.resourceVersion) this.resourceVersion = e.object.metadata.resourceVersion;
            if (e.type === 'BOOKMARK') return;
            this.applyEvent(e.type, e.object);
          },
        );
        if (expired) needList = true;
        // A watch that ran a while and ended is normal (server timeout): resume at once; one that ends at
        // once again and again backs off, so a misbehaving server is not hammered.
        if (Date.now() - openedAt < 1000 && !expired) {
          await sleep(this.jittered(delay), this.abort.signal);
          delay = Math.min(delay * 2, this.options.maxBackoffMs ?? 5000);
        } else delay = this.options.backoffMs ?? 200;
      } catch (err) {
        if (this.abort.signal.aborted) break;
        this.stats.lastError = (err as Error).message;
        if (err instanceof KubeApiError && mustRelist({ code: err.status, details: { causes: err.causes as never } })) needList = true;
        else if (first) {
          // The first LIST failing is the caller's to report (no cluster, no permission).
          this.syncedReject(err as Error);
          return;
        }
        await sleep(this.jittered(delay), this.abort.signal);
        delay = Math.min(delay * 2, this.options.maxBackoffMs ?? 5000);
      }
    }
  }

  private watchScope(): { namespace?: string; labelSelector?: string } {
    return {
      ...(this.options.namespace ? { namespace: this.options.namespace } : {}),
      ...(this.options.labelSelector ? { labelSelector: this.options.labelSelector } : {}),
    };
  }

  private async relist(): Promise<void> {
    this.stats.lists++;
    const { items, resourceVersion } = await this.client.list<T>(this.type, this.watchScope());
    this.resourceVersion = resourceVersion;
    // By uid, not by name: a name whose object was replaced while away is a deletion and a creation.
    const listed = new Map(items.map((o) => [o.metadata.uid ?? o.metadata.name, o]));
    for (const old of [...this.cache.values()]) if (!listed.has(old.metadata.uid ?? old.metadata.name)) this.applyEvent('DELETED', old);
    for (const obj of items) {
      const old = this.cache.get(obj.metadata.name);
      if (!old) this.applyEvent('ADDED', obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.applyEvent('MODIFIED', obj);
    }
  }

  private applyEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void {
    if (type === 'DELETED') this.cache.delete(obj.metadata.name);
    else this.cache.set(obj.metadata.name, obj);
    for (const l of this.listeners) {
      try {
        l(type, obj);
      } catch {
        // a listener's failure is its own business
      }
    }
  }
}

interface WatchStatus {
  code?: number;
  details?: { causes?: { reason?: string }[] };
}

/**
 * Whether a watch's error means the resourceVersion cannot be resumed from: 410 Expired (history compacted),
 * or 504 "Too large resource version" (this API server's cache is behind the version we have seen).
 */
function mustRelist(status: WatchStatus): boolean {
  if (status.code === 410) return true;
  return status.code === 504 && (status.details?.causes ?? []).some((c) => c.reason === 'ResourceVersionTooLarge');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
