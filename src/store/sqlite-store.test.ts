import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, type ReleaseStatus, type Service, ServiceSpec } from '../core/index.js';
import { SqliteStore, type StoreWriter } from './sqlite-store.js';
import { damagePages } from '../../test/support/sqlite-damage.js';

const spec = (name = 'reviews') =>
  ServiceSpec.parse({ name, versions: [{ name: 'v1', workload: { kind: 'endpoints', addresses: ['127.0.0.1:9001'] } }] });
const status: ReleaseStatus = { phase: 'Pending', governor: null, observed: {}, conditions: [], candidateCreated: false };
const release = (name = 'reviews-canary', service = 'reviews') => ({
  name,
  service,
  strategy: 'canary' as const,
  baseline: 'v1',
  candidate: { name: 'v2' },
  traffic: { weights: { v1: 50, v2: 50 } },
  status,
});

/** The event alice's creating `service` leaves. */
function serviceCreated(w: StoreWriter, service: Service, message: string): void {
  w.appendEvent({
    actor: 'alice',
    action: 'service.created',
    resourceKind: 'service',
    resourceName: service.name,
    before: null,
    after: service,
    message,
  });
}

function everything(store: SqliteStore) {
  return { services: store.listServices(), releases: store.listReleases(), events: store.listEvents(), revision: store.revision() };
}

describe('SqliteStore', () => {
  let root: string;
  let dataDir: string;
  let store: SqliteStore;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'canary-store-'));
    dataDir = join(root, 'data');
    store = new SqliteStore({ dataDir });
  });
  afterEach(() => {
    store.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('creates the data dir 0700 and a WAL-mode database with its migrations recorded', () => {
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(store.file).toBe(join(dataDir, 'canary.db'));
    expect(store.schemaVersion).toBe(3);
    const db = new BetterSqlite3(store.file, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare('SELECT version, name FROM schema_migrations').all()).toEqual([
        { version: 1, name: 'resources and events' },
        { version: 2, name: 'retired versions left running (cluster mode)' },
        { version: 3, name: 'access tokens' },
      ]);
    } finally {
      db.close();
    }
  });

  it('bumps one global revision per write transaction and stamps it as resourceVersion', () => {
    expect(store.revision()).toBe(0);
    const svc = store.write((w) => {
      const s = w.createService(spec(), 'alice');
      serviceCreated(w, s, 'm');
      return s;
    });
    expect(store.revision()).toBe(1);
    expect(svc).toMatchObject({ name: 'reviews', resourceVersion: '1', createdBy: 'alice' });
    const r = store.write((w) => w.createRelease(release(), 'bob'));
    expect(r.resourceVersion).toBe('2');
    const r2 = store.write((w) => w.updateRelease('reviews-canary', { status: { ...status, phase: 'Progressing' } }));
    expect(r2.resourceVersion).toBe('3');
    expect(r2.createdAt).toBe(r.createdAt);
    expect(store.getService('reviews')!.resourceVersion).toBe('1');
    expect(store.listEvents()).toHaveLength(1);
    expect(store.listEvents()[0]).toMatchObject({ id: 1, revision: 1, actor: 'alice', before: null, after: { name: 'reviews' } });
  });

  it('rolls back every step of a failed transaction, revision included', () => {
    store.write((w) => w.createService(spec(), 'alice'));
    const before = everything(store);
    expect(() =>
      store.write((w) => {
        w.createService(spec('ratings'), 'alice');
        w.appendEvent({
          actor: 'alice',
          action: 'x',
          resourceKind: 'service',
          resourceName: 'ratings',
          before: null,
          after: null,
          message: 'm',
        });
        w.createService(spec('reviews'), 'alice'); // exists: throws
      }),
    ).toThrow(/service "reviews" exists already/);
    expect(everything(store)).toEqual(before);
  });

  it('refuses a stale expected resourceVersion with a conflict', () => {
    store.write((w) => w.createRelease(release(), 'bob'));
    store.write((w) => w.updateRelease('reviews-canary', { traffic: { weights: { v1: 80, v2: 20 } } }, '1'));
    const before = everything(store);
    expect(() => store.write((w) => w.updateRelease('reviews-canary', { traffic: { weights: { v1: 10, v2: 90 } } }, '1'))).toThrow(
      ConflictError,
    );
    expect(() => store.write((w) => w.updateRelease('reviews-canary', { traffic: { weights: { v1: 10, v2: 90 } } }, '1'))).toThrow(
      /changed since you read it \(resourceVersion 1, now 2\)/,
    );
    expect(everything(store)).toEqual(before);
  });

  it('allows one release per service', () => {
    store.write((w) => w.createRelease(release('a'), 'bob'));
    expect(() => store.write((w) => w.createRelease(release('b'), 'bob'))).toThrow(/already has an active release/);
    expect(store.listReleases().map((r) => r.name)).toEqual(['a']);
  });

  it('filters events by release, since (id or time) and limit, oldest first', () => {
    for (const [i, rel] of ['a', 'b', 'a', 'a'].entries()) {
      store.write((w) =>
        w.appendEvent({
          actor: 'x',
          action: `e${i + 1}`,
          resourceKind: 'release',
          resourceName: rel,
          release: rel,
          before: null,
          after: { i },
          message: '',
        }),
      );
    }
    expect(store.listEvents().map((e) => e.action)).toEqual(['e1', 'e2', 'e3', 'e4']);
    expect(store.listEvents({ release: 'a' }).map((e) => e.action)).toEqual(['e1', 'e3', 'e4']);
    expect(store.listEvents({ since: 2 }).map((e) => e.action)).toEqual(['e3', 'e4']);
    expect(store.listEvents({ limit: 2 }).map((e) => e.action)).toEqual(['e3', 'e4']);
    expect(store.listEvents({ release: 'a', limit: 1 }).map((e) => e.action)).toEqual(['e4']);
    expect(store.listEvents({ since: '2999-01-01T00:00:00.000Z' })).toEqual([]);
  });

  it('restores everything exactly after a restart on the same file', () => {
    store.write((w) => {
      const s = w.createService(
        { ...spec(), ingress: { paths: ['/reviews'] }, routes: [{ route: [{ version: 'v1', weight: 100 }] }] },
        'alice',
      );
      serviceCreated(w, s, 'created');
    });
    store.write((w) => w.createRelease(release(), 'bob'));
    store.nextRouteTableRevision();
    const before = everything(store);
    store.close();
    store = new SqliteStore({ dataDir });
    expect(everything(store)).toEqual(before);
    // the route-table revision keeps growing across restarts
    expect(store.nextRouteTableRevision()).toBe(2);
  });

  it('remembers retired versions across restarts without bumping the revision', () => {
    store.rememberRetiredVersion({ service: 'reviews', version: 'v1', deployment: 'reviews-v1', uid: 'uid-1' });
    store.rememberRetiredVersion({ service: 'reviews', version: 'v1', deployment: 'reviews-v1', uid: 'uid-2' }); // replaces
    expect(store.revision()).toBe(0);
    store.close();
    store = new SqliteStore({ dataDir });
    expect(store.listRetiredVersions()).toEqual([
      { service: 'reviews', version: 'v1', deployment: 'reviews-v1', uid: 'uid-2', retiredAt: expect.any(String) },
    ]);
    store.forgetRetiredVersion('reviews', 'v1');
    expect(store.listRetiredVersions()).toEqual([]);
  });
});

describe('SqliteStore on a damaged or loosely kept data directory', () => {
  let root: string;
  let dataDir: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'canary-store-'));
    dataDir = join(root, 'data');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** A store with a few hundred events, closed (WAL checkpointed into the main file). */
  function filledStore(): string {
    const store = new SqliteStore({ dataDir });
    store.write((w) => w.createService(spec(), 'alice'));
    for (let i = 0; i < 300; i++) {
      store.write((w) =>
        w.appendEvent({
          actor: 'alice',
          action: 'service.changed',
          resourceKind: 'service',
          resourceName: 'reviews',
          before: { i },
          after: { i: i + 1, padding: 'x'.repeat(200) },
          message: `change ${i}`,
        }),
      );
    }
    store.close();
    return join(dataDir, 'canary.db');
  }

  it('refuses to open a canary.db with damaged pages, naming the file and what to do', () => {
    const file = filledStore();
    damagePages(file);
    expect(() => new SqliteStore({ dataDir })).toThrow(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the database is damaged \\(.+\\)\\. .*canary restore`),
    );
  });

  it('refuses a canary.db truncated to zero bytes instead of starting empty', () => {
    const file = filledStore();
    truncateSync(file, 0);
    expect(() => new SqliteStore({ dataDir })).toThrow(/canary\.db: the file is empty \(0 bytes\).*canary restore/);
    expect(statSync(file).size).toBe(0); // left as it was, for the operator to look at
  });

  it('tightens an existing data directory to 0700 and its files (canary.db, admin-token) to 0600', () => {
    filledStore();
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, 'canary.db'), 0o644);
    writeFileSync(join(dataDir, 'admin-token'), 'secret\n', { mode: 0o644 });
    const store = new SqliteStore({ dataDir });
    try {
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(statSync(join(dataDir, 'admin-token')).mode & 0o777).toBe(0o600);
      for (const f of ['canary.db', 'canary.db-wal', 'canary.db-shm']) expect(statSync(join(dataDir, f)).mode & 0o777).toBe(0o600);
    } finally {
      store.close();
    }
  });

  it('creates a new canary.db 0600 whatever the umask', () => {
    const old = process.umask(0o022);
    try {
      const store = new SqliteStore({ dataDir });
      store.close();
    } finally {
      process.umask(old);
    }
    expect(statSync(join(dataDir, 'canary.db')).mode & 0o777).toBe(0o600);
  });

  it('refuses a shared directory such as /tmp as the data directory instead of closing it to everyone', () => {
    mkdirSync(dataDir, { mode: 0o1777 });
    chmodSync(dataDir, 0o1777);
    expect(() => new SqliteStore({ dataDir })).toThrow(/a shared directory \(sticky bit, like \/tmp\)/);
    expect(statSync(dataDir).mode & 0o7777).toBe(0o1777);
  });
});
