import { useQuery } from '@tanstack/react-query';
import { apiFetch } from '../api/client.js';
import type { ObservedHistory } from './share-samples.js';

export type { ObservedHistory, ObservedHistoryPoint } from './share-samples.js';

/** The ranges the chart offers, in minutes (the control plane keeps 60). */
export const historyRanges = [5, 15, 60] as const;

export function historyRangeOf(value: string | null): number {
  const n = Number(value);
  return (historyRanges as readonly number[]).includes(n) ? n : 15;
}

/**
 * Loaded once per visit and range: the chart appends live points from the release's polling after it. Not kept
 * once the page is left (a later visit must not start from an old past), and not refetched while it is open.
 */
export function useObservedHistory(name: string, minutes: number) {
  return useQuery({
    queryKey: ['observed-history', name, minutes],
    queryFn: () => apiFetch<ObservedHistory>(`/api/v1/releases/${encodeURIComponent(name)}/observed-history?minutes=${minutes}`),
    staleTime: Number.POSITIVE_INFINITY,
    gcTime: 0,
    refetchOnWindowFocus: false,
    refetchOnReconnect: false,
    retry: false,
  });
}
