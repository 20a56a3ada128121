import type { Command } from 'commander';
import type { ComparisonAnswer } from '../api-types.js';
import { addClientOptions, clientAction } from '../client-command.js';
import { formatFields, formatTable, printResult } from '../output.js';

const ms = (v: number | null) => (v === null ? '-' : v.toFixed(v < 10 ? 2 : 1));
const cut = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/** A comparison as text: the counts, the latency of both sides, then the differences most frequent first. */
export function comparisonText(c: ComparisonAnswer): string {
  const share = c.compared === 0 ? '' : ` (${((c.agree / c.compared) * 100).toFixed(1)}%)`;
  const s = c.skipped;
  const head = formatFields([
    ['Release', `${c.release}, last ${c.window} s`],
    ['Requests', `${c.requests} routed by a mirroring rule, ${c.mirrored} mirrored`],
    ['Compared', `${c.compared}, agree ${c.agree}${share}`],
    [
      'Not compared',
      `body too large ${s.bodyTooLarge}, mirror failed ${s.mirrorFailed}, overloaded ${s.overloaded}, primary failed ${s.primaryFailed}`,
    ],
  ]);
  const latency = formatTable(
    ['LATENCY (ms)', 'P50', 'P90', 'P99'],
    (['primary', 'mirror'] as const).map((side) => [side, ms(c.latency[side].p50), ms(c.latency[side].p90), ms(c.latency[side].p99)]),
  );
  if (c.mirrored === 0) {
    return `${head}\n\nNothing was mirrored in this window: the release mirrors no traffic, or none arrived.\n`;
  }
  const diffs =
    c.differences.length === 0
      ? 'No differences.\n'
      : formatTable(
          ['COUNT', 'KIND', 'METHOD', 'PATH', 'FIELD', 'PRIMARY', 'MIRROR'],
          c.differences.map((d) => [
            String(d.count),
            d.kind,
            d.method,
            cut(d.path, 40),
            d.field ?? '-',
            cut(d.primary, 40),
            cut(d.mirror, 40),
          ]),
        );
  const other = c.otherDifferences > 0 ? `(${c.otherDifferences} more differences counted but not listed)\n` : '';
  return `${head}\n\n${latency}\n${diffs}${other}`;
}

/** `canary release compare NAME [--window N]`. */
export function registerReleaseCompareCommand(release: Command, path: (name: string) => string): void {
  addClientOptions(
    release
      .command('compare')
      .argument('<name>', 'release name')
      .option('--window <seconds>', 'how far back, 1 to 600', '300')
      .description("how the mirror's answers differed from the primary's (status, headers, body), with the latency of both"),
  )
    .addHelpText(
      'after',
      `
Counted by the proxies for the requests the release mirrors (traffic.mirror, or strategy mirror); the control plane
keeps the last 10 minutes in memory. -o json gives an example pair (both answers) for each difference.

Examples:
  canary release compare reviews-mirror
  canary release compare reviews-mirror --window 60 -o json`,
    )
    .action(
      clientAction(async ({ api, output }, name: string, opts: { window: string }) => {
        const c = await api.get<ComparisonAnswer>(`${path(name)}/comparison`, { query: { window: opts.window } });
        printResult(output, c, () => comparisonText(c));
      }),
    );
}
