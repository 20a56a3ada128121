import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from './bench-context.js';
import { writeReport } from './bench-report.js';
import { benchmarkIds, runBenchmarks } from './run-benchmarks.js';

// `npm run bench [-- --smoke] [-- --only a,b] [-- --out DIR] [-- --keep-profile]`: see docs/benchmarks.md.
const usage = `usage: npm run bench -- [--smoke] [--only ${benchmarkIds.join(',')}] [--out DIR] [--keep-profile]`;
let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string' },
      'keep-profile': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
}
try {
  args = parse();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${usage}\n`);
  process.exit(2);
}
if (args.values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const out = args.values.out ?? join(repoRoot, 'bench', 'results');
let stopping = false;
process.on('SIGINT', () => {
  if (stopping) process.exit(130);
  stopping = true;
  process.stderr.write('\ninterrupted: stopping the processes the benchmarks started\n');
  process.exit(130); // the 'exit' hook kills them
});
try {
  const report = await runBenchmarks({
    smoke: args.values.smoke,
    ...(args.values.only ? { only: args.values.only.split(',').map((s) => s.trim()) } : {}),
    ...(args.values['keep-profile'] ? { keepProfileDir: out } : {}),
    command: `npm run bench --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`.replace(/ --$/, ''),
  });
  const files = writeReport(report, out);
  process.stdout.write(`\nwrote ${files.markdown} and ${files.json}\n`);
  const failed = report.results.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    process.stderr.write(`failed: ${failed.map((r) => r.id).join(', ')}\n`);
    process.exit(1);
  }
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
