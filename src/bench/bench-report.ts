import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo } from './machine-info.js';

/** One measured figure, printed beside its target and, when there is one, a peer measured in the same run. */
export interface Figure {
  name: string;
  value: number | null;
  unit: string;
  /** e.g. `>= 0.5`, `<= 0.25 ms`; empty when the figure is informative only. */
  target: string;
  /** null: no target (informative), or not measured. */
  pass: boolean | null;
  /** What it is compared with, measured in the same run, e.g. `haproxy 61234 req/s`. */
  peer?: string;
  note?: string;
}

export interface BenchmarkResult {
  id: string;
  title: string;
  /** `skipped`: a prerequisite is missing (say which in `notes`); `failed`: it threw. */
  status: 'ok' | 'skipped' | 'failed';
  seconds: number;
  figures: Figure[];
  /** How it was measured, and anything a reader should know (noise, a missing option). */
  notes: string[];
  /** Raw lines worth keeping (e.g. the peers script's per-round output). */
  raw?: string[];
}

export interface BenchReport {
  startedAt: string;
  mode: 'full' | 'smoke';
  command: string;
  machine: MachineInfo;
  results: BenchmarkResult[];
}

/** A figure with a `<=` target. */
export function atMost(name: string, value: number | null, limit: number, unit: string, extra: Partial<Figure> = {}): Figure {
  return { name, value, unit, target: `<= ${limit} ${unit}`.trim(), pass: value === null ? null : value <= limit, ...extra };
}

/** A figure with a `>=` target. */
export function atLeast(name: string, value: number | null, limit: number, unit: string, extra: Partial<Figure> = {}): Figure {
  return { name, value, unit, target: `>= ${limit} ${unit}`.trim(), pass: value === null ? null : value >= limit, ...extra };
}

/** A figure without a target. */
export function info(name: string, value: number | null, unit: string, extra: Partial<Figure> = {}): Figure {
  return { name, value, unit, target: '', pass: null, ...extra };
}

function show(value: number | null): string {
  if (value === null) return 'n/a';
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  return abs >= 100 ? value.toFixed(0) : abs >= 1 ? value.toFixed(2) : value.toFixed(3);
}

/** One line per figure for the console: `name: value unit (target ..., PASS) [peer]`. */
export function figureLine(f: Figure): string {
  const verdict = f.pass === null ? '' : f.pass ? ', PASS' : ', MISS';
  const target = f.target ? ` (target ${f.target}${verdict})` : '';
  return `${f.name}: ${show(f.value)} ${f.unit}${target}${f.peer ? ` [peer: ${f.peer}]` : ''}${f.note ? ` -- ${f.note}` : ''}`;
}

/** A table cell: pipes would end the cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export function renderMarkdown(report: BenchReport): string {
  const m = report.machine;
  const lines: string[] = [
    `# Canary Mesh benchmarks, ${report.startedAt}`,
    '',
    `Mode: ${report.mode} (\`${report.command}\`). Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os};` +
      ` Node ${m.node}; load average at start ${m.loadAverage.join(' / ')}.`,
    '',
    'Figures from a shared machine are noisy: compare ratios against the peer measured in the same run, not absolute numbers.',
    'A smoke run only checks that every benchmark still works; its figures are not meant to be judged.',
    '',
    '| benchmark | figure | value | target | verdict | peer (same run) |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of report.results) {
    if (r.figures.length === 0) lines.push(`| ${cell(r.title)} | (${r.status}) | | | | |`);
    for (const f of r.figures) {
      const verdict = f.pass === null ? '' : f.pass ? 'pass' : '**miss**';
      lines.push(`| ${cell(r.title)} | ${cell(f.name)} | ${show(f.value)} ${f.unit} | ${f.target} | ${verdict} | ${cell(f.peer ?? '')} |`);
    }
  }
  for (const r of report.results) {
    lines.push('', `## ${r.title}`, '', `Status: ${r.status}, ${r.seconds.toFixed(1)} s.`, '');
    for (const f of r.figures) lines.push(`- ${figureLine(f)}`);
    if (r.notes.length > 0) lines.push('', ...r.notes.map((n) => `- ${n}`));
    if (r.raw && r.raw.length > 0) lines.push('', '```', ...r.raw, '```');
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `<dir>/<date>.md` and `.json` (a smoke run adds `-smoke`), returning their paths. */
export function writeReport(report: BenchReport, dir: string): { markdown: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = report.startedAt.slice(0, 10) + (report.mode === 'smoke' ? '-smoke' : '');
  const markdown = join(dir, `${stamp}.md`);
  const json = join(dir, `${stamp}.json`);
  writeFileSync(markdown, renderMarkdown(report));
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  return { markdown, json };
}
