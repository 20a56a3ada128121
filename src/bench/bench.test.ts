import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../../test/support/dist.js';
import { writeReport } from './bench-report.js';
import { parsePeersOutput } from './peers-script.js';
import { runBenchmarks } from './run-benchmarks.js';

const out = mkdtempSync(join(tmpdir(), 'canary-bench-test-'));

// The smoke run spawns dist/: build it when missing or stale rather than skip.
beforeAll(() => ensureBuilt(), 180_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('benchmarks', () => {
  it('reads the figures of the shared peers script', () => {
    const parsed = parsePeersOutput(
      [
        'split ours: v2 share 50% of 200, non-OK 0',
        'round 1 haproxy: rps 61234.50 p50 400.00us p99 1.20ms ',
        'median rps direct: 80000.1',
        'median rps haproxy: 61234.5',
        'median rps ours: 20123.4',
        'ours/nginx throughput ratio: 0.30',
        'ours/haproxy throughput ratio: 0.33',
      ].join('\n'),
    );
    expect(parsed.medians).toEqual({ direct: 80000.1, haproxy: 61234.5, ours: 20123.4 });
    expect(parsed.ratios).toEqual({ 'ours/nginx': 0.3, 'ours/haproxy': 0.33 });
    expect(parsed.splits).toEqual(['split ours: v2 share 50% of 200, non-OK 0']);
  });

  it('a smoke run measures exact splits and the control-plane push, and writes both report files', async () => {
    const lines: string[] = [];
    const report = await runBenchmarks({
      smoke: true,
      only: ['split-accuracy', 'control-plane-scale'],
      command: 'test',
      log: (l) => lines.push(l),
    });
    expect(report.results.map((r) => [r.id, r.status])).toEqual([
      ['split-accuracy', 'ok'],
      ['control-plane-scale', 'ok'],
    ]);
    const split = report.results[0]!;
    // Smooth weighted round-robin is exact: 1000 requests at 30/70 are 300/700.
    expect(split.figures.map((f) => f.value)).toEqual([0, 0, 0]);
    expect(split.figures[1]!.note).toContain('v1 300, v2 700 of 1000');
    const push = report.results[1]!.figures.find((f) => f.name.startsWith('push to a connected proxy'));
    expect(push?.value).toBeGreaterThan(0);

    const files = writeReport(report, out);
    expect(files.markdown).toMatch(/\d{4}-\d{2}-\d{2}-smoke\.md$/);
    const md = readFileSync(files.markdown, 'utf8');
    expect(md).toContain(
      '| 4. Split accuracy (1000 requests per split, one process) | 30/70: \\|observed - configured\\| v1 share | 0 pp | <= 0.5 pp | pass |',
    );
    expect(JSON.parse(readFileSync(files.json, 'utf8')).machine.node).toBe(process.version);
    expect(lines.some((l) => l.startsWith('== split-accuracy'))).toBe(true);
  }, 120_000);
});
