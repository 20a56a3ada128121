import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../test/support/dist.js';
import { checkImport, importRuleViolations, importsOf, PARTS, partOf } from '../test/support/import-rules.js';

// The static twin of the lean-proxy test (src/data-plane/run-proxy.test.ts): that one checks what a proxy process
// loads, this one which part of src/ may import which, so the dependency direction of docs/architecture.md cannot
// silently erode.

/** The rule's verdict on one import written in `file`. */
function verdict(file: string, statement: string): string | null {
  const facts = importsOf(file, statement);
  expect(facts).toHaveLength(1);
  return checkImport(file, facts[0]!)?.message ?? null;
}

describe('import rules', () => {
  it('hold for every product file under src/', () => {
    expect(importRuleViolations(repoRoot).map((v) => v.message)).toEqual([]);
  });

  it('know every folder of src/ as a part, so a new folder cannot escape them', () => {
    const folders = readdirSync(join(repoRoot, 'src'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    expect(folders.filter((f) => !(PARTS as readonly string[]).includes(f))).toEqual([]);
    expect(partOf('src/cli/entry-points/proxy-command.ts')).toBe('cli/entry-points');
    expect(partOf('src/cli/output.ts')).toBe('cli');
  });

  it('refuse the data plane importing the control plane or its telemetry, naming file, import and rule', () => {
    const message = verdict('src/data-plane/mesh-proxy.ts', "import { TelemetryHub } from '../telemetry/telemetry-hub.js';");
    expect(message).toBe(
      "src/data-plane/mesh-proxy.ts:1 imports '../telemetry/telemetry-hub.js' (part telemetry): data-plane may import core, " +
        'telemetry-wire and none of zod, yaml; the proxy depends on the core (route-table types, matchers) and the telemetry ' +
        'wire contract only, and stays lean (docs/adr/0006-lean-proxy-process.md)',
    );
    expect(verdict('src/data-plane/run-proxy.ts', "const c = await import('../control-plane/up.js');")).toContain('(part control-plane)');
    expect(verdict('src/data-plane/proxy-settings.ts', "import { z } from 'zod';")).toContain('(package zod)');
  });

  it('let the data plane import the core and the wire contract, and a part its own files', () => {
    expect(verdict('src/data-plane/mesh-proxy.ts', "import type { RouteTable } from '../core/route-table.js';")).toBeNull();
    expect(
      verdict('src/data-plane/telemetry/edge-aggregator.ts', "import { FINE_SLOTS } from '../../telemetry-wire/histogram-layout.js';"),
    ).toBeNull();
    expect(verdict('src/data-plane/mesh-proxy.ts', "import { RequestRouter } from './request-router.js';")).toBeNull();
  });

  it("let the control plane take the proxy's settings schema, and nothing else of the data plane", () => {
    expect(
      verdict('src/control-plane/up-config.ts', "import { DEFAULT_PROXY_SETTINGS } from '../data-plane/proxy-settings.js';"),
    ).toBeNull();
    expect(verdict('src/control-plane/up.ts', "import { MeshProxy } from '../data-plane/mesh-proxy.js';")).toContain('(part data-plane)');
  });

  it('refuse the core importing anything of ours or doing I/O', () => {
    expect(verdict('src/core/model.ts', "import { SqliteStore } from '../store/sqlite-store.js';")).toContain('(part store)');
    expect(verdict('src/core/model.ts', "import { createServer } from 'node:http';")).toContain('(package node:http)');
    expect(verdict('src/core/model.ts', "import { readFileSync } from 'node:fs';")).toContain('(package node:fs)');
    expect(verdict('src/core/model.ts', "import { z } from 'zod';")).toBeNull();
  });

  it('let CLI commands reach other parts only through the entry points, and API types only as types', () => {
    expect(verdict('src/cli/commands/release-commands.ts', "import { createControlPlane } from '../../control-plane/index.js';")).toContain(
      '(part control-plane)',
    );
    // A type written as `typeof import()` is still an import of that part by a client command.
    expect(verdict('src/cli/commands/release-commands.ts', "type T = typeof import('../../store/index.js');")).toContain(
      '(part store, types)',
    );
    expect(verdict('src/cli/commands/release-commands.ts', "import type { Release } from '../api-types.js';")).toBeNull();
    expect(verdict('src/cli/create-program.ts', "import { registerRunCommands } from './entry-points/run-commands.js';")).toBeNull();
    expect(verdict('src/cli/entry-points/run-commands.ts', "const { runUp } = await import('../../control-plane/up.js');")).toBeNull();
    expect(verdict('src/cli/api-types.ts', "export type { Release } from '../core/index.js';")).toBeNull();
    expect(verdict('src/cli/api-types.ts', "import { type Release, InputError } from '../core/index.js';")).toContain('(part core)');
    expect(verdict('src/cli/api-types.ts', "export { Release } from '../core/index.js';")).toContain('(part core)');
  });

  it('refuse product code importing test support', () => {
    expect(verdict('src/control-plane/up.ts', "import { startUpstream } from '../../test/support/test-upstreams.js';")).toContain(
      '(test support, which is not shipped)',
    );
  });

  it('read import statements, not text that looks like one', () => {
    const text = [
      "// import { x } from '../control-plane/up.js';",
      'const s = "import { y } from \'../store/index.js\'";',
      'import {',
      '  a,',
      '  b,',
      "} from '../core/index.js';",
      "export * from './mesh-proxy.js';",
    ].join('\n');
    expect(importsOf('src/data-plane/x.ts', text)).toEqual([
      { line: 3, specifier: '../core/index.js', typeOnly: false },
      { line: 7, specifier: './mesh-proxy.js', typeOnly: false },
    ]);
  });
});
