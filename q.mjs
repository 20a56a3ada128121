import Database from 'better-sqlite3';
import { statSync, mkdtempSync } from 'node:fs';
const dir = mkdtempSync('/tmp/qc-');
const db = new Database(dir + '/canary.db');
db.pragma('journal_mode = WAL');
db.exec(`CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, revision INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, resource_kind TEXT NOT NULL, resource_name TEXT NOT NULL, release TEXT, before TEXT, after TEXT, message TEXT NOT NULL);
CREATE INDEX events_by_release ON events (release, id); CREATE INDEX events_by_resource ON events (resource_kind, resource_name, id);`);
const ins = db.prepare('INSERT INTO events (at,revision,actor,action,resource_kind,resource_name,release,before,after,message) VALUES (?,?,?,?,?,?,?,?,?,?)');
const N = Number(process.argv[2] ?? 100000);
const body = JSON.stringify({traffic:{rules:[{match:[{headers:{'end-user':{exact:'jason'}}}],route:[{version:'v1',weight:50},{version:'v2',weight:50}]}]}});
db.transaction(() => { for (let i = 0; i < N; i++) ins.run(new Date().toISOString(), i, 'admin', 'release.traffic-changed', 'release', 'svc' + (i % 50), 'rel' + (i % 80), body, body, 'traffic changed from 50/50 to 40/60 by admin'); })();
db.close();
const size = statSync(dir + '/canary.db').size;
for (const p of ['quick_check', 'integrity_check']) {
  const d = new Database(dir + '/canary.db');
  const t = process.hrtime.bigint();
  const r = d.pragma(p);
  console.log(N, 'events', (size/1e6).toFixed(1), 'MB', p, Number(process.hrtime.bigint() - t) / 1e6, 'ms', JSON.stringify(r));
  d.close();
}
