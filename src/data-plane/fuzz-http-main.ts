/**
 * `npm run fuzz:http -- [--count N] [--seed S] [--concurrency C]`: the differential test of the proxy's HTTP/1.1
 * framing against node:http (http1-differential.ts), run long. Prints progress every 10,000 inputs and each
 * divergence with the seed that replays it; exits 1 when there was any.
 */
import { parseArgs } from 'node:util';
import { runDifferential } from './http1-differential.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '16' },
  },
});
const count = Number(values.count);
const seed = Number(values.seed);
const concurrency = Number(values.concurrency);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(seed) || !Number.isInteger(concurrency) || concurrency < 1) {
  console.error('usage: npm run fuzz:http -- [--count N] [--seed S] [--concurrency C] (positive integers)');
  process.exit(2);
}
const started = Date.now();
const stats = await runDifferential({
  count,
  seed,
  concurrency,
  onProgress: (done, s) => {
    const rate = Math.round(done / ((Date.now() - started) / 1000));
    console.log(`${done} inputs (${rate}/s): ${s.divergences.length} divergences`);
  },
  onDivergence: (d) => console.log(JSON.stringify(d)),
});
console.log(
  `fuzz:http: ${stats.requestInputs + stats.responseInputs} inputs (${stats.requestInputs} request streams: ${stats.accepted} accepted, ` +
    `${stats.refused} refused, ${stats.handedOver} handed to node:http part-way; ${stats.responseInputs} answers) from seed ${seed} ` +
    `in ${Math.round((Date.now() - started) / 1000)} s: ${stats.divergences.length} divergences`,
);
process.exit(stats.divergences.length === 0 ? 0 : 1);
