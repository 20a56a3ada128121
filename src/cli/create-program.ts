import { Command } from 'commander';
import { CLI_VERSION } from './cli-version.js';
import { addClientOptions } from './client-command.js';
import { registerObserveCommands } from './commands/observe-commands.js';
import { registerReleaseCommands } from './commands/release-commands.js';
import { registerLoadCommand } from './entry-points/load-command.js';
import { registerRenderCommands } from './entry-points/render-commands.js';
import { registerRoutesCommands, registerServiceCommands, registerVersionCommands } from './commands/service-commands.js';
import { registerRunCommands } from './entry-points/run-commands.js';
import { registerStoreCommands } from './entry-points/store-commands.js';
import { registerTelemetryCommands } from './commands/telemetry-commands.js';
import { registerTokenCommands } from './commands/token-commands.js';

export { CLI_VERSION };

/** The `canary` command with every subcommand registered. */
export function createProgram(): Command {
  const program = new Command('canary')
    .description('Canary Mesh: canary releases for HTTP microservices (control plane, mesh proxy, console; Istio-compatible)')
    .version(CLI_VERSION, '-V, --version')
    .showHelpAfterError('(add --help for usage and examples)')
    .showSuggestionAfterError(true)
    .enablePositionalOptions()
    .addHelpText(
      'after',
      `
Client commands talk to the control plane's API. They all take:
  --server URL     control plane (env CANARY_SERVER, default http://127.0.0.1:8080)
  --token T        bearer token (env CANARY_TOKEN, else the admin token in <data>/admin-token)
  --data DIR       data directory holding admin-token (default ./.canary)
  -o FORMAT        table (for people), json or yaml (the API's objects, for scripts)

Examples:
  canary up --demo bookinfo
  canary service list
  canary release create reviews-canary --service reviews --baseline v1 --candidate v2 \\
      --env SERVICE_VERSION=v2 --weights v1=50,v2=50
  canary release takeover reviews-canary v2
  canary manifests reviews
  canary events --release reviews-canary
  canary token create ci --role operator --expires 30d

Every command explains itself: canary release create --help. Docs: docs/cli.md.`,
    );
  // Client options are accepted before the subcommand too, as scripts often write them.
  addClientOptions(program);
  registerRunCommands(program);
  registerServiceCommands(program);
  registerVersionCommands(program);
  registerRoutesCommands(program);
  registerReleaseCommands(program);
  registerObserveCommands(program);
  registerTelemetryCommands(program);
  registerLoadCommand(program);
  registerRenderCommands(program);
  registerStoreCommands(program);
  registerTokenCommands(program);
  return program;
}
