import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { DamagedDatabaseError, openDatabaseFile } from '../store/database-file.js';
import type { SpanData } from '../telemetry-wire/telemetry-batch.js';

export interface TraceStoreOptions {
  /** The SQLite file (e.g. `<data>/traces.db`), or `:memory:`. */
  file: string;
  /** Traces older than this are deleted; default 24 h. */
  maxAgeMs?: number;
  /** At most this many spans are kept (the oldest traces go first); default 200000. */
  maxSpans?: number;
  now?: () => number;
  /** Told when a damaged file was moved aside and an empty one started (see the constructor). */
  onWarning?: (message: string) => void;
}

export interface TraceSummary {
  traceId: string;
  rootService: string;
  rootOperation: string;
  /** ISO time of the first span. */
  startTime: string;
  durationMs: number;
  spanCount: number;
  /** Spans in error. */
  errors: number;
  services: string[];
}

export interface TraceQuery {
  service?: string;
  operation?: string;
  minDurationMs?: number;
  /** Only traces with at least one span in error. */
  errors?: boolean;
  /** Started at or after this (ms since the epoch). */
  since?: number;
  /** Started before this (ms since the epoch). */
  until?: number;
  limit?: number;
}

/** A span as the API returns it: the stored span, its start as ISO time, and its children's ids. */
export type StoredSpan = SpanData & { startedAt: string; children: string[] };

interface SpanRow {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  kind: string;
  name: string;
  service: string;
  version: string;
  instance: string;
  start_ms: number;
  duration_ms: number;
  status_code: number;
  error: number;
  host: string;
  pid: number;
  peer_address: string;
  method: string;
  path: string;
  peer_service: string;
  response_flags: string;
  retried: number;
  mirrored: number;
}

interface TraceRow {
  trace_id: string;
  root_service: string;
  root_operation: string;
  start_ms: number;
  duration_ms: number;
  span_count: number;
  errors: number;
  services: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS spans (
  trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT, kind TEXT NOT NULL, name TEXT NOT NULL,
  service TEXT NOT NULL, version TEXT NOT NULL, instance TEXT NOT NULL, start_ms REAL NOT NULL, duration_ms REAL NOT NULL,
  status_code INTEGER NOT NULL, error INTEGER NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, peer_address TEXT NOT NULL,
  method TEXT NOT NULL, path TEXT NOT NULL, peer_service TEXT NOT NULL, response_flags TEXT NOT NULL,
  retried INTEGER NOT NULL, mirrored INTEGER NOT NULL,
  PRIMARY KEY (trace_id, span_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS spans_by_service ON spans (service, start_ms);
CREATE INDEX IF NOT EXISTS spans_by_operation ON spans (name, start_ms);
CREATE TABLE IF NOT EXISTS traces (
  trace_id TEXT PRIMARY KEY, root_service TEXT NOT NULL, root_operation TEXT NOT NULL, start_ms REAL NOT NULL,
  duration_ms REAL NOT NULL, span_count INTEGER NOT NULL, errors INTEGER NOT NULL, services TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_by_start ON traces (start_ms);
CREATE INDEX IF NOT EXISTS traces_by_duration ON traces (duration_ms);
`;

/**
 * Opens the trace file 0600 after an integrity check. Traces are disposable (retention deletes them within a
 * day anyway), so a damaged file does not stop the control plane: it is moved aside, with its -wal and -shm,
 * to `<file>.damaged-<time>` for whoever wants to look at it, and an empty one takes its place.
 */
function openTraceFile(file: string, onWarning?: (message: string) => void): BetterSqlite3.Database {
  try {
    return openDatabaseFile(file, '');
  } catch (err) {
    if (!(err instanceof DamagedDatabaseError)) throw err;
    const aside = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(file, aside);
    for (const extra of ['-wal', '-shm']) if (existsSync(file + extra)) renameSync(file + extra, aside + extra);
    onWarning?.(
      `${file}: ${err.problem}; traces are disposable, so it was moved to ${aside} and an empty trace store started ` +
        '(delete the moved file when you no longer need it)',
    );
    return openDatabaseFile(file, '');
  }
}

/**
 * Spans in their own SQLite file, apart from the resource store (a burst of spans never contends with API
 * writes), with a summary row per trace kept up to date on insert. Bounded by age and span count, trimmed by
 * `trim()` (the control plane calls it every few seconds, not per batch).
 */
export class SqliteTraceStore {
  private readonly db: BetterSqlite3.Database;
  private readonly maxAgeMs: number;
  private readonly maxSpans: number;
  private readonly now: () => number;
  private readonly insertSpan: BetterSqlite3.Statement;
  private readonly summarize: BetterSqlite3.Statement;
  private readonly insertMany: (spans: readonly SpanData[]) => void;

  constructor(options: TraceStoreOptions) {
    if (options.file !== ':memory:') {
      const dir = dirname(options.file);
      if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
    this.db = options.file === ':memory:' ? new BetterSqlite3(options.file) : openTraceFile(options.file, options.onWarning);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.maxAgeMs = options.maxAgeMs ?? 24 * 3600_000;
    this.maxSpans = options.maxSpans ?? 200_000;
    this.now = options.now ?? Date.now;
    this.insertSpan = this.db.prepare(
      `INSERT OR REPLACE INTO spans VALUES (@traceId, @spanId, @parentSpanId, @kind, @name, @service, @version, @instance,
        @startTime, @durationMs, @statusCode, @error, @host, @pid, @peerAddress, @method, @path, @peerService, @responseFlags,
        @retried, @mirrored)`,
    );
    // The root: a span whose parent is not in the trace (the earliest such, client before server on ties).
    this.summarize = this.db.prepare(`
      INSERT OR REPLACE INTO traces
      SELECT s.trace_id,
        (SELECT r.service FROM spans r WHERE r.trace_id = s.trace_id AND (r.parent_span_id IS NULL OR r.parent_span_id NOT IN
          (SELECT span_id FROM spans p WHERE p.trace_id = s.trace_id)) ORDER BY r.start_ms, r.kind LIMIT 1),
        (SELECT r.name FROM spans r WHERE r.trace_id = s.trace_id AND (r.parent_span_id IS NULL OR r.parent_span_id NOT IN
          (SELECT span_id FROM spans p WHERE p.trace_id = s.trace_id)) ORDER BY r.start_ms, r.kind LIMIT 1),
        MIN(s.start_ms), MAX(s.start_ms + s.duration_ms) - MIN(s.start_ms), COUNT(*), SUM(s.error),
        (SELECT json_group_array(service) FROM (SELECT DISTINCT service FROM spans d WHERE d.trace_id = s.trace_id ORDER BY service))
      FROM spans s WHERE s.trace_id = ? GROUP BY s.trace_id`);
    this.insertMany = this.db.transaction((spans: readonly SpanData[]) => {
      const touched = new Set<string>();
      for (const s of spans) {
        this.insertSpan.run({ ...s, error: s.error ? 1 : 0, retried: s.retried ? 1 : 0, mirrored: s.mirrored ? 1 : 0 });
        touched.add(s.traceId);
      }
      for (const id of touched) this.summarize.run(id);
    });
  }

  add(spans: readonly SpanData[]): void {
    if (spans.length > 0) this.insertMany(spans);
  }

  /** Deletes traces past the age limit, then the oldest until at most `maxSpans` spans remain; returns spans deleted. */
  trim(): number {
    const before = this.spanCount();
    const cutoff = this.now() - this.maxAgeMs;
    const tx = this.db.transaction(() => {
      this.db.prepare('DELETE FROM spans WHERE trace_id IN (SELECT trace_id FROM traces WHERE start_ms < ?)').run(cutoff);
      this.db.prepare('DELETE FROM traces WHERE start_ms < ?').run(cutoff);
      let count = this.spanCount();
      while (count > this.maxSpans) {
        // Oldest traces first, in chunks sized by what must go.
        const excess = count - this.maxSpans;
        const victims = this.db
          .prepare('SELECT trace_id, span_count FROM traces ORDER BY start_ms LIMIT ?')
          .all(Math.max(1, Math.min(5000, excess))) as { trace_id: string; span_count: number }[];
        if (victims.length === 0) break;
        let removed = 0;
        const delSpans = this.db.prepare('DELETE FROM spans WHERE trace_id = ?');
        const delTrace = this.db.prepare('DELETE FROM traces WHERE trace_id = ?');
        for (const v of victims) {
          delSpans.run(v.trace_id);
          delTrace.run(v.trace_id);
          removed += v.span_count;
          if (count - removed <= this.maxSpans) break;
        }
        count = this.spanCount();
      }
    });
    tx();
    return before - this.spanCount();
  }

  spanCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM spans').get() as { n: number }).n;
  }

  /** Newest first. */
  list(q: TraceQuery = {}): TraceSummary[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.service) {
      where.push('t.trace_id IN (SELECT trace_id FROM spans WHERE service = ? AND start_ms >= ?)');
      args.push(q.service, q.since ?? 0);
    }
    if (q.operation) {
      where.push('t.trace_id IN (SELECT trace_id FROM spans WHERE name = ? AND start_ms >= ?)');
      args.push(q.operation, q.since ?? 0);
    }
    if (q.minDurationMs !== undefined) {
      where.push('t.duration_ms >= ?');
      args.push(q.minDurationMs);
    }
    if (q.errors) where.push('t.errors > 0');
    if (q.since !== undefined) {
      where.push('t.start_ms >= ?');
      args.push(q.since);
    }
    if (q.until !== undefined) {
      where.push('t.start_ms < ?');
      args.push(q.until);
    }
    const sql = `SELECT * FROM traces t ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY t.start_ms DESC LIMIT ?`;
    args.push(Math.max(1, Math.min(q.limit ?? 20, 1000)));
    return (this.db.prepare(sql).all(...args) as TraceRow[]).map((r) => ({
      traceId: r.trace_id,
      rootService: r.root_service,
      rootOperation: r.root_operation,
      startTime: new Date(r.start_ms).toISOString(),
      durationMs: Math.round(r.duration_ms * 1000) / 1000,
      spanCount: r.span_count,
      errors: r.errors,
      services: JSON.parse(r.services) as string[],
    }));
  }

  /** One trace's spans in tree order (depth first, children by start time), or null when unknown. */
  get(traceId: string): { traceId: string; spans: StoredSpan[] } | null {
    const rows = this.db.prepare('SELECT * FROM spans WHERE trace_id = ? ORDER BY start_ms, kind').all(traceId.toLowerCase()) as SpanRow[];
    if (rows.length === 0) return null;
    const spans: StoredSpan[] = rows.map((r) => ({
      traceId: r.trace_id,
      spanId: r.span_id,
      parentSpanId: r.parent_span_id,
      kind: r.kind as 'server' | 'client',
      name: r.name,
      service: r.service,
      version: r.version,
      instance: r.instance,
      startTime: r.start_ms,
      startedAt: new Date(r.start_ms).toISOString(),
      durationMs: r.duration_ms,
      statusCode: r.status_code,
      error: r.error === 1,
      host: r.host,
      pid: r.pid,
      peerAddress: r.peer_address,
      method: r.method,
      path: r.path,
      peerService: r.peer_service,
      responseFlags: r.response_flags,
      retried: r.retried === 1,
      mirrored: r.mirrored === 1,
      children: [],
    }));
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const roots: StoredSpan[] = [];
    for (const s of spans) {
      const parent = s.parentSpanId === null ? undefined : byId.get(s.parentSpanId);
      if (parent) parent.children.push(s.spanId);
      else roots.push(s);
    }
    const ordered: StoredSpan[] = [];
    const visit = (s: StoredSpan) => {
      ordered.push(s);
      for (const c of s.children) visit(byId.get(c)!);
    };
    for (const r of roots) visit(r);
    return { traceId: traceId.toLowerCase(), spans: ordered };
  }

  close(): void {
    this.db.close();
  }
}
