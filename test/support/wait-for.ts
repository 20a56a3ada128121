/**
 * The one way tests wait: on a condition, not a clock. `check` is polled until it gives a value (anything but
 * undefined, null or false), which is returned; after `timeoutMs` the test fails saying what it waited for and
 * what it saw last. Timeouts are generous (a loaded 2-core machine); a passing wait costs only its condition.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let seen = 'nothing yet';
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== null && v !== false) return v;
      seen = `last ${String(v)}`;
    } catch (err) {
      seen = `last error: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${seen})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** `waitFor` for a value that may itself be falsy: polls `read` until `ok` holds for what it read, and returns that. */
export async function waitForValue<T>(what: string, read: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  let last: T | undefined;
  try {
    const hit = await waitFor(
      what,
      async () => {
        last = await read();
        return ok(last) ? { value: last } : undefined;
      },
      timeoutMs,
    );
    return hit.value;
  } catch (err) {
    throw new Error(`${(err as Error).message}; last value ${JSON.stringify(last)}`);
  }
}
