import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, repoRoot } from '../../../test/support/dist.js';
import { reviewsService, startTestControlPlane, type TestControlPlane } from '../../../test/support/test-harness.js';
import { SqliteStore } from '../../store/index.js';

/** `canary backup` / `canary restore` run as a user runs them, against the data directory of a real control plane. */

const bin = join(repoRoot, 'bin', 'canary.js');

function canary(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
  return new Promise((done) => {
    execFile(process.execPath, [bin, ...args], { env, cwd: repoRoot, timeout: 30_000 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function bytesOf(file: string): Buffer {
  return readFileSync(file);
}

describe('canary backup and canary restore', () => {
  let root: string;
  let t: TestControlPlane;
  let dataDir: string;

  beforeAll(async () => {
    ensureBuilt();
    root = mkdtempSync(join(tmpdir(), 'canary-backup-'));
    t = await startTestControlPlane({ root });
    dataDir = t.dataDir;
    expect((await t.call('POST', '/api/v1/services', reviewsService)).status).toBe(201);
  }, 240_000);
  afterAll(async () => {
    await t?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('backs up while the control plane runs, to a new 0600 file, and refuses to overwrite one', async () => {
    const file = join(root, 'one.db');
    const res = await canary(['backup', file, '--data', dataDir]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^backup written to ${file}: 1 services, 0 active releases, \\d+ events, revision \\d+`));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const db = new BetterSqlite3(file, { readonly: true });
    try {
      expect(db.prepare('SELECT name FROM services').pluck().all()).toEqual(['reviews']);
    } finally {
      db.close();
    }

    const again = await canary(['backup', file, '--data', dataDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`Error: ${file}: exists already; name a new file (a backup never overwrites one)\n`);
  });

  it('refuses to restore while a control plane uses the data directory, changing nothing', async () => {
    const file = join(root, 'two.db');
    expect((await canary(['backup', file, '--data', dataDir])).code).toBe(0);
    const before = bytesOf(join(dataDir, 'canary.db'));
    const res = await canary(['restore', file, '--data', dataDir]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`Error: a control plane (pid ${process.pid}) is using ${dataDir}: stop it first`);
    expect(bytesOf(join(dataDir, 'canary.db'))).toEqual(before);
  });

  it('refuses a file that is not an intact store, changing nothing', async () => {
    await t.stop();
    const before = bytesOf(join(dataDir, 'canary.db'));
    const junk = join(root, 'junk.db');
    writeFileSync(junk, 'not a database at all, just text '.repeat(200));
    let res = await canary(['restore', junk, '--data', dataDir]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(new RegExp(`^Error: ${junk}: not a usable SQLite database`));
    const empty = join(root, 'empty.db');
    writeFileSync(empty, '');
    res = await canary(['restore', empty, '--data', dataDir]);
    expect(res.stderr).toBe(`Error: ${empty}: the file is empty (0 bytes), not a backup\n`);
    const foreign = join(root, 'foreign.db');
    const db = new BetterSqlite3(foreign);
    db.exec('CREATE TABLE t (x)');
    db.close();
    res = await canary(['restore', foreign, '--data', dataDir]);
    expect(res.stderr).toBe(`Error: ${foreign}: not a Canary Mesh store (no table "schema_migrations")\n`);
    expect(bytesOf(join(dataDir, 'canary.db'))).toEqual(before);
  });

  it('restores a backup once the control plane is stopped, keeping the store it replaced', async () => {
    const file = join(root, 'one.db'); // made with reviews only
    const store = new SqliteStore({ dataDir });
    store.write((w) => w.createService({ ...reviewsService, name: 'details', routes: [] } as never, 'alice'));
    expect(store.listServices().map((s) => s.name)).toEqual(['details', 'reviews']);
    store.close();

    const res = await canary(['restore', file, '--data', dataDir]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^restored .* 1 services, 0 active releases/);
    const kept = readdirSync(dataDir).filter((f) => f.startsWith('canary.db.before-restore-') && !/-(wal|shm)$/.test(f));
    expect(kept).toHaveLength(1);
    expect(res.stdout).toContain(`kept as ${join(dataDir, kept[0]!)}`);

    const restored = new SqliteStore({ dataDir });
    try {
      expect(restored.listServices().map((s) => s.name)).toEqual(['reviews']);
    } finally {
      restored.close();
    }
    expect(statSync(join(dataDir, 'canary.db')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dataDir, 'canary.db.restoring'))).toBe(false);
  });
});
