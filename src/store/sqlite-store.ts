import { statfsSync } from 'node:fs';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { ConflictError, NotFoundError, type Release, type ReleaseStatus, type Service, type ServiceSpec } from '../core/index.js';
import { isStorageFull, openDatabaseFile, prepareDataDir } from './database-file.js';
import { migrate } from './migrations.js';
import { claimDataDir } from './store-backup.js';
import type { EventFilter, NewEvent, StoredEvent } from './stored-event.js';

export interface SqliteStoreOptions {
  /** The data directory; created 0700 when missing, tightened to 0700 when not. The database is `<dataDir>/canary.db` (0600). */
  dataDir: string;
}

/** A retired version whose Deployment (`uid`) Canary Mesh left running; see `rememberRetiredVersion`. */
export interface RetiredVersion {
  service: string;
  version: string;
  deployment: string;
  uid: string;
  retiredAt: string;
}

/** A stored access token: its secret only as a salted HMAC (see migration 3). */
export interface TokenRecord {
  name: string;
  /** The public part of the token value, which finds the record. */
  id: string;
  role: string;
  /** Hex: the per-token salt and HMAC-SHA256(salt, secret). */
  salt: string;
  hash: string;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
}

/** The spec part of a release as stored (everything but status and metadata). */
export type ReleaseRecord = Omit<Release, 'resourceVersion' | 'createdAt' | 'updatedAt' | 'createdBy'>;

/**
 * Writes inside one transaction. The first write bumps the store's global revision once; every resource
 * written gets that revision as its `resourceVersion`. Throwing anywhere rolls the whole transaction back.
 */
export interface StoreWriter {
  readonly now: string;
  createService(spec: ServiceSpec, actor: string): Service;
  /** Replaces a service's spec; with `expectedVersion`, refuses (409) when it changed since. */
  updateService(spec: ServiceSpec, expectedVersion?: string): Service;
  deleteService(name: string): void;
  createRelease(release: ReleaseRecord, actor: string): Release;
  /** Changes a release's status, traffic or strategy (a mirror taken over becomes a canary). */
  updateRelease(
    name: string,
    change: { traffic?: Release['traffic']; status?: ReleaseStatus; strategy?: Release['strategy'] },
    expectedVersion?: string,
  ): Release;
  deleteRelease(name: string): void;
  appendEvent(event: NewEvent): StoredEvent;
  /** Adds a token; 409 when the name is taken. */
  createToken(token: TokenRecord): void;
  /** Removes a token; 404 when there is none of that name. */
  deleteToken(name: string): TokenRecord;
}

interface ServiceRow {
  name: string;
  spec: string;
  resource_version: number;
  created_at: string;
  updated_at: string;
  created_by: string;
}

interface ReleaseRow extends ServiceRow {
  service: string;
  status: string;
}

interface EventRow {
  id: number;
  at: string;
  revision: number;
  actor: string;
  action: string;
  resource_kind: 'service' | 'release' | 'token';
  resource_name: string;
  release: string | null;
  before: string | null;
  after: string | null;
  message: string;
}

function toService(row: ServiceRow): Service {
  const spec = JSON.parse(row.spec) as ServiceSpec;
  return {
    ...spec,
    resourceVersion: String(row.resource_version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    createdBy: row.created_by,
  };
}

function toRelease(row: ReleaseRow): Release {
  const spec = JSON.parse(row.spec) as Omit<ReleaseRecord, 'status'>;
  return {
    ...spec,
    status: JSON.parse(row.status) as ReleaseStatus,
    resourceVersion: String(row.resource_version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    createdBy: row.created_by,
  };
}

function toEvent(row: EventRow): StoredEvent {
  return {
    id: row.id,
    at: row.at,
    revision: row.revision,
    actor: row.actor,
    action: row.action,
    resourceKind: row.resource_kind,
    resourceName: row.resource_name,
    release: row.release,
    before: row.before === null ? null : JSON.parse(row.before),
    after: row.after === null ? null : JSON.parse(row.after),
    message: row.message,
  };
}

interface TokenRow {
  name: string;
  id: string;
  role: string;
  salt: string;
  hash: string;
  created_at: string;
  created_by: string;
  expires_at: string | null;
}

function toToken(row: TokenRow): TokenRecord {
  return {
    name: row.name,
    id: row.id,
    role: row.role,
    salt: row.salt,
    hash: row.hash,
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at,
  };
}

function serviceSpecOf(s: ServiceSpec | Service): ServiceSpec {
  const spec: ServiceSpec = { name: s.name, port: s.port, versions: s.versions, routes: s.routes };
  if (s.ingress) spec.ingress = s.ingress;
  if (s.outlierDetection) spec.outlierDetection = s.outlierDetection;
  return spec;
}

/** Everything of a release but its status and metadata, so that a field added to the model is stored without a change here. */
function releaseSpecOf(r: ReleaseRecord | Release): Omit<ReleaseRecord, 'status'> {
  const { status: _status, ...rest } = r as Release;
  const { resourceVersion: _rv, createdAt: _c, updatedAt: _u, createdBy: _b, ...spec } = rest;
  return spec;
}

function checkVersion(kind: string, name: string, current: number, expected: string | undefined): void {
  if (expected !== undefined && expected !== String(current)) {
    throw new ConflictError(
      `${kind} "${name}" changed since you read it (resourceVersion ${expected}, now ${current}); read it again and retry`,
      'StaleResourceVersion',
    );
  }
}

/**
 * The control plane's desired state and audit log in SQLite (WAL mode). Reads are synchronous and cheap;
 * every change goes through `write`, one transaction and one revision per call, like an etcd txn.
 */
/** Below this much free space /healthz reports the disk as full, even before a write has failed. */
const NEARLY_FULL_BYTES = 64 * 1024;
/** After a write failed for lack of space, the disk counts as full again only once this much is free. */
const RECOVERED_BYTES = 1024 * 1024;

export class SqliteStore {
  readonly file: string;
  readonly dataDir: string;
  readonly schemaVersion: number;
  private readonly db: BetterSqlite3.Database;
  private readonly claim: { release(): void };
  private tokenByIdQuery: BetterSqlite3.Statement | undefined;

  /** When the last write failed for lack of disk space (cleared by the next write that succeeds). */
  private fullSince: string | null = null;

  /**
   * Opens `<dataDir>/canary.db` after an integrity check; throws DamagedDatabaseError (naming the file and the
   * way out) when it is damaged or was truncated to nothing.
   */
  constructor(options: SqliteStoreOptions) {
    prepareDataDir(options.dataDir);
    this.dataDir = options.dataDir;
    this.file = join(options.dataDir, 'canary.db');
    this.db = openDatabaseFile(
      this.file,
      `The control plane will not run on it. Keep the file for inspection and restore the last backup: ` +
        `canary restore BACKUP_FILE --data ${options.dataDir} (docs/operations.md, "Damaged database")`,
    );
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.schemaVersion = migrate(this.db);
    // So that `canary restore` does not replace the database under us.
    this.claim = claimDataDir(options.dataDir);
  }

  /** The global revision: bumped once by every write transaction. */
  revision(): number {
    return this.db.prepare("SELECT value FROM meta WHERE key = 'revision'").pluck().get() as number;
  }

  listServices(): Service[] {
    return (this.db.prepare('SELECT * FROM services ORDER BY name').all() as ServiceRow[]).map(toService);
  }

  getService(name: string): Service | undefined {
    const row = this.db.prepare('SELECT * FROM services WHERE name = ?').get(name) as ServiceRow | undefined;
    return row && toService(row);
  }

  requireService(name: string): Service {
    const svc = this.getService(name);
    if (!svc) throw new NotFoundError(`service "${name}" does not exist`);
    return svc;
  }

  listReleases(): Release[] {
    return (this.db.prepare('SELECT * FROM releases ORDER BY name').all() as ReleaseRow[]).map(toRelease);
  }

  getRelease(name: string): Release | undefined {
    const row = this.db.prepare('SELECT * FROM releases WHERE name = ?').get(name) as ReleaseRow | undefined;
    return row && toRelease(row);
  }

  requireRelease(name: string): Release {
    const r = this.getRelease(name);
    if (!r) throw new NotFoundError(`release "${name}" does not exist`);
    return r;
  }

  /** The active release of a service (at most one; finished releases are deleted). */
  releaseOf(service: string): Release | undefined {
    const row = this.db.prepare('SELECT * FROM releases WHERE service = ?').get(service) as ReleaseRow | undefined;
    return row && toRelease(row);
  }

  listEvents(filter: EventFilter = {}): StoredEvent[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.release !== undefined) {
      where.push('release = ?');
      params.push(filter.release);
    }
    if (typeof filter.since === 'number') {
      where.push('id > ?');
      params.push(filter.since);
    } else if (typeof filter.since === 'string') {
      where.push('at >= ?');
      params.push(filter.since);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    // The newest `limit` events, returned oldest first.
    const limit = filter.limit ?? -1;
    const rows = this.db
      .prepare(`SELECT * FROM (SELECT * FROM events ${clause} ORDER BY id DESC LIMIT ?) ORDER BY id ASC`)
      .all(...params, limit) as EventRow[];
    return rows.map(toEvent);
  }

  /** Runs `fn` in one transaction; all its writes share one new revision, and a throw undoes them all. */
  write<T>(fn: (w: StoreWriter) => T): T {
    const db = this.db;
    const now = new Date().toISOString();
    let revision = 0;
    const bump = (): number => {
      if (revision === 0) {
        revision = db.prepare("UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value").pluck().get() as number;
      }
      return revision;
    };
    const getServiceRow = (name: string) => db.prepare('SELECT * FROM services WHERE name = ?').get(name) as ServiceRow | undefined;
    const getReleaseRow = (name: string) => db.prepare('SELECT * FROM releases WHERE name = ?').get(name) as ReleaseRow | undefined;

    const writer: StoreWriter = {
      now,
      createService(spec, actor) {
        if (getServiceRow(spec.name)) throw new ConflictError(`service "${spec.name}" exists already`, 'AlreadyExists');
        const rev = bump();
        db.prepare('INSERT INTO services (name, spec, resource_version, created_at, updated_at, created_by) VALUES (?, ?, ?, ?, ?, ?)').run(
          spec.name,
          JSON.stringify(serviceSpecOf(spec)),
          rev,
          now,
          now,
          actor,
        );
        return toService(getServiceRow(spec.name)!);
      },
      updateService(spec, expectedVersion) {
        const row = getServiceRow(spec.name);
        if (!row) throw new NotFoundError(`service "${spec.name}" does not exist`);
        checkVersion('service', spec.name, row.resource_version, expectedVersion);
        const rev = bump();
        db.prepare('UPDATE services SET spec = ?, resource_version = ?, updated_at = ? WHERE name = ?').run(
          JSON.stringify(serviceSpecOf(spec)),
          rev,
          now,
          spec.name,
        );
        return toService(getServiceRow(spec.name)!);
      },
      deleteService(name) {
        if (!getServiceRow(name)) throw new NotFoundError(`service "${name}" does not exist`);
        bump();
        db.prepare('DELETE FROM services WHERE name = ?').run(name);
      },
      createRelease(release, actor) {
        if (getReleaseRow(release.name)) throw new ConflictError(`release "${release.name}" exists already`, 'AlreadyExists');
        const rev = bump();
        try {
          db.prepare(
            'INSERT INTO releases (name, service, spec, status, resource_version, created_at, updated_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          ).run(
            release.name,
            release.service,
            JSON.stringify(releaseSpecOf(release)),
            JSON.stringify(release.status),
            rev,
            now,
            now,
            actor,
          );
        } catch (err) {
          if (err instanceof Error && /UNIQUE constraint failed: releases\.service/.test(err.message)) {
            throw new ConflictError(`service "${release.service}" already has an active release; finish it first`, 'ReleaseActive');
          }
          throw err;
        }
        return toRelease(getReleaseRow(release.name)!);
      },
      updateRelease(name, change, expectedVersion) {
        const row = getReleaseRow(name);
        if (!row) throw new NotFoundError(`release "${name}" does not exist`);
        checkVersion('release', name, row.resource_version, expectedVersion);
        const current = toRelease(row);
        const next = {
          ...current,
          ...(change.traffic ? { traffic: change.traffic } : {}),
          ...(change.status ? { status: change.status } : {}),
          ...(change.strategy ? { strategy: change.strategy } : {}),
        };
        const rev = bump();
        db.prepare('UPDATE releases SET spec = ?, status = ?, resource_version = ?, updated_at = ? WHERE name = ?').run(
          JSON.stringify(releaseSpecOf(next)),
          JSON.stringify(next.status),
          rev,
          now,
          name,
        );
        return toRelease(getReleaseRow(name)!);
      },
      deleteRelease(name) {
        if (!getReleaseRow(name)) throw new NotFoundError(`release "${name}" does not exist`);
        bump();
        db.prepare('DELETE FROM releases WHERE name = ?').run(name);
      },
      appendEvent(event) {
        const rev = bump();
        const info = db
          .prepare(
            'INSERT INTO events (at, revision, actor, action, resource_kind, resource_name, release, before, after, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          )
          .run(
            now,
            rev,
            event.actor,
            event.action,
            event.resourceKind,
            event.resourceName,
            event.release ?? null,
            event.before === null || event.before === undefined ? null : JSON.stringify(event.before),
            event.after === null || event.after === undefined ? null : JSON.stringify(event.after),
            event.message,
          );
        return toEvent(db.prepare('SELECT * FROM events WHERE id = ?').get(info.lastInsertRowid) as EventRow);
      },
      createToken(t) {
        if (db.prepare('SELECT 1 FROM tokens WHERE name = ?').get(t.name)) {
          throw new ConflictError(`token "${t.name}" exists already; revoke it first or choose another name`);
        }
        db.prepare(
          'INSERT INTO tokens (name, id, role, salt, hash, created_at, created_by, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        ).run(t.name, t.id, t.role, t.salt, t.hash, t.createdAt, t.createdBy, t.expiresAt);
      },
      deleteToken(name) {
        const row = db.prepare('SELECT * FROM tokens WHERE name = ?').get(name) as TokenRow | undefined;
        if (!row) throw new NotFoundError(`token "${name}" does not exist`);
        db.prepare('DELETE FROM tokens WHERE name = ?').run(name);
        return toToken(row);
      },
    };
    try {
      const result = db.transaction(() => fn(writer))();
      this.fullSince = null;
      return result;
    } catch (err) {
      // The transaction is rolled back; remember the full disk for /healthz until a write gets through again.
      if (isStorageFull(err)) this.fullSince ??= now;
      throw err;
    }
  }

  /**
   * Why the store cannot take writes, or null: a write failed for lack of space and the file system has not
   * got room again since, or it is as good as full already. For /healthz.
   */
  storageProblem(): string | null {
    let free: number | null = null;
    try {
      const fs = statfsSync(this.dataDir);
      free = fs.bavail * fs.bsize;
    } catch {
      // No statfs here: only failed writes tell.
    }
    if (this.fullSince !== null && free !== null && free >= RECOVERED_BYTES) this.fullSince = null;
    if (this.fullSince !== null)
      return `disk full: writes to ${this.file} fail for lack of space since ${this.fullSince}${free === null ? '' : ` (${free} bytes free)`}`;
    if (free !== null && free < NEARLY_FULL_BYTES) return `disk full: ${free} bytes free where ${this.file} is`;
    return null;
  }

  listTokens(): TokenRecord[] {
    return (this.db.prepare('SELECT * FROM tokens ORDER BY name').all() as TokenRow[]).map(toToken);
  }

  /** The token whose value carries this id, if any. Runs on every request made with a stored token: prepared once. */
  tokenById(id: string): TokenRecord | undefined {
    this.tokenByIdQuery ??= this.db.prepare('SELECT * FROM tokens WHERE id = ?');
    const row = this.tokenByIdQuery.get(id) as TokenRow | undefined;
    return row && toToken(row);
  }

  /**
   * Versions retired through Canary Mesh whose Deployment was left running (cluster mode). Bookkeeping of the
   * cluster import, not a resource: these calls bump no revision and record no event.
   */
  listRetiredVersions(): RetiredVersion[] {
    return (
      this.db.prepare('SELECT * FROM retired_versions ORDER BY service, version').all() as {
        service: string;
        version: string;
        deployment: string;
        uid: string;
        retired_at: string;
      }[]
    ).map((r) => ({ service: r.service, version: r.version, deployment: r.deployment, uid: r.uid, retiredAt: r.retired_at }));
  }

  rememberRetiredVersion(r: Omit<RetiredVersion, 'retiredAt'>): void {
    this.db
      .prepare('INSERT OR REPLACE INTO retired_versions (service, version, deployment, uid, retired_at) VALUES (?, ?, ?, ?, ?)')
      .run(r.service, r.version, r.deployment, r.uid, new Date().toISOString());
  }

  forgetRetiredVersion(service: string, version: string): void {
    this.db.prepare('DELETE FROM retired_versions WHERE service = ? AND version = ?').run(service, version);
  }

  /**
   * The next revision of the compiled route table. Separate from the resource revision because endpoint
   * readiness changes the table without any write; persisted so proxies see it grow across restarts.
   */
  nextRouteTableRevision(): number {
    return this.db.prepare("UPDATE meta SET value = value + 1 WHERE key = 'route_table_revision' RETURNING value").pluck().get() as number;
  }

  close(): void {
    if (this.db.open) this.db.close();
    this.claim.release();
  }
}
