/** The admin token lives in sessionStorage: it is gone when the tab closes, and never sent to another origin. */
const key = 'canary.token';

export function readToken(): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

export function writeToken(token: string | null): void {
  if (token) sessionStorage.setItem(key, token);
  else sessionStorage.removeItem(key);
  window.dispatchEvent(new Event('canary-token'));
}
