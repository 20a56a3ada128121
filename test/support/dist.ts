import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function newestSource(dir: string): number {
  let newest = 0;
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (f.endsWith('.ts') && !f.endsWith('.test.ts')) newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
  }
  return newest;
}

/**
 * Tests that spawn `bin/canary.js` or the demo run the compiled dist/. `npm test` builds first; this rebuilds
 * when a test file is run on its own after a source changed. tsc emits even when some other part has type
 * errors, so a failed compile is left to the tests themselves to reveal.
 */
export function ensureBuilt(): void {
  const marker = join(repoRoot, 'dist', 'cli', 'main.js');
  const built = existsSync(marker) ? statSync(marker).mtimeMs : 0;
  if (built >= newestSource(join(repoRoot, 'src'))) return;
  try {
    execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
      cwd: repoRoot,
      stdio: 'pipe',
      timeout: 180_000,
    });
  } catch {
    // See above: emitted anyway.
  }
}
