import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiFetch } from './client.js';
import { listOf, normalizeEvent } from './shapes.js';
import type { Comparison, MeshEvent, Release, ReleaseInput, Traffic } from './types.js';

const path = (name: string) => `/api/v1/releases/${encodeURIComponent(name)}`;

export function useReleases() {
  return useQuery({
    queryKey: ['releases'],
    queryFn: async () => listOf<Release>(await apiFetch<unknown>('/api/v1/releases'), 'releases'),
    refetchInterval: 2000,
  });
}

/** Polled every 2 s: the detail page draws observed shares live. */
export function useRelease(name: string) {
  return useQuery({
    queryKey: ['release', name],
    queryFn: () => apiFetch<Release>(path(name)),
    refetchInterval: 2000,
  });
}

export function useReleaseEvents(name: string) {
  return useQuery({
    queryKey: ['release-events', name],
    queryFn: async () => listOf<MeshEvent>(await apiFetch<unknown>(`${path(name)}/events`), 'events').map(normalizeEvent),
    refetchInterval: 3000,
  });
}

function useInvalidateReleases() {
  const qc = useQueryClient();
  return (name?: string) => {
    void qc.invalidateQueries({ queryKey: ['releases'] });
    void qc.invalidateQueries({ queryKey: ['services'] });
    void qc.invalidateQueries({ queryKey: ['service'] });
    void qc.invalidateQueries({ queryKey: ['manifests'] });
    if (name) {
      void qc.invalidateQueries({ queryKey: ['release', name] });
      void qc.invalidateQueries({ queryKey: ['release-events', name] });
      void qc.invalidateQueries({ queryKey: ['comparison', name] });
    }
  };
}

export function useCreateRelease() {
  const invalidate = useInvalidateReleases();
  return useMutation({
    mutationFn: (input: ReleaseInput) => apiFetch<Release>('/api/v1/releases', { method: 'POST', body: input }),
    onSuccess: (r) => invalidate(r?.name),
  });
}

/** PATCH with If-Match: a change made elsewhere in the meantime is refused (409) instead of overwritten. */
export function usePatchTraffic(name: string) {
  const invalidate = useInvalidateReleases();
  return useMutation({
    mutationFn: (v: { traffic: Traffic; resourceVersion: string }) =>
      apiFetch<Release>(path(name), { method: 'PATCH', body: { traffic: v.traffic }, headers: { 'if-match': v.resourceVersion } }),
    onSettled: () => invalidate(name),
  });
}

export type ReleaseAction =
  | { kind: 'takeover'; version: string }
  | { kind: 'rollback' }
  | { kind: 'resume' }
  | { kind: 'finish'; keep: string };

export function useReleaseAction(name: string) {
  const invalidate = useInvalidateReleases();
  return useMutation({
    mutationFn: (a: ReleaseAction) => {
      switch (a.kind) {
        case 'takeover':
          return apiFetch<unknown>(`${path(name)}/takeover`, { method: 'POST', body: { version: a.version } });
        case 'rollback':
          return apiFetch<unknown>(`${path(name)}/rollback`, { method: 'POST', body: {} });
        case 'resume':
          return apiFetch<unknown>(`${path(name)}/resume`, { method: 'POST', body: {} });
        case 'finish':
          return apiFetch<unknown>(`${path(name)}?keep=${encodeURIComponent(a.keep)}`, { method: 'DELETE' });
      }
    },
    onSettled: () => invalidate(name),
  });
}

/** The mirror's comparison over the last `window` seconds, polled like the release itself. */
export function useComparison(name: string, window: number, enabled = true) {
  return useQuery({
    queryKey: ['comparison', name, window],
    queryFn: () => apiFetch<Comparison>(`${path(name)}/comparison?window=${window}`),
    refetchInterval: 2000,
    enabled,
  });
}
