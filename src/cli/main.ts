// The `canary` executable (bin/canary.js imports this file).
// `canary proxy ...` loads only its own command: a proxy process then never loads the client's or the control
// plane's modules (see src/cli/entry-points/proxy-command.ts). Everything else gets the whole program.
if (process.argv[2] === 'proxy') {
  const { createProxyProgram } = await import('./create-proxy-program.js');
  await createProxyProgram().parseAsync(process.argv);
} else {
  const { reportError } = await import('./client-command.js');
  const { createProgram } = await import('./create-program.js');
  await createProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => reportError(err));
}
