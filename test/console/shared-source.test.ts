import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The console takes its API types and its name check from the server's source (`@canary/*`, see web/tsconfig.json).
 * Types are erased, but a value import is bundled with everything it imports: this keeps that to plain modules
 * (no package, no `node:`), so no server code (Fastify, SQLite, the proxy) can reach the browser bundle.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const IMPORT = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** Value imports (not `import type`) of a file: [specifier, ...]. */
function valueImports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(IMPORT)].filter((m) => m[2] === undefined).map((m) => m[3]!);
}

const toSource = (from: string, specifier: string) =>
  (specifier.startsWith('@canary/') ? join(root, 'src', specifier.slice('@canary/'.length)) : resolve(dirname(from), specifier)).replace(
    /\.js$/,
    '.ts',
  );

/** Every server file the console bundles, with the non-relative imports each one would pull in. */
function bundledServerCode(): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages: string[] = [];
  const queue = sourceFiles(join(root, 'web/src')).flatMap((f) =>
    valueImports(f)
      .filter((s) => s.startsWith('@canary/'))
      .map((s) => toSource(f, s)),
  );
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const s of valueImports(file)) {
      if (s.startsWith('.')) queue.push(toSource(file, s));
      else packages.push(`${relative(root, file)} imports ${s}`);
    }
  }
  return { files: [...files].map((f) => relative(root, f)).sort(), packages };
}

describe('console sources shared with the server', () => {
  it('bundles the core name check and nothing that imports a package', () => {
    const { files, packages } = bundledServerCode();
    expect(files).toContain('src/core/names.ts');
    expect(packages).toEqual([]);
  });

  it('takes the API types from the schemas, with no hand-written copy of the model', () => {
    const types = readFileSync(join(root, 'web/src/api/types.ts'), 'utf8');
    expect(types).toContain("from '@canary/control-plane/api-schemas.js'");
    for (const copied of ['interface Release ', 'interface Service ', 'interface Rule ', 'interface Workload ', 'interface MatchBlock ']) {
      expect(types).not.toContain(copied);
    }
  });
});
