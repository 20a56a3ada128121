import type { MeshEvent, Service, Topology, TopologyEdge, TopologyNode } from './types.js';

/**
 * Lists arrive as `{"items": [...]}` from this control plane; DESIGN.md names them (`{"services": [...]}`).
 * Both are read so the console works with either.
 */
export function listOf<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) return body as T[];
  if (body && typeof body === 'object') {
    const o = body as Record<string, unknown>;
    if (Array.isArray(o[key])) return o[key] as T[];
    if (Array.isArray(o.items)) return o.items as T[];
  }
  return [];
}

/** Instances and health may sit on each version or under `status.versions`; the console reads them on the version. */
export function normalizeService(raw: Service): Service {
  const byName = new Map((raw.status?.versions ?? []).map((v) => [v.name, v]));
  return {
    ...raw,
    versions: raw.versions.map((v) => {
      const s = byName.get(v.name);
      return { ...v, instances: v.instances ?? s?.instances, health: v.health ?? s?.health };
    }),
  };
}

/** Events name their resource as `kind`/`name` (brief) or `resourceKind`/`resourceName` (this control plane). */
export function normalizeEvent(raw: MeshEvent & { resourceKind?: string; resourceName?: string }): MeshEvent {
  return { ...raw, kind: raw.kind ?? raw.resourceKind ?? '', name: raw.name ?? raw.resourceName ?? '' };
}

type Raw = Record<string, unknown>;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function latency(raw: Raw, k: 'p50' | 'p95' | 'p99'): number | undefined {
  const l = raw.latencyMs as Raw | undefined;
  return num(l?.[k]) ?? num(raw[k]);
}

function codes(raw: Raw): Record<string, number> {
  const src = (raw.responses ?? raw.codes ?? {}) as Raw;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(src)) if (typeof v === 'number' && v > 0) out[k] = v;
  return out;
}

/**
 * The topology in the console's terms. This control plane sends `type`, `requestRate`, `latencyMs.{p50,p95,p99}`
 * and `responses`; the brief's shorter names (`kind`, `rate`, `p50`, `codes`) are read too.
 */
export function normalizeTopology(body: unknown): Topology {
  const b = (body ?? {}) as Raw;
  const nodes: TopologyNode[] = ((b.nodes as Raw[] | undefined) ?? []).map((n) => ({
    id: String(n.id),
    kind: String(n.type ?? n.kind ?? 'unknown'),
    service: (n.service as string | null) ?? undefined,
    version: (n.version as string | null) ?? undefined,
    rate: num(n.requestRate) ?? num(n.rate) ?? 0,
    successRate: num(n.successRate),
    p50: latency(n, 'p50'),
    p95: latency(n, 'p95'),
    p99: latency(n, 'p99'),
    codes: codes(n),
  }));
  const edges: TopologyEdge[] = ((b.edges as Raw[] | undefined) ?? []).map((e) => {
    const rate = num(e.requestRate) ?? num(e.rate) ?? 0;
    return {
      source: String(e.source),
      target: String(e.target),
      rate,
      // No request in the window: nothing failed either.
      successRate: num(e.successRate) ?? 1,
      p50: latency(e, 'p50'),
      p95: latency(e, 'p95'),
      p99: latency(e, 'p99'),
      codes: codes(e),
      share: num(e.share),
    };
  });
  return { window: num(b.window) ?? 60, nodes, edges };
}
