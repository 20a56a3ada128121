import { type Command, Option } from 'commander';
import { parseAllDocuments } from 'yaml';
import { addClientOptions, clientAction } from '../client-command.js';
import { formatTable, printResult } from '../output.js';

export interface EventResource {
  id: number;
  at: string;
  actor: string;
  action: string;
  resourceKind: string;
  resourceName: string;
  release: string | null;
  message: string;
  before?: unknown;
  after?: unknown;
}

export interface LogLineResource {
  at: string;
  instance: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export function eventTable(items: EventResource[]): string {
  return formatTable(
    ['TIME', 'ACTOR', 'ACTION', 'RESOURCE', 'MESSAGE'],
    items.map((e) => [e.at.replace(/\.\d+Z$/, 'Z'), e.actor, e.action, `${e.resourceKind}/${e.resourceName}`, e.message ?? '']),
  );
}

/** `canary manifests`, `canary events`, `canary logs`. */
export function registerObserveCommands(program: Command): void {
  addClientOptions(
    program
      .command('manifests')
      .argument('<service>', 'service name')
      .description('the Istio VirtualService + DestinationRule for a service as routed now (YAML)'),
  )
    .addHelpText(
      'after',
      `
The same routing your Istio mesh would need: apply it with kubectl to move a service from Canary Mesh to Istio,
or compare it with \`kubectl get virtualservice -o yaml\`. See docs/istio.md for how rules map.
-o table and -o yaml print the YAML stream; -o json prints the two objects as a JSON list.

Examples:
  canary manifests reviews
  canary manifests reviews | kubectl apply -n demo-project -f -`,
    )
    .action(
      clientAction(async ({ api, output }, service: string) => {
        const yaml = await api.text(`/api/v1/services/${encodeURIComponent(service)}/manifests`, { query: { format: 'istio' } });
        if (output === 'json')
          printResult(
            'json',
            parseAllDocuments(yaml).map((d) => d.toJS()),
            () => '',
          );
        else process.stdout.write(yaml.endsWith('\n') ? yaml : `${yaml}\n`);
      }),
    );

  addClientOptions(
    program
      .command('events')
      .description('the audit log: who changed what, when, before and after (newest last)')
      .option('--release <name>', "only this release's events (kept after it finishes)")
      .option('--limit <n>', 'at most this many events')
      .option('--since <id-or-time>', 'events after this event id or ISO time'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  canary events\n  canary events --release reviews-canary\n  canary events --release reviews-canary -o json   # with before/after of each change',
    )
    .action(
      clientAction(async ({ api, output }, opts: { release?: string; limit?: string; since?: string }) => {
        const base = opts.release ? `/api/v1/releases/${encodeURIComponent(opts.release)}/events` : '/api/v1/events';
        const res = await api.get<{ items: EventResource[] }>(base, { query: { limit: opts.limit, since: opts.since } });
        printResult(output, res, () => (res.items.length > 0 ? eventTable(res.items) : 'No events.'));
      }),
    );

  addClientOptions(
    program
      .command('logs')
      .argument('<service>', 'service name')
      .argument('<version>', 'version name')
      .description("recent log lines of a version's instances (newest last)")
      .addOption(new Option('--tail <n>', 'how many lines').default('200'))
      .option('--instance <name>', 'only this instance, e.g. reviews-v2-1'),
  )
    .addHelpText('after', '\nExamples:\n  canary logs reviews v2\n  canary logs reviews v2 --tail 20 --instance reviews-v2-1')
    .action(
      clientAction(async ({ api, output }, service: string, version: string, opts: { tail: string; instance?: string }) => {
        const res = await api.get<{ lines: LogLineResource[] }>(
          `/api/v1/services/${encodeURIComponent(service)}/versions/${encodeURIComponent(version)}/logs`,
          { query: { tail: opts.tail, instance: opts.instance } },
        );
        printResult(output, res, () =>
          res.lines.map((l) => `${l.at} ${l.instance}${l.stream === 'stderr' ? ' (stderr)' : ''}  ${l.line}`).join('\n'),
        );
      }),
    );
}
