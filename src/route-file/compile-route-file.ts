import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type ErrorDetail, InputError } from '../core/errors.js';
import type { RouteTable } from '../core/route-table.js';
import type { ProxyLimits } from '../data-plane/proxy-settings.js';

const compilerEntry = fileURLToPath(new URL('./static-route-file-main.js', import.meta.url));

type CompilerAnswer =
  | { table: RouteTable; proxy: Partial<ProxyLimits> }
  | { inputError: { message: string; details: ErrorDetail[] } }
  | { failure: string };

/**
 * Parses, validates and compiles a static route file's text into a route table (the data plane's RouteFileCompiler;
 * `canary proxy` hands it to its FileRouteSource). The parser, the validator and the compiler (zod, yaml, the core's
 * schemas: about 10 MB once loaded, for good) run in a short-lived child process (static-route-file-main.ts) that
 * hands back the table as JSON, so the proxy process never holds them; a proxy following a control plane gets the
 * same JSON from the control plane (docs/adr/0006-lean-proxy-process.md). Run from the TypeScript sources (unit
 * tests), where no compiled entry exists, the same function runs in process.
 */
export async function compileRouteFile(text: string, revision: number): Promise<{ table: RouteTable; proxy: Partial<ProxyLimits> }> {
  if (!existsSync(compilerEntry)) {
    const { readStaticRouteFile } = await import('./static-route-file.js');
    return readStaticRouteFile(text, revision);
  }
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [compilerEntry, String(revision)],
      { maxBuffer: 512 * 2 ** 20, env: { ...process.env, NODE_OPTIONS: '' } },
      (err, out, errText) => {
        if (err) reject(new Error(`the route file's compiler failed: ${errText.trim() || err.message}`));
        else resolve(out);
      },
    );
    // A child that dies before reading everything makes the write fail (EPIPE): the callback above says why.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(text);
  });
  const answer = JSON.parse(stdout) as CompilerAnswer;
  if ('table' in answer) return answer;
  if ('inputError' in answer) throw new InputError(answer.inputError.message, answer.inputError.details);
  throw new Error(answer.failure);
}
