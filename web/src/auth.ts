import { useSyncExternalStore } from 'react';
import { readToken } from './api/token-store.js';

/** The current token, re-read when it is set, cleared or rejected (client.ts clears it on a 401). */
export function useToken(): string | null {
  return useSyncExternalStore((l) => {
    window.addEventListener('canary-token', l);
    return () => window.removeEventListener('canary-token', l);
  }, readToken);
}
