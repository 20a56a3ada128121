import { measureLookups } from './route-lookup.js';

/**
 * A child process of benchmark 6: measures the per-request lookup in a process that holds nothing else (as a proxy
 * would) and prints `{"ns10":...,"ns1000":...,"ratio":...}`. Argument: `smoke` or `full`.
 */
const figures = await measureLookups(process.argv[2] === 'smoke');
process.stdout.write(`${JSON.stringify(figures)}\n`);
