import { BYTES_SLOTS, bytesSlot, durationSlot, FINE_SLOTS } from '../../telemetry-wire/histogram-layout.js';
import {
  FLAG_MIRRORED,
  FLAG_NO_ROUTE,
  FLAG_RETRIED,
  FLAG_UPSTREAM_FAILURE,
  FLAG_UPSTREAM_OVERFLOW,
} from '../../telemetry-wire/response-flags.js';
import type { EdgeSample } from '../../telemetry-wire/telemetry-batch.js';
import type { RequestParty, RequestRecord } from '../request-observer.js';

interface EdgeCell {
  source: RequestParty | null;
  destination: RequestParty | null;
  code: number;
  flags: number;
  count: number;
  durationSumMs: number;
  slots: Uint32Array;
  bytesInSum: number;
  bytesIn: Float64Array;
  bytesOutSum: number;
  bytesOut: Float64Array;
}

/** Stands for "no party" (the ingress as source, no service as destination) in identity-keyed maps. */
const NONE: RequestParty = { service: '', version: '', instance: '' };

/**
 * Counters and histograms per edge, filled per request without building keys: cells are found by the identity
 * of the source and destination party objects (one per listener and per endpoint of a route table, shared by
 * every request), then by status code and flags. `drain()` turns the interval's cells into edge samples and
 * starts afresh, so parties of replaced route tables are let go.
 */
export class EdgeAggregator {
  private cells = new Map<RequestParty, Map<RequestParty, Map<number, EdgeCell>>>();
  /** Destinations without an endpoint (404/503 answers) are built per request: one canonical object each. */
  private readonly unrouted = new Map<string, RequestParty>();
  private requests = 0;

  record(r: RequestRecord): void {
    const source = r.source ?? NONE;
    let destination = r.destination ?? NONE;
    if (destination !== NONE && destination.instance === '') destination = this.canonical(destination);
    let bySource = this.cells.get(source);
    if (bySource === undefined) {
      bySource = new Map();
      this.cells.set(source, bySource);
    }
    let byDestination = bySource.get(destination);
    if (byDestination === undefined) {
      byDestination = new Map();
      bySource.set(destination, byDestination);
    }
    const f = r.flags;
    const flags =
      (f.noRoute ? FLAG_NO_ROUTE : 0) |
      (f.upstreamFailure ? FLAG_UPSTREAM_FAILURE : 0) |
      (f.retried ? FLAG_RETRIED : 0) |
      (f.mirrored ? FLAG_MIRRORED : 0) |
      (f.upstreamOverflow ? FLAG_UPSTREAM_OVERFLOW : 0);
    const key = r.status * 32 + flags;
    let cell = byDestination.get(key);
    if (cell === undefined) {
      cell = {
        source: r.source,
        destination: r.destination === null ? null : destination,
        code: r.status,
        flags,
        count: 0,
        durationSumMs: 0,
        slots: new Uint32Array(FINE_SLOTS),
        bytesInSum: 0,
        bytesIn: new Float64Array(BYTES_SLOTS),
        bytesOutSum: 0,
        bytesOut: new Float64Array(BYTES_SLOTS),
      };
      byDestination.set(key, cell);
    }
    cell.count++;
    cell.durationSumMs += r.durationMs;
    cell.slots[durationSlot(r.durationMs)]!++;
    cell.bytesInSum += r.bytesIn;
    cell.bytesIn[bytesSlot(r.bytesIn)]!++;
    cell.bytesOutSum += r.bytesOut;
    cell.bytesOut[bytesSlot(r.bytesOut)]!++;
    this.requests++;
  }

  /** Requests recorded since the last drain. */
  get pending(): number {
    return this.requests;
  }

  /** The interval's edges as samples; the aggregator starts empty again. */
  drain(): EdgeSample[] {
    const out: EdgeSample[] = [];
    for (const bySource of this.cells.values()) {
      for (const byDestination of bySource.values()) {
        for (const c of byDestination.values()) {
          const durationSlots: number[] = [];
          for (let i = 0; i < FINE_SLOTS; i++) if (c.slots[i] !== 0) durationSlots.push(i, c.slots[i]!);
          out.push({
            source: c.source === null ? null : { service: c.source.service, version: c.source.version, instance: c.source.instance },
            destination:
              c.destination === null
                ? null
                : { service: c.destination.service, version: c.destination.version, instance: c.destination.instance },
            code: c.code,
            flags: c.flags,
            count: c.count,
            durationSumMs: c.durationSumMs,
            durationSlots,
            bytesInSum: c.bytesInSum,
            bytesInBuckets: Array.from(c.bytesIn),
            bytesOutSum: c.bytesOutSum,
            bytesOutBuckets: Array.from(c.bytesOut),
          });
        }
      }
    }
    this.cells = new Map();
    if (this.unrouted.size > 1000) this.unrouted.clear();
    this.requests = 0;
    return out;
  }

  private canonical(p: RequestParty): RequestParty {
    const key = `${p.service}\u0000${p.version}`;
    let c = this.unrouted.get(key);
    if (c === undefined) {
      c = { service: p.service, version: p.version, instance: '' };
      this.unrouted.set(key, c);
    }
    return c;
  }
}
