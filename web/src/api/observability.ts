import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiFetch } from './client.js';
import { listOf, normalizeTopology } from './shapes.js';
import type { TraceSummary } from './types.js';

export function useTopology(windowSeconds: number) {
  return useQuery({
    queryKey: ['topology', windowSeconds],
    queryFn: async () => normalizeTopology(await apiFetch<unknown>(`/api/v1/topology?window=${windowSeconds}`)),
    refetchInterval: 2000,
    retry: false,
  });
}

export interface TraceQuery {
  service: string;
  /** Look back this many minutes. */
  sinceMinutes: number;
  minDurationMs: number;
  errorsOnly: boolean;
  limit: number;
}

export function traceSearchPath(q: TraceQuery, now = Date.now()): string {
  const p = new URLSearchParams();
  if (q.service) p.set('service', q.service);
  if (q.minDurationMs > 0) p.set('minDurationMs', String(q.minDurationMs));
  if (q.errorsOnly) p.set('errors', 'true');
  p.set('since', new Date(now - q.sinceMinutes * 60_000).toISOString());
  p.set('limit', String(q.limit));
  return `/api/v1/traces?${p.toString()}`;
}

export function useTraces(q: TraceQuery) {
  return useQuery({
    queryKey: ['traces', q],
    queryFn: async () => listOf<TraceSummary>(await apiFetch<unknown>(traceSearchPath(q)), 'traces'),
    retry: false,
  });
}

export function useTrace(traceId: string | null) {
  return useQuery({
    queryKey: ['trace', traceId],
    queryFn: async () => {
      const body = await apiFetch<TraceSummary | { trace: TraceSummary }>(`/api/v1/traces/${encodeURIComponent(traceId ?? '')}`);
      return 'trace' in body ? body.trace : body;
    },
    enabled: !!traceId,
    retry: false,
  });
}

export interface DemoTrafficState {
  enabled: boolean;
  rate: number;
  /** The page the generator loads (the product page through the ingress), when the demo runs. */
  url?: string | null;
}

export function useDemoTrafficState() {
  return useQuery({
    queryKey: ['demo-traffic'],
    queryFn: () => apiFetch<DemoTrafficState>('/api/v1/demo/traffic'),
    refetchInterval: 5000,
    retry: false,
  });
}

export function useDemoTraffic() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { enabled: boolean; rate: number }) => apiFetch<DemoTrafficState>('/api/v1/demo/traffic', { method: 'POST', body: v }),
    onSuccess: (state) => qc.setQueryData(['demo-traffic'], state),
  });
}
