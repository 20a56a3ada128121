import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import ts from 'typescript';

/**
 * Which part of src/ may import which (docs/architecture.md, "Parts and who imports whom"), checked from the import
 * statements of every product file (tests are not product files: they start real processes across parts).
 * A part is a folder under src/; the CLI has two more: its entry points (src/cli/entry-points, the commands that run
 * something in this process) and its API types (src/cli/api-types.ts, type-only).
 */
export const PARTS = [
  'core',
  'telemetry-wire',
  'data-plane',
  'route-file',
  'store',
  'workloads',
  'renderers',
  'telemetry',
  'kubernetes',
  'control-plane',
  'demo',
  'bench',
  'cli',
  'cli/entry-points',
  'cli/api-types',
] as const;
export type Part = (typeof PARTS)[number];

export interface PartRule {
  /** Parts whose modules this part may import (its own always). */
  may: readonly Part[];
  /** Single files of other parts it may import, each with the reason. */
  files?: Readonly<Record<string, string>>;
  /** Parts it may import types from only (`import type`, `export type`, `typeof import()`): erased when compiled. */
  typesFrom?: readonly Part[];
  /** Packages and Node modules it must not import. */
  notPackages?: readonly string[];
  /** Why, in a sentence: the failure message quotes it. */
  why: string;
}

/** Node modules and packages that do I/O: the core holds none of them. */
const IO_MODULES = [
  'node:http',
  'node:https',
  'node:net',
  'node:dgram',
  'node:child_process',
  'node:cluster',
  'node:worker_threads',
  'node:fs',
  'node:fs/promises',
  'better-sqlite3',
  'fastify',
  'undici',
];

export const RULES: Record<Part, PartRule> = {
  core: {
    may: [],
    notPackages: IO_MODULES,
    why: 'the core (model, validation, compiler, matchers) imports nothing of ours and does no I/O',
  },
  'telemetry-wire': { may: ['core'], why: 'the telemetry wire contract is shared by both planes, so it depends on the core only' },
  'data-plane': {
    may: ['core', 'telemetry-wire'],
    notPackages: ['zod', 'yaml'],
    why: 'the proxy depends on the core (route-table types, matchers) and the telemetry wire contract only, and stays lean (docs/adr/0006-lean-proxy-process.md)',
  },
  'route-file': {
    may: ['core', 'data-plane'],
    why: "the static route file's compiler uses the core's schemas and compiler and the proxy's limit keys",
  },
  store: { may: ['core'], why: 'the store keeps the core model in SQLite' },
  workloads: { may: ['core'], why: 'workload runtimes run the core model' },
  renderers: { may: ['core'], why: 'renderers turn the core model into Istio objects' },
  telemetry: {
    may: ['core', 'telemetry-wire', 'store'],
    why: "the control plane's telemetry reads the wire contract and keeps traces in SQLite like the store",
  },
  kubernetes: {
    may: ['core', 'renderers', 'workloads', 'telemetry', 'telemetry-wire'],
    why: "the Kubernetes backend implements the workload runtime and fills the control plane's telemetry from the cluster",
  },
  'control-plane': {
    may: ['core', 'store', 'workloads', 'renderers', 'telemetry', 'telemetry-wire', 'kubernetes', 'demo'],
    files: { 'src/data-plane/proxy-settings.ts': "the proxy's settings schema, which canary up passes on to its proxy" },
    why: 'the control plane wires everything except the data plane (run as a process), the CLI and the benchmarks',
  },
  demo: { may: ['core'], why: 'the demo is plain HTTP services plus their service specs' },
  bench: {
    may: ['core', 'telemetry-wire', 'data-plane', 'route-file', 'store', 'workloads', 'renderers', 'telemetry', 'control-plane', 'demo'],
    why: 'benchmarks drive any part, but run the CLI as a process',
  },
  cli: {
    may: ['cli/entry-points', 'cli/api-types'],
    why:
      "the CLI uses the API through its client: take the API's types from src/cli/api-types.ts (type-only re-exports), " +
      'and run a part in process only from an entry point in src/cli/entry-points (up, proxy, render, backup, restore, load)',
  },
  'cli/entry-points': {
    may: [
      'core',
      'telemetry-wire',
      'data-plane',
      'route-file',
      'store',
      'workloads',
      'renderers',
      'telemetry',
      'kubernetes',
      'control-plane',
      'demo',
      'cli',
      'cli/api-types',
    ],
    why: 'entry points are the commands that run a part in this process',
  },
  'cli/api-types': {
    may: [],
    typesFrom: ['core', 'control-plane', 'telemetry'],
    why: "the CLI takes the API's shapes as types only, from the schemas that define them",
  },
};

/** One import, re-export or dynamic import of a file. */
export interface ImportFact {
  line: number;
  specifier: string;
  /** Erased when compiled: `import type`, `export type`, `typeof import()`, or every name imported as a type. */
  typeOnly: boolean;
}

export interface Violation {
  file: string;
  line: number;
  specifier: string;
  message: string;
}

/** The part of a repository-relative path (`src/data-plane/mesh-proxy.ts` -> data-plane), or null outside src/. */
export function partOf(path: string): Part | 'outside' {
  const p = normalize(path).split(sep).join('/');
  if (!p.startsWith('src/')) return 'outside';
  const rest = p.slice('src/'.length);
  if (rest.startsWith('cli/entry-points/')) return 'cli/entry-points';
  if (rest === 'cli/api-types.ts') return 'cli/api-types';
  const top = rest.split('/')[0]!;
  if (!rest.includes('/')) return 'outside'; // a file directly in src/ belongs to no part
  return (PARTS as readonly string[]).includes(top) ? (top as Part) : 'outside';
}

/** The import statements of a TypeScript file, from its syntax tree (comments and strings are not imports). */
export function importsOf(fileName: string, text: string): ImportFact[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const facts: ImportFact[] = [];
  const add = (node: ts.Node, specifier: ts.Expression | undefined, typeOnly: boolean): void => {
    if (specifier === undefined || !ts.isStringLiteralLike(specifier)) return;
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    facts.push({ line, specifier: specifier.text, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            named !== undefined &&
            ts.isNamedImports(named) &&
            named.elements.length > 0 &&
            named.elements.every((e) => e.isTypeOnly)));
      add(node, node.moduleSpecifier, allTypes);
    } else if (ts.isExportDeclaration(node)) {
      const named = node.exportClause;
      const allTypes =
        node.isTypeOnly ||
        (named !== undefined && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly));
      add(node, node.moduleSpecifier, allTypes);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal as ts.Expression, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return facts;
}

/** The rule an import of `file` (repository-relative) breaks, or null when it keeps to the rules. */
export function checkImport(file: string, fact: ImportFact): Violation | null {
  const from = partOf(file);
  if (from === 'outside') return null;
  const rule = RULES[from];
  const fail = (what: string): Violation => ({
    file,
    line: fact.line,
    specifier: fact.specifier,
    message: `${file}:${fact.line} imports '${fact.specifier}' (${what}): ${from} may import ${describeAllowed(rule)}; ${rule.why}`,
  });
  if (!fact.specifier.startsWith('.')) {
    const pkg = fact.specifier;
    const banned = rule.notPackages?.find((b) => pkg === b || pkg.startsWith(`${b}/`));
    return banned === undefined ? null : fail(`package ${banned}`);
  }
  const target = normalize(join(dirname(file), fact.specifier))
    .split(sep)
    .join('/');
  const to = partOf(target);
  if (to === 'outside') return fail(target.startsWith('test/') ? 'test support, which is not shipped' : `${target}, outside every part`);
  if (to === from) return null;
  if (rule.may.includes(to)) return null;
  if (rule.files !== undefined && Object.hasOwn(rule.files, target.replace(/\.js$/, '.ts'))) return null;
  if (fact.typeOnly && rule.typesFrom?.includes(to)) return null;
  return fail(`part ${to}${fact.typeOnly ? ', types' : ''}`);
}

function describeAllowed(rule: PartRule): string {
  const files = Object.keys(rule.files ?? {});
  const parts = rule.may.length + files.length === 0 ? 'nothing of ours' : [...rule.may, ...files].join(', ');
  const types = rule.typesFrom ? ` (types only from ${rule.typesFrom.join(', ')})` : '';
  const packages = rule.notPackages ? ` and none of ${rule.notPackages.join(', ')}` : '';
  return `${parts}${types}${packages}`;
}

/** Every product file under src/ (TypeScript, not tests), repository-relative. */
export function productFiles(root: string): string[] {
  return readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.tsx?$/.test(f) && !/\.test\.tsx?$/.test(f))
    .map((f) =>
      relative(root, join(root, 'src', f))
        .split(sep)
        .join('/'),
    )
    .sort();
}

/** Every import of a product file that breaks the rules. */
export function importRuleViolations(root: string): Violation[] {
  const violations: Violation[] = [];
  for (const file of productFiles(root)) {
    for (const fact of importsOf(file, readFileSync(join(root, file), 'utf8'))) {
      const v = checkImport(file, fact);
      if (v !== null) violations.push(v);
    }
  }
  return violations;
}
