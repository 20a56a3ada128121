import { type Command, Option } from 'commander';
import { addClientOptions, clientAction } from '../client-command.js';
import { formatAge, formatTable, printResult } from '../output.js';

/** A token as `GET /api/v1/tokens` lists it (never its value). */
export interface TokenResource {
  name: string;
  role: string;
  createdAt: string | null;
  createdBy: string | null;
  expiresAt: string | null;
  source: 'stored' | 'bootstrap' | 'process';
}

const ROLE_CHOICES = ['viewer', 'operator', 'admin', 'proxy'];

export function tokenTable(items: TokenResource[]): string {
  return formatTable(
    ['NAME', 'ROLE', 'EXPIRES', 'CREATED BY', 'AGE', 'SOURCE'],
    items.map((t) => [t.name, t.role, t.expiresAt ?? 'never', t.createdBy ?? '-', formatAge(t.createdAt ?? undefined), t.source]),
  );
}

/** `canary token create|list|revoke` and `canary whoami`. */
export function registerTokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description('bearer tokens for people and scripts: viewer, operator, admin (admin only)')
    .addHelpText(
      'after',
      `
Roles: viewer reads everything but tokens; operator also creates and drives releases and sets routes (for
versions that exist, or whose only change is an image); admin may do everything, including registering services
whose workloads run commands on the control plane's host, and managing tokens. See docs/security.md.

Examples:
  canary token create ci --role operator --expires 30d
  canary token list
  canary token revoke ci`,
    );

  addClientOptions(
    token
      .command('create')
      .argument('<name>', 'token name: recorded as the actor of every change made with it')
      .description('create a token and print it once (only a salted hash is kept)'),
  )
    .addOption(new Option('--role <role>', 'what the token may do').choices(ROLE_CHOICES).makeOptionMandatory())
    .option('--expires <duration>', 'lifetime such as 30d, 12h or 90m (default: never)')
    .addHelpText(
      'after',
      `
The token is printed once; store it where its user reads it (CANARY_TOKEN, a CI secret). -o json prints
{"name","role","token","expiresAt"}.

Examples:
  canary token create alice --role viewer
  canary token create deploy-bot --role operator --expires 30d -o json`,
    )
    .action(
      clientAction(async ({ api, output }, name: string, opts: { role: string; expires?: string }) => {
        const created = await api.post<TokenResource & { token: string }>('/api/v1/tokens', {
          body: { name, role: opts.role, ...(opts.expires !== undefined ? { expiresIn: opts.expires } : {}) },
        });
        const shown = { name: created.name, role: created.role, token: created.token, expiresAt: created.expiresAt };
        printResult(
          output,
          shown,
          () =>
            `token/${created.name} created (role ${created.role}, ${created.expiresAt ? `expires ${created.expiresAt}` : 'does not expire'})\n` +
            `${created.token}\n` +
            'This is the only time it is shown. Give it as CANARY_TOKEN, --token, or in the console.',
        );
      }),
    );

  addClientOptions(token.command('list').description('list tokens: name, role, expiry (never their values)'))
    .addHelpText('after', '\nExamples:\n  canary token list\n  canary token list -o json')
    .action(
      clientAction(async ({ api, output }) => {
        const res = await api.get<{ items: TokenResource[] }>('/api/v1/tokens');
        printResult(output, res, () => tokenTable(res.items));
      }),
    );

  addClientOptions(
    token.command('revoke').argument('<name>', 'token name').description('revoke a token: its next request is refused (401)'),
  )
    .addHelpText('after', '\nExamples:\n  canary token revoke deploy-bot')
    .action(
      clientAction(async ({ api, output }, name: string) => {
        const removed = await api.delete<TokenResource>(`/api/v1/tokens/${encodeURIComponent(name)}`);
        printResult(output, removed, () => `token/${removed.name} revoked`);
      }),
    );

  addClientOptions(program.command('whoami').description("the token's name and role, as the control plane sees it"))
    .addHelpText('after', '\nExamples:\n  canary whoami\n  CANARY_TOKEN=... canary whoami -o json')
    .action(
      clientAction(async ({ api, output }) => {
        const me = await api.get<{ name: string; role: string; permissions: string[] }>('/api/v1/whoami');
        printResult(output, me, () => `${me.name} (role ${me.role})`);
      }),
    );
}
