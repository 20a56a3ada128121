import { describe, expect, it } from 'vitest';
import { runDifferential } from './http1-differential.js';

// A bounded slice of the differential test (http1-differential.ts): the proxy's request and response framing
// against node:http on generated and mutated inputs cut into random reads. `npm run fuzz:http -- --count 1000000`
// runs it long; a divergence prints the seed that replays it.
describe('HTTP/1.1 framing, differentially against node:http', () => {
  it('refuses or accepts every input as node:http does, with the same requests and answers', async () => {
    const stats = await runDifferential({ count: 4000, seed: 1, concurrency: 8, deadlineMs: 45_000 });
    expect(stats.divergences).toEqual([]);
    // The slice covered both outcomes and the hand-over to node:http, not just refusals.
    expect(stats.requestInputs).toBeGreaterThan(200);
    expect(stats.accepted).toBeGreaterThan(20);
    expect(stats.refused).toBeGreaterThan(20);
    expect(stats.handedOver).toBeGreaterThan(5);
    expect(stats.responseInputs).toBeGreaterThan(200);
  }, 60_000);
});
