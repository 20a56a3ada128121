/**
 * The end of `canary up` (local or on a cluster): the first SIGINT, SIGTERM or SIGHUP says what stops, awaits
 * `stop` and exits, 0 when it went well, 1 with the error otherwise. Later signals are ignored while it stops.
 */
export function stopOnSignal(stop: () => Promise<void>, stopping: string): void {
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    process.stdout.write(`\n${sig}: ${stopping}...\n`);
    stop().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`error while stopping: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
}
