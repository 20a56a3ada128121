import { type Command, Option } from 'commander';
import { ApiClient, ApiError, DEFAULT_SERVER, resolveClientSettings, UnreachableError } from './api-client.js';
import { OUTPUT_FORMATS, type OutputFormat, parseOutputFormat } from './output.js';

/** The options every client command takes. */
export interface ClientOptions {
  server?: string;
  token?: string;
  data?: string;
  output?: OutputFormat;
}

export interface ClientContext {
  api: ApiClient;
  output: OutputFormat;
}

/** Adds --server, --token, --data and -o to a command that talks to the API. */
export function addClientOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--server <url>', `control plane URL (env CANARY_SERVER, default ${DEFAULT_SERVER})`))
    .addOption(new Option('--token <token>', 'bearer token (env CANARY_TOKEN, else <data>/admin-token)'))
    .addOption(new Option('--data <dir>', 'data directory holding admin-token (default ./.canary)'))
    .addOption(new Option('-o, --output <format>', 'output format (default table)').choices(OUTPUT_FORMATS));
}

/**
 * Wraps a client command's action: builds the API client from the options, runs it, and turns failures into
 * `Error: <message>` on stderr and exit code 1 (the API's message, then its details, one per line).
 */
export function clientAction<A extends unknown[]>(run: (ctx: ClientContext, ...args: A) => Promise<void>) {
  return async (...args: unknown[]): Promise<void> => {
    // commander calls actions with (...arguments, options, command)
    const cmd = args[args.length - 1] as Command;
    // The client options may come before the subcommand (`canary --server URL release list`) or after it.
    const opts = cmd.optsWithGlobals() as ClientOptions;
    try {
      const settings = resolveClientSettings({ server: opts.server, token: opts.token, data: opts.data ?? './.canary' });
      const ctx: ClientContext = { api: new ApiClient(settings), output: parseOutputFormat(opts.output ?? 'table') };
      await run(ctx, ...(args.slice(0, -1) as A));
    } catch (err) {
      reportError(err);
    }
  };
}

/** Prints an error as `Error: ...` to stderr and sets exit code 1. */
export function reportError(err: unknown, err_out: NodeJS.WritableStream = process.stderr): void {
  process.exitCode = 1;
  if (err instanceof ApiError) {
    let text = `Error: ${err.message}\n`;
    // The API's message usually lists the details already; print only those it does not.
    for (const d of err.details) {
      if (!err.message.includes(d.message)) text += `  ${d.path ? `${d.path}: ` : ''}${d.message}\n`;
    }
    if (err.status === 401) {
      text += 'Give a token with --token or CANARY_TOKEN, or --data DIR naming the data directory that holds admin-token.\n';
    }
    if (err.status === 403 && err.code === 'Forbidden') {
      text += "The token's role may not do this: `canary whoami` shows it; an admin can create one that may (canary token create).\n";
    }
    err_out.write(text);
    return;
  }
  if (err instanceof UnreachableError) {
    err_out.write(`Error: ${err.message}\n`);
    return;
  }
  err_out.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
}
