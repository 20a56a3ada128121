import { useQuery } from '@tanstack/react-query';
import { apiFetch } from './client.js';

/** `GET /api/v1/whoami`: who holds the token the console signed in with, and what its role may do. */
export interface WhoAmI {
  name: string;
  role: 'viewer' | 'operator' | 'admin' | 'proxy';
  permissions: string[];
}

export function useWhoAmI() {
  return useQuery({
    queryKey: ['whoami'],
    queryFn: () => apiFetch<WhoAmI>('/api/v1/whoami'),
    staleTime: 60_000,
    retry: false,
  });
}

/**
 * Whether the signed-in token's role grants `permission` (e.g. `releases:write`). False until the answer is in:
 * an action appears disabled for a moment rather than clickable and then refused. The server checks regardless.
 */
export function useCan(permission: string): boolean {
  const me = useWhoAmI();
  return me.data?.permissions.includes(permission) ?? false;
}
