import type { Command } from 'commander';
import { DRY_RUN_HELP, type DryRunResult, dryQuery, dryRunText } from './release-commands.js';
import type { Rule, Service } from '../api-types.js';
import { addClientOptions, clientAction } from '../client-command.js';
import { describeExtras, describeMatch, describeRoute } from '../describe-rules.js';
import { formatAge, formatFields, formatTable, printResult } from '../output.js';
import { readSpecDocuments, readSpecObject } from '../spec-file.js';

/** A service as the API returns it: the spec, metadata, and the status of each version's instances. */
export type ServiceResource = Service & {
  status?: {
    release: string | null;
    versions: {
      name: string;
      health: { ready: boolean; failed: boolean; reason: string };
      instances: { name: string; ready: boolean; state: string; address: string; restarts: number; ejectedUntil?: string }[];
    }[];
  };
};

const path = (name: string) => `/api/v1/services/${encodeURIComponent(name)}`;

function readiness(svc: ServiceResource, version: string): string {
  const v = svc.status?.versions.find((x) => x.name === version);
  if (!v) return '-';
  const ready = v.instances.filter((i) => i.ready).length;
  // Ready but kept out of load balancing by a proxy's outlier detection.
  const ejected = v.instances.filter((i) => i.ejectedUntil !== undefined).length;
  return `${ready}/${v.instances.length}${ejected > 0 ? ` (${ejected} ejected)` : ''}${v.health.failed ? ' failed' : ''}`;
}

function workloadSummary(w: Service['versions'][number]['workload']): string {
  if (w.kind === 'process') return `process: ${[w.command, ...(w.args ?? [])].join(' ')}`;
  if (w.kind === 'endpoints') return `endpoints: ${w.addresses.join(', ')}`;
  return `kubernetes: ${w.image}`;
}

export function serviceTable(items: ServiceResource[]): string {
  return formatTable(
    ['NAME', 'PORT', 'VERSIONS', 'READY', 'RELEASE', 'AGE'],
    items.map((s) => [
      s.name,
      String(s.port),
      s.versions.map((v) => v.name).join(','),
      s.versions.map((v) => `${v.name} ${readiness(s, v.name)}`).join(', '),
      s.status?.release ?? '-',
      formatAge(s.createdAt),
    ]),
  );
}

export function rulesTable(rules: Rule[]): string {
  return formatTable(
    ['#', 'MATCH', 'ROUTE', 'EXTRA'],
    rules.map((r, i) => [String(i + 1), describeMatch(r.match), describeRoute(r), describeExtras(r)]),
  );
}

export function serviceDetail(s: ServiceResource): string {
  const fields = formatFields([
    ['Name', s.name],
    ['Port', String(s.port)],
    ['Ingress paths', s.ingress?.paths.join(', ') || '-'],
    ['Release', s.status?.release ?? '-'],
    ['Resource version', s.resourceVersion],
    ['Created', `${s.createdAt} by ${s.createdBy}`],
  ]);
  const versions = formatTable(
    ['VERSION', 'READY', 'LABELS', 'WORKLOAD'],
    s.versions.map((v) => [
      v.name,
      readiness(s, v.name),
      Object.entries(v.labels ?? {})
        .map(([k, val]) => `${k}=${val}`)
        .join(',') || '-',
      workloadSummary(v.workload),
    ]),
  );
  const routes = s.routes.length > 0 ? rulesTable(s.routes) : '(none: everything goes to the first version)';
  return `${fields}\n\nVersions:\n${versions}\n\nRoutes:\n${routes}\n`;
}

/** `canary service list|get|create|delete`. */
export function registerServiceCommands(program: Command): void {
  const service = program
    .command('service')
    .alias('services')
    .description('list, show, register and delete services and their versions')
    .addHelpText(
      'after',
      `
Examples:
  canary service list
  canary service get reviews -o yaml
  canary service create -f reviews.yaml
  canary service delete reviews`,
    );

  addClientOptions(service.command('list').alias('ls').description('list services with their versions and readiness'))
    .addHelpText('after', "\nExamples:\n  canary service list\n  canary service list -o json | jq -r '.items[].name'")
    .action(
      clientAction(async ({ api, output }) => {
        const res = await api.get<{ items: ServiceResource[] }>('/api/v1/services');
        printResult(output, res, () =>
          res.items.length > 0 ? serviceTable(res.items) : 'No services. Register one with `canary service create -f FILE`.',
        );
      }),
    );

  addClientOptions(
    service.command('get').argument('<name>', 'service name').description("show a service: versions, their instances' readiness, routes"),
  )
    .addHelpText('after', '\nExamples:\n  canary service get reviews\n  canary service get reviews -o yaml > reviews.yaml')
    .action(
      clientAction(async ({ api, output }, name: string) => {
        const svc = await api.get<ServiceResource>(path(name));
        printResult(output, svc, () => serviceDetail(svc));
      }),
    );

  addClientOptions(
    service
      .command('create')
      .description('register a service with its versions (starts their workloads)')
      .requiredOption(
        '-f, --file <file>',
        'the service as YAML or JSON (- for stdin); several documents, or a `services:` list, register several',
      ),
  )
    .addHelpText(
      'after',
      `
The file holds a Service in the API's shape (see docs/api.md):

  name: reviews
  port: 9080
  versions:
    - name: v1
      workload: { kind: endpoints, addresses: ["127.0.0.1:9001"] }

Examples:
  canary service create -f reviews.yaml
  canary service create -f services.json -o json
  cat reviews.yaml | canary service create -f -`,
    )
    .action(
      clientAction(async ({ api, output }, opts: { file: string }) => {
        const specs = readSpecDocuments(opts.file).flatMap((doc) =>
          typeof doc === 'object' && doc !== null && Array.isArray((doc as { services?: unknown }).services)
            ? ((doc as { services: unknown[] }).services as unknown[])
            : [doc],
        );
        const created: ServiceResource[] = [];
        for (const spec of specs) created.push(await api.post<ServiceResource>('/api/v1/services', { body: spec }));
        printResult(output, created.length === 1 ? created[0] : { items: created }, () =>
          created.map((s) => `service/${s.name} created (versions ${s.versions.map((v) => v.name).join(', ')})`).join('\n'),
        );
      }),
    );

  addClientOptions(
    service
      .command('delete')
      .alias('rm')
      .argument('<name>', 'service name')
      .description('delete a service and stop its workloads (refused while a release is active)'),
  )
    .addHelpText('after', '\nExamples:\n  canary service delete reviews')
    .action(
      clientAction(async ({ api, output }, name: string) => {
        const svc = await api.delete<ServiceResource>(path(name));
        printResult(output, svc, () => `service/${name} deleted`);
      }),
    );
}

/** `canary version add|remove`. */
export function registerVersionCommands(program: Command): void {
  const version = program
    .command('version')
    .description("add or retire a service's version")
    .addHelpText('after', '\nExamples:\n  canary version add reviews -f reviews-v3.yaml\n  canary version remove reviews v3');

  addClientOptions(
    version
      .command('add')
      .argument('<service>', 'service name')
      .description('add a version to a service and start its workload')
      .requiredOption('-f, --file <file>', 'the version as YAML or JSON (- for stdin)'),
  )
    .addHelpText(
      'after',
      `
The file holds a Version:

  name: v3
  labels: { track: experimental }
  workload: { kind: process, command: node, args: [dist/demo/bookinfo/reviews.js], env: { SERVICE_VERSION: v3 } }

Examples:
  canary version add reviews -f reviews-v3.yaml`,
    )
    .action(
      clientAction(async ({ api, output }, serviceName: string, opts: { file: string }) => {
        const svc = await api.post<ServiceResource>(`${path(serviceName)}/versions`, { body: readSpecObject(opts.file) });
        printResult(output, svc, () => `service/${svc.name} now has versions ${svc.versions.map((v) => v.name).join(', ')}`);
      }),
    );

  addClientOptions(
    version
      .command('remove')
      .alias('rm')
      .argument('<service>', 'service name')
      .argument('<version>', 'version name')
      .description('retire a version and stop its workload (refused while routes or a release use it)'),
  )
    .addHelpText('after', '\nExamples:\n  canary version remove reviews v3')
    .action(
      clientAction(async ({ api, output }, serviceName: string, versionName: string) => {
        const svc = await api.delete<ServiceResource>(`${path(serviceName)}/versions/${encodeURIComponent(versionName)}`);
        printResult(output, svc, () => `version ${versionName} removed from service/${serviceName}`);
      }),
    );
}

/** `canary routes get|set`. */
export function registerRoutesCommands(program: Command): void {
  const routes = program
    .command('routes')
    .description("a service's ordered route rules (its VirtualService): first matching rule wins")
    .addHelpText('after', '\nExamples:\n  canary routes get reviews\n  canary routes set reviews -f rules.yaml');

  addClientOptions(
    routes.command('get').argument('<service>', 'service name').description("show the service's rules and the rules in force now"),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  canary routes get reviews\n  canary routes get reviews -o yaml > rules.yaml   # edit, then `canary routes set reviews -f rules.yaml`',
    )
    .action(
      clientAction(async ({ api, output }, serviceName: string) => {
        const res = await api.get<{ rules: Rule[]; effective: Rule[]; release: string | null; resourceVersion: string }>(
          `${path(serviceName)}/routes`,
        );
        printResult(output, res, () => {
          const own = res.rules.length > 0 ? rulesTable(res.rules) : '(none: everything goes to the first version)';
          if (!res.release) return `${own}\n`;
          return `Release ${res.release} owns the routing now; in force:\n${rulesTable(res.effective)}\n\nThe service's own rules (apply again when the release finishes):\n${own}\n`;
        });
      }),
    );

  addClientOptions(
    routes
      .command('set')
      .argument('<service>', 'service name')
      .description("replace the service's rules (refused with 409 while a release owns them)")
      .requiredOption('-f, --file <file>', 'rules as YAML or JSON: {rules: [...]} or a bare list (- for stdin)')
      .option('--dry-run', DRY_RUN_HELP),
  )
    .addHelpText(
      'after',
      `
The file holds the ordered rules (DESIGN.md "Routing semantics"):

  rules:
    - match: [ { headers: { end-user: { exact: jason } } } ]
      route: [ { version: v2, weight: 100 } ]
    - route: [ { version: v1, weight: 90 }, { version: v2, weight: 10 } ]

Examples:
  canary routes set reviews -f rules.yaml
  canary routes set reviews -f rules.yaml --dry-run   # validate; with --kubernetes, show the objects it would apply`,
    )
    .action(
      clientAction(async ({ api, output }, serviceName: string, opts: { file: string; dryRun?: boolean }) => {
        const docs = readSpecDocuments(opts.file);
        const doc = docs.length === 1 ? docs[0] : docs;
        const body = Array.isArray(doc) ? { rules: doc } : doc;
        if (opts.dryRun) {
          const res = await api.put<DryRunResult>(`${path(serviceName)}/routes`, { body, query: dryQuery(true) });
          printResult(output, res, () => dryRunText(res, `routes of service/${serviceName} would be set`));
          return;
        }
        const svc = await api.put<ServiceResource>(`${path(serviceName)}/routes`, { body });
        printResult(output, svc, () => `routes of service/${svc.name} set:\n${rulesTable(svc.routes)}`);
      }),
    );
}
