/**
 * Differential testing of the proxy's HTTP/1.1 framing against node:http (docs/adr/0007-http1-framing-llhttp.md).
 * Generated and mutated inputs — CL/TE variants, chunk grammar, line endings, whitespace, obs-fold, field-name
 * characters, methods, targets, versions, pipelining — are framed twice:
 *
 * - requests: by `RequestParser.frame`, the fast path's whole decision, fed in random read-sized pieces; when it
 *   hands the connection over, the rest goes to a real node:http server, as the proxy does. The oracle is that
 *   same node:http server reading the whole input on a connection of its own, with the proxy's request rules
 *   (`requestVerdict`) applied to what it accepts.
 * - responses: by `ResponseParser`, fed in random pieces, against a node:http client reading the same bytes from
 *   a raw server, with the proxy's response rules (only plain `chunked`) applied to what it accepts.
 *
 * Every input must be refused by both or accepted by both with the same requests (boundaries, method, target,
 * version, field list, body bytes) or the same answer (status, end-to-end fields, body, trailers).
 * Not a test itself: `http1-differential.test.ts` runs a slice, `npm run fuzz:http` runs it long.
 */

import { generateRequests, generateResponse, Rng, segments } from './http1-fuzz-input.js';
import { llhttpParser } from './llhttp.js';
import { type FramingResult, proxyFrames, RequestOracle } from './request-oracle.js';
import { type FramedResponse, proxyReadsResponse, ResponseOracle } from './response-oracle.js';

export interface Divergence {
  kind: 'request' | 'response';
  seed: number;
  input: string;
  proxy: unknown;
  oracle: unknown;
}

export interface DifferentialStats {
  requestInputs: number;
  responseInputs: number;
  accepted: number;
  refused: number;
  handedOver: number;
  divergences: Divergence[];
}

function sameRequests(ours: FramingResult, theirs: FramingResult): boolean {
  // Refused by both, or accepted by both with the same requests and the same end. One rule is the proxy's own:
  // a target already longer than the target limit (maxTargetBytes) gets 414 before its head ends, where node:http still waits.
  const end = ours.end === 'refused' && ours.status === 414 && theirs.end === 'incomplete' ? 'incomplete' : ours.end;
  return end === theirs.end && JSON.stringify(ours.requests) === JSON.stringify(theirs.requests);
}

function sameResponse(a: FramedResponse, b: FramedResponse): boolean {
  if (a.accepted !== b.accepted) return false;
  return !a.accepted || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Runs `count` inputs (requests and responses alternate), `concurrency` at a time, from seeds `seed`,
 * `seed + 1`, ...; each divergence is reported with the seed that replays it.
 */
export async function runDifferential(options: {
  count: number;
  seed?: number;
  concurrency?: number;
  deadlineMs?: number;
  onProgress?: (done: number, stats: DifferentialStats) => void;
  onDivergence?: (d: Divergence) => void;
}): Promise<DifferentialStats> {
  const b = llhttpParser();
  if (b === null) throw new Error(`llhttp is not reachable on Node ${process.version}: nothing to compare`);
  const stats: DifferentialStats = { requestInputs: 0, responseInputs: 0, accepted: 0, refused: 0, handedOver: 0, divergences: [] };
  const requests = new RequestOracle();
  const responses = new ResponseOracle();
  await requests.start();
  await responses.start();
  const first = options.seed ?? 1;
  const deadline = options.deadlineMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.deadlineMs;
  let next = 0;
  let done = 0;
  const one = async (seed: number): Promise<void> => {
    const r = new Rng(seed);
    if (seed % 2 === 0) {
      const input = generateRequests(r);
      const pieces = segments(r, input);
      let [ours, theirs] = await Promise.all([proxyFrames(b, pieces, requests), requests.frame(input)]);
      // A timeout is the machine's, not a verdict (a loaded host can stall a loopback exchange): once more, slower.
      if (ours.end === 'timeout' || theirs.end === 'timeout') {
        [ours, theirs] = await Promise.all([proxyFrames(b, pieces, requests, 15_000), requests.frame(input, 15_000)]);
      }
      stats.requestInputs++;
      if (ours.end === 'refused') stats.refused++;
      else stats.accepted++;
      if (ours.handedOver) stats.handedOver++;
      if (!sameRequests(ours, theirs)) {
        const d: Divergence = { kind: 'request', seed, input: input.toString('latin1'), proxy: ours, oracle: theirs };
        stats.divergences.push(d);
        options.onDivergence?.(d);
      }
    } else {
      const input = generateResponse(r);
      const ours = proxyReadsResponse(b, segments(r, input));
      let theirs = await responses.read(input);
      if (!theirs.accepted && ours.accepted) theirs = await responses.read(input, 15_000); // a stalled exchange, once more
      stats.responseInputs++;
      if (!sameResponse(ours, theirs)) {
        const d: Divergence = { kind: 'response', seed, input: input.toString('latin1'), proxy: ours, oracle: theirs };
        stats.divergences.push(d);
        options.onDivergence?.(d);
      }
    }
  };
  const worker = async (): Promise<void> => {
    while (next < options.count && Date.now() < deadline) {
      const seed = first + next++;
      await one(seed);
      done++;
      if (options.onProgress !== undefined && done % 10_000 === 0) options.onProgress(done, stats);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  } finally {
    await requests.stop();
    await responses.stop();
  }
  return stats;
}
