import { FINE_SLOTS, quantileOf } from '../telemetry-wire/histogram-layout.js';
import type { EdgeSample, Party } from '../telemetry-wire/telemetry-batch.js';

/** A node of the topology: the ingress, a service, a version of a service, or an unknown destination. */
export interface TopologyNode {
  id: string;
  type: 'ingress' | 'service' | 'version' | 'unknown';
  service: string | null;
  version: string | null;
  /** Requests per second received over the window. */
  requestRate: number;
  /** Share of received requests not answered 5xx (null without traffic). */
  successRate: number | null;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  responses: ResponseClasses;
  requests: number;
}

export interface TopologyEdge {
  id: string;
  /** Caller node id (`ingress` or `service:version`). */
  source: string;
  /** Callee node id (`service:version`, `service` when no version was chosen, or `unknown`). */
  target: string;
  requestRate: number;
  successRate: number | null;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  responses: ResponseClasses;
  requests: number;
  /** Share of the callee service's requests from this caller that went to this version. */
  share: number | null;
}

export interface ResponseClasses {
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
  /** No status: the client went away first (counted as a failure). */
  other: number;
}

export interface ReleaseShare {
  name: string;
  service: string;
  /** Observed share (0..1) per version of the service's requests over the window. */
  observed: Record<string, number>;
  requests: number;
}

export interface Topology {
  window: number;
  generatedAt: string;
  nodes: TopologyNode[];
  edges: TopologyEdge[];
  releases: ReleaseShare[];
}

/** What the topology lists even without traffic: the registered services and versions, and active releases. */
export interface TopologyInventory {
  versions: { service: string; version: string }[];
  releases: { name: string; service: string }[];
}

interface Cell {
  source: string;
  target: string;
  count: number;
  failures: number;
  classes: Float64Array; // 2xx 3xx 4xx 5xx other
  fine: Uint32Array;
}

interface Slot {
  second: number;
  cells: Map<string, Cell>;
}

function nodeOfSource(p: Party | null): string {
  return p === null ? 'ingress' : `${p.service}:${p.version}`;
}

function nodeOfDestination(p: Party | null): string {
  if (p === null) return 'unknown';
  return p.version === '' ? p.service : `${p.service}:${p.version}`;
}

function classIndex(code: number): number {
  if (code >= 200 && code < 300) return 0;
  if (code >= 300 && code < 400) return 1;
  if (code >= 400 && code < 500) return 2;
  if (code >= 500) return 3;
  return 4;
}

function emptyCell(source: string, target: string): Cell {
  return { source, target, count: 0, failures: 0, classes: new Float64Array(5), fine: new Uint32Array(FINE_SLOTS) };
}

function addCell(into: Cell, from: Cell): void {
  into.count += from.count;
  into.failures += from.failures;
  for (let i = 0; i < 5; i++) into.classes[i]! += from.classes[i]!;
  const a = into.fine;
  const b = from.fine;
  for (let i = 0; i < FINE_SLOTS; i++) if (b[i] !== 0) a[i]! += b[i]!;
}

function classes(c: Cell): ResponseClasses {
  return { '2xx': c.classes[0]!, '3xx': c.classes[1]!, '4xx': c.classes[2]!, '5xx': c.classes[3]!, other: c.classes[4]! };
}

function latency(c: Cell) {
  const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
  return {
    p50: round(quantileOf(c.fine, c.count, 0.5)),
    p95: round(quantileOf(c.fine, c.count, 0.95)),
    p99: round(quantileOf(c.fine, c.count, 0.99)),
  };
}

/**
 * Time-bucketed edge aggregates on the control plane: one slot per second in a ring (default 600 = 10 min),
 * each holding per-edge (caller version -> callee version) counts, response classes and a fine latency
 * histogram. A topology over a window sums the last `window` slots.
 */
export class TopologyWindow {
  private readonly ring: Slot[];
  private readonly now: () => number;

  constructor(options: { seconds?: number; now?: () => number } = {}) {
    // One slot more than the longest window: the current second fills while the window reads the others.
    const n = (options.seconds ?? 600) + 1;
    this.ring = Array.from({ length: n }, () => ({ second: -1, cells: new Map<string, Cell>() }));
    this.now = options.now ?? Date.now;
  }

  /** The longest window it can answer, in seconds. */
  get capacity(): number {
    return this.ring.length - 1;
  }

  /** Adds a batch's edge samples to the current second. */
  add(edges: readonly EdgeSample[]): void {
    const second = Math.floor(this.now() / 1000);
    const slot = this.ring[second % this.ring.length]!;
    if (slot.second !== second) {
      slot.second = second;
      slot.cells.clear();
    }
    for (const e of edges) {
      const source = nodeOfSource(e.source);
      const target = nodeOfDestination(e.destination);
      const key = `${source}>${target}`;
      let cell = slot.cells.get(key);
      if (cell === undefined) {
        cell = emptyCell(source, target);
        slot.cells.set(key, cell);
      }
      cell.count += e.count;
      const k = classIndex(e.code);
      cell.classes[k]! += e.count;
      if (k >= 3) cell.failures += e.count;
      const slots = e.durationSlots;
      for (let i = 0; i + 1 < slots.length; i += 2) {
        const s = slots[i]!;
        if (s < FINE_SLOTS) cell.fine[s]! += slots[i + 1]!;
      }
    }
  }

  /**
   * Sums the last `window` complete seconds per edge (the current, partial second would bias rates low), and
   * says how many of those seconds hold data: from the first second with any sample to now.
   */
  private sum(window: number): { cells: Map<string, Cell>; coveredSeconds: number } {
    const w = Math.max(1, Math.min(window, this.ring.length - 1));
    const current = Math.floor(this.now() / 1000);
    const out = new Map<string, Cell>();
    let earliest = current;
    for (const slot of this.ring) {
      if (slot.second < current - w || slot.second >= current) continue;
      if (slot.cells.size > 0 && slot.second < earliest) earliest = slot.second;
      for (const [key, c] of slot.cells) {
        let acc = out.get(key);
        if (acc === undefined) {
          acc = emptyCell(c.source, c.target);
          out.set(key, acc);
        }
        addCell(acc, c);
      }
    }
    return { cells: out, coveredSeconds: Math.max(1, current - earliest) };
  }

  /**
   * What each of `versions` of `service` received in the whole seconds [fromSecond, toSecond) (epoch seconds,
   * clamped to what the ring keeps): requests, failures (5xx or no answer) and the fine latency histogram, summed
   * over every caller. The automated analysis reads both versions of a release over the same seconds.
   */
  versionCounts(
    service: string,
    versions: readonly string[],
    fromSecond: number,
    toSecond: number,
  ): Map<string, { requests: number; failures: number; fine: Uint32Array }> {
    const out = new Map(versions.map((v) => [v, { requests: 0, failures: 0, fine: new Uint32Array(FINE_SLOTS) }]));
    const targets = new Map(versions.map((v) => [`${service}:${v}`, v]));
    for (const slot of this.ring) {
      if (slot.second < fromSecond || slot.second >= toSecond) continue;
      for (const c of slot.cells.values()) {
        const v = targets.get(c.target);
        if (v === undefined) continue;
        const acc = out.get(v)!;
        acc.requests += c.count;
        acc.failures += c.failures;
        for (let i = 0; i < FINE_SLOTS; i++) if (c.fine[i] !== 0) acc.fine[i]! += c.fine[i]!;
      }
    }
    return out;
  }

  /** Observed share per version of `service`'s requests over the window; {} without traffic. */
  observedShares(service: string, window = 60): { observed: Record<string, number>; requests: number } {
    const perVersion = new Map<string, number>();
    let total = 0;
    for (const c of this.sum(window).cells.values()) {
      const colon = c.target.indexOf(':');
      if (colon === -1 || c.target.slice(0, colon) !== service) continue;
      const v = c.target.slice(colon + 1);
      perVersion.set(v, (perVersion.get(v) ?? 0) + c.count);
      total += c.count;
    }
    const observed: Record<string, number> = {};
    if (total > 0) for (const [v, n] of [...perVersion].sort()) observed[v] = Math.round((n / total) * 1000) / 1000;
    return { observed, requests: total };
  }

  topology(window: number, inventory: TopologyInventory = { versions: [], releases: [] }): Topology {
    const w = Math.max(1, Math.min(window, this.ring.length - 1));
    // Rates divide by the seconds that hold data, as Prometheus's rate() does: traffic that started 10 s ago
    // at 2 req/s reads 2 req/s, not 20/60.
    const { cells, coveredSeconds } = this.sum(w);
    const rate = (n: number) => Math.round((n / coveredSeconds) * 1000) / 1000;
    const success = (c: Cell) => (c.count === 0 ? null : Math.round(((c.count - c.failures) / c.count) * 10000) / 10000);

    // Inbound aggregate per node (version nodes, service nodes, unknown), and the node list.
    const inbound = new Map<string, Cell>();
    const nodes = new Map<string, Omit<TopologyNode, 'requestRate' | 'successRate' | 'latencyMs' | 'responses' | 'requests'>>();
    const ensureNode = (id: string) => {
      if (nodes.has(id)) return;
      if (id === 'ingress') nodes.set(id, { id, type: 'ingress', service: null, version: null });
      else if (id === 'unknown') nodes.set(id, { id, type: 'unknown', service: null, version: null });
      else {
        const colon = id.indexOf(':');
        if (colon === -1) nodes.set(id, { id, type: 'service', service: id, version: null });
        else {
          const service = id.slice(0, colon);
          nodes.set(id, { id, type: 'version', service, version: id.slice(colon + 1) });
          ensureNode(service);
        }
      }
    };
    const addInbound = (id: string, c: Cell) => {
      let acc = inbound.get(id);
      if (acc === undefined) {
        acc = emptyCell('', id);
        inbound.set(id, acc);
      }
      addCell(acc, c);
    };
    for (const v of inventory.versions) ensureNode(`${v.service}:${v.version}`);
    const perCallerService = new Map<string, number>();
    for (const c of cells.values()) {
      ensureNode(c.source);
      ensureNode(c.target);
      addInbound(c.target, c);
      const colon = c.target.indexOf(':');
      const service = colon === -1 ? c.target : c.target.slice(0, colon);
      if (colon !== -1) addInbound(service, c);
      const key = `${c.source}>${service}`;
      perCallerService.set(key, (perCallerService.get(key) ?? 0) + c.count);
    }

    const nodeList: TopologyNode[] = [...nodes.values()]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((n) => {
        const c = inbound.get(n.id) ?? emptyCell('', n.id);
        return {
          ...n,
          requestRate: rate(c.count),
          successRate: success(c),
          latencyMs: latency(c),
          responses: classes(c),
          requests: c.count,
        };
      });
    const edges: TopologyEdge[] = [...cells.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([id, c]) => {
        const colon = c.target.indexOf(':');
        const service = colon === -1 ? c.target : c.target.slice(0, colon);
        const all = perCallerService.get(`${c.source}>${service}`) ?? 0;
        return {
          id,
          source: c.source,
          target: c.target,
          requestRate: rate(c.count),
          successRate: success(c),
          latencyMs: latency(c),
          responses: classes(c),
          requests: c.count,
          share: all === 0 ? null : Math.round((c.count / all) * 1000) / 1000,
        };
      });
    const releases = inventory.releases.map((r) => ({ ...r, ...this.observedShares(r.service, w) }));
    return { window: w, generatedAt: new Date(this.now()).toISOString(), nodes: nodeList, edges, releases };
  }
}
