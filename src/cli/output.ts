import { stringify } from 'yaml';

/** `-o table` is for people; `-o json` and `-o yaml` print the API's objects unchanged, for scripts. */
export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseOutputFormat(value: string): OutputFormat {
  if ((OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw new Error(`-o: must be one of ${OUTPUT_FORMATS.join(', ')}, got "${value}"`);
}

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function toYaml(value: unknown): string {
  return stringify(value, { indentSeq: false, lineWidth: 0 });
}

/**
 * Writes `value` in the chosen format; `table` draws it with `human`, which returns the text for people.
 */
export function printResult(format: OutputFormat, value: unknown, human: () => string, out: NodeJS.WritableStream = process.stdout): void {
  if (format === 'json') out.write(toJson(value));
  else if (format === 'yaml') out.write(toYaml(value));
  else {
    const text = human();
    out.write(text.endsWith('\n') || text.length === 0 ? text : `${text}\n`);
  }
}

/** Columns aligned as kubectl does: upper-case headers, three spaces between columns, no trailing spaces. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `Key:  value` lines with the values aligned, for one resource's detail view. */
export function formatFields(fields: [string, string][]): string {
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width)}  ${v}`.trimEnd()).join('\n');
}

/** Compact age like kubectl: 42s, 5m, 3h, 2d. */
export function formatAge(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** `v1=50,v2=50` */
export function formatWeights(weights: Record<string, number> | undefined): string {
  if (!weights || Object.keys(weights).length === 0) return '-';
  return Object.entries(weights)
    .map(([v, w]) => `${v}=${w}`)
    .join(',');
}

/** `v1 49.5%, v2 50.5%` */
export function formatShares(shares: Record<string, number> | undefined): string {
  if (!shares || Object.keys(shares).length === 0) return '-';
  return Object.entries(shares)
    .map(([v, s]) => `${v} ${(s * 100).toFixed(1)}%`)
    .join(', ');
}
