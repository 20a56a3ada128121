import { Command } from 'commander';
import { CLI_VERSION } from './cli-version.js';
import { registerProxyCommand } from './entry-points/proxy-command.js';

/**
 * `canary` with only the `proxy` command: what `canary proxy ...` runs (src/cli/main.ts), so that the proxy process
 * loads commander and the data plane, nothing of the client or the control plane. Help and errors read as in the
 * whole program, since the command is registered by the same function.
 */
export function createProxyProgram(): Command {
  const program = new Command('canary')
    .version(CLI_VERSION, '-V, --version')
    .showHelpAfterError('(add --help for usage and examples)')
    .showSuggestionAfterError(true)
    .enablePositionalOptions();
  registerProxyCommand(program);
  return program;
}
