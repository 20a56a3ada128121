import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/index.js';
import { SqliteTraceStore } from '../telemetry/sqlite-trace-store.js';
import { reviewsService, startTestControlPlane } from '../../test/support/test-harness.js';
import { damagePages } from '../../test/support/sqlite-damage.js';
import { serverSpan } from '../../test/support/telemetry-fixtures.js';

function logSink(): { stream: Writable; lines: () => { level: number; msg: string }[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { level: number; msg: string }),
  };
}

describe('the control plane on a damaged data directory', () => {
  const roots: string[] = [];
  const newRoot = () => {
    const r = mkdtempSync(join(tmpdir(), 'canary-storage-'));
    roots.push(r);
    return r;
  };
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });

  it('refuses to start on a damaged canary.db, naming the file and the way out', async () => {
    const root = newRoot();
    const dataDir = join(root, 'data');
    const store = new SqliteStore({ dataDir });
    for (let i = 0; i < 300; i++)
      store.write((w) =>
        w.appendEvent({
          actor: 'a',
          action: 'x',
          resourceKind: 'service',
          resourceName: 's',
          before: null,
          after: { pad: 'p'.repeat(300) },
          message: `${i}`,
        }),
      );
    store.close();
    damagePages(join(dataDir, 'canary.db'));
    await expect(startTestControlPlane({ root, dataDir })).rejects.toThrow(`${join(dataDir, 'canary.db')}: the database is damaged`);
  });

  it('moves a damaged traces.db aside with a warning naming both files, and starts with an empty trace store', async () => {
    const root = newRoot();
    const dataDir = join(root, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    const tracesFile = join(dataDir, 'traces.db');
    const traces = new SqliteTraceStore({ file: tracesFile });
    const spans = Array.from({ length: 400 }, (_, i) =>
      serverSpan('productpage:v1', '/productpage', {
        traceId: i.toString(16).padStart(32, '0'),
        spanId: i.toString(16).padStart(16, '0'),
        name: `GET /productpage/${'x'.repeat(100)}`,
        durationMs: 3,
      }),
    );
    traces.add(spans);
    traces.close();
    damagePages(tracesFile);

    const log = logSink();
    const t = await startTestControlPlane({ root, dataDir, logLevel: 'warn', logStream: log.stream });
    try {
      const aside = readdirSync(dataDir).filter((f) => f.startsWith('traces.db.damaged-'));
      expect(aside).toHaveLength(1);
      const warning = log.lines().find((l) => l.msg.includes('traces.db'));
      expect(warning?.level).toBe(40); // warn
      expect(warning?.msg).toContain(`${tracesFile}: the database is damaged`);
      expect(warning?.msg).toContain(join(dataDir, aside[0]!));
      const res = await t.call('GET', '/api/v1/traces');
      expect(res.status).toBe(200);
      expect(res.body.traces).toEqual([]);
      expect(statSync(tracesFile).mode & 0o777).toBe(0o600);
    } finally {
      await t.destroy();
    }
  });
});

/** Fills the file system holding `dir` until a write fails with ENOSPC; returns the filler's path. */
function fillDisk(dir: string): string {
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(16 * 1024, 1);
  try {
    for (let i = 0; i < 100_000; i++) writeSync(fd, chunk);
    throw new Error(`${dir}: still not full after ${100_000 * chunk.length} bytes`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return filler;
}

describe('the control plane on a full disk', () => {
  let mnt: string | null = null;
  let root: string | null = null;
  afterEach(() => {
    if (mnt) execFileSync('umount', [mnt]);
    if (root) rmSync(root, { recursive: true, force: true });
    mnt = root = null;
  });

  it('answers 507 to a change it cannot save, reports it on /healthz, and recovers when space returns', async (ctx) => {
    root = mkdtempSync(join(tmpdir(), 'canary-full-'));
    const disk = join(root, 'disk');
    mkdirSync(disk);
    try {
      // A real, tiny file system: what a full disk does to SQLite, not a simulation of it.
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'canary-test-full', disk], { stdio: 'pipe' });
      mnt = disk;
    } catch (err) {
      console.warn(`disk-full test skipped: cannot mount a 2 MB tmpfs here (${String(err).split('\n')[0]}); it needs root`);
      ctx.skip();
    }
    const dataDir = join(disk, 'data');
    const t = await startTestControlPlane({ root, dataDir });
    try {
      expect((await t.call('POST', '/api/v1/services', reviewsService)).status).toBe(201);
      const filler = fillDisk(disk);
      const before = t.snapshot();
      const big = {
        ...reviewsService,
        name: 'details',
        versions: [{ ...reviewsService.versions[0]!, labels: { pad: 'x'.repeat(300_000) } }],
      };

      const refused = await t.call('POST', '/api/v1/services', big);
      expect(refused.status).toBe(507);
      expect(refused.body.error.code).toBe('InsufficientStorage');
      expect(refused.body.error.message).toMatch(/disk .*is full.*nothing was changed/);
      expect(t.snapshot()).toEqual(before);

      let health = await t.cp.app.inject({ method: 'GET', url: '/healthz' });
      expect(health.statusCode).toBe(503);
      expect(health.json()).toMatchObject({ status: 'degraded', reason: expect.stringMatching(/disk .*full/) });

      rmSync(filler);
      health = await t.cp.app.inject({ method: 'GET', url: '/healthz' });
      expect(health.statusCode).toBe(200);
      expect(health.json()).toEqual({ status: 'ok' });
      expect((await t.call('POST', '/api/v1/services', big)).status).toBe(201);
    } finally {
      await t.stop(); // the mount goes first, in afterEach
    }
  });
});
