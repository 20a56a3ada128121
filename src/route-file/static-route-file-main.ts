import { readFileSync } from 'node:fs';
import { InputError } from '../core/errors.js';
import { readStaticRouteFile } from './static-route-file.js';

/**
 * A short-lived child process of `canary proxy --config FILE`: reads the file's text from stdin, parses, validates
 * and compiles it, and writes one JSON answer to stdout: `{ "table": ..., "proxy": {limits} }`, or `{ "inputError": { message,
 * details } }`, or `{ "failure": message }`. zod, yaml and the core's schemas load here and leave with this process,
 * so the proxy's own memory never holds them (docs/adr/0006-lean-proxy-process.md).
 */
const revision = Number(process.argv[2] ?? '1');
let answer: unknown;
try {
  answer = readStaticRouteFile(readFileSync(0, 'utf8'), revision);
} catch (err) {
  answer =
    err instanceof InputError
      ? { inputError: { message: err.message, details: err.details } }
      : { failure: err instanceof Error ? err.message : String(err) };
}
process.stdout.write(JSON.stringify(answer));
