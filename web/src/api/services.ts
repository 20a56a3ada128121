import { useQuery } from '@tanstack/react-query';
import { apiFetch } from './client.js';
import { listOf, normalizeService } from './shapes.js';
import type { LogLine, Rule, Service } from './types.js';

export function useServices() {
  return useQuery({
    queryKey: ['services'],
    queryFn: async () => listOf<Service>(await apiFetch<unknown>('/api/v1/services'), 'services').map(normalizeService),
    refetchInterval: 5000,
  });
}

export function useService(name: string | null, refetchMs = 3000) {
  return useQuery({
    queryKey: ['service', name],
    queryFn: async () => normalizeService(await apiFetch<Service>(`/api/v1/services/${encodeURIComponent(name ?? '')}`)),
    enabled: !!name,
    refetchInterval: refetchMs,
  });
}

/** The stored rules, and those in force now (a release's while one is active). */
export interface ServiceRoutes {
  rules: Rule[];
  effective: Rule[];
  release: string | null;
}

export function useServiceRoutes(name: string | null) {
  return useQuery({
    queryKey: ['service-routes', name],
    queryFn: async (): Promise<ServiceRoutes> => {
      const body = await apiFetch<Partial<ServiceRoutes> | Rule[]>(`/api/v1/services/${encodeURIComponent(name ?? '')}/routes`);
      if (Array.isArray(body)) return { rules: body, effective: body, release: null };
      return { rules: body.rules ?? [], effective: body.effective ?? body.rules ?? [], release: body.release ?? null };
    },
    enabled: !!name,
    refetchInterval: 5000,
  });
}

/** The Istio VirtualService + DestinationRule of a service as routed now. */
export function useIstioManifests(service: string | null, refetchMs: number | false = 5000) {
  return useQuery({
    queryKey: ['manifests', service],
    queryFn: () => apiFetch<string>(`/api/v1/services/${encodeURIComponent(service ?? '')}/manifests?format=istio`, { text: true }),
    enabled: !!service,
    refetchInterval: refetchMs,
  });
}

export function useVersionLogs(service: string | null, version: string | null, tail = 200) {
  return useQuery({
    queryKey: ['logs', service, version, tail],
    queryFn: async () =>
      (
        await apiFetch<{ lines: LogLine[] }>(
          `/api/v1/services/${encodeURIComponent(service ?? '')}/versions/${encodeURIComponent(version ?? '')}/logs?tail=${tail}`,
        )
      ).lines,
    enabled: !!service && !!version,
    refetchInterval: 2000,
  });
}
