import { useSyncExternalStore } from 'react';
import { ApiError } from '../api/client.js';

export interface Toast {
  id: number;
  color: 'red' | 'green' | 'blue';
  title: string;
  message: string;
  details: string[];
}

let toasts: Toast[] = [];
let nextId = 1;
const listeners = new Set<() => void>();

function emit(): void {
  for (const l of listeners) l();
}

export function pushToast(t: Omit<Toast, 'id'>): void {
  const id = nextId++;
  toasts = [...toasts.slice(-3), { ...t, id }];
  emit();
  // Errors stay until closed (they may need reading); successes fade.
  if (t.color !== 'red') setTimeout(() => dismissToast(id), 4000);
}

export function dismissToast(id: number): void {
  toasts = toasts.filter((t) => t.id !== id);
  emit();
}

/** The one place API errors become visible as notifications (mutations); queries show ErrorAlert inline. */
export function notifyError(err: unknown, title: string): void {
  if (err instanceof ApiError) {
    pushToast({
      color: 'red',
      title,
      message: err.message,
      details: err.details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)),
    });
  } else {
    pushToast({ color: 'red', title, message: String(err instanceof Error ? err.message : err), details: [] });
  }
}

export function useToasts(): Toast[] {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => toasts,
  );
}
