import type { ElementDefinition } from 'cytoscape';
import type { Topology, TopologyEdge, TopologyNode } from '../api/types.js';

export type Health = 'idle' | 'healthy' | 'degraded' | 'failing';

export function healthOf(rate: number, successRate: number): Health {
  if (!rate) return 'idle';
  if (successRate >= 0.99) return 'healthy';
  if (successRate >= 0.95) return 'degraded';
  return 'failing';
}

export const healthColor: Record<Health, string> = {
  idle: '#adb5bd',
  healthy: '#2f9e44',
  degraded: '#f08c00',
  failing: '#e03131',
};

export function edgeId(e: Pick<TopologyEdge, 'source' | 'target'>): string {
  return `${e.source}->${e.target}`;
}

export function formatRate(rate: number): string {
  return rate >= 10 ? rate.toFixed(0) : rate.toFixed(rate >= 1 ? 1 : 2);
}

export function formatPercent(success: number): string {
  return `${(success * 100).toFixed(success >= 0.999 || success === 0 ? 0 : 1)}%`;
}

/**
 * Cytoscape elements: versions sit inside their service (compound nodes); a service node the API does not
 * list is made up as a plain parent so that the grouping holds either way.
 */
export function buildElements(topology: Topology): ElementDefinition[] {
  const out: ElementDefinition[] = [];
  const serviceIds = new Map<string, string>();
  for (const n of topology.nodes) {
    if (n.kind === 'service' && n.service) serviceIds.set(n.service, n.id);
  }
  const parentOf = (n: TopologyNode): string | undefined => {
    if (n.kind === 'service' || !n.service || !n.version) return undefined;
    let id = serviceIds.get(n.service);
    if (!id) {
      id = `service:${n.service}`;
      serviceIds.set(n.service, id);
      out.push({ group: 'nodes', data: { id, label: n.service, kind: 'service', service: n.service } });
    }
    return id;
  };
  const ids = new Set(topology.nodes.map((n) => n.id));
  for (const n of topology.nodes) {
    const parent = parentOf(n);
    const label = n.kind === 'service' ? (n.service ?? n.id) : n.version ? n.version : (n.service ?? n.id);
    out.push({ group: 'nodes', data: { id: n.id, label, kind: n.kind, service: n.service, version: n.version, parent } });
  }
  for (const e of topology.edges) {
    if (!ids.has(e.source) || !ids.has(e.target)) continue;
    const health = healthOf(e.rate, e.successRate);
    out.push({
      group: 'edges',
      data: {
        id: edgeId(e),
        source: e.source,
        target: e.target,
        label: `${formatRate(e.rate)} rps · ${formatPercent(e.successRate)}`,
        color: healthColor[health],
        width: Math.min(1.5 + Math.log2(1 + e.rate), 7),
      },
    });
  }
  return out;
}
