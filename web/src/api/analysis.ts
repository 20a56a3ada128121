import { useMutation, useQueryClient } from '@tanstack/react-query';
import { apiFetch } from './client.js';
import type { Release } from './types.js';

const path = (name: string) => `/api/v1/releases/${encodeURIComponent(name)}`;

/** Promote (skip the remaining steps, finish keeping the candidate) or abort (roll back) a release. */
export function useAnalysisAction(name: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (kind: 'promote' | 'abort') => apiFetch<unknown>(`${path(name)}/${kind}`, { method: 'POST', body: {} }),
    onSettled: () => {
      for (const key of [['releases'], ['services'], ['release', name], ['release-events', name]])
        void qc.invalidateQueries({ queryKey: key });
    },
  });
}

export type AnalysisStatus = NonNullable<Release['status']['analysis']>;
