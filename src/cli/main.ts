import { reportError } from './client-command.js';
import { createProgram } from './create-program.js';

// The `canary` executable (bin/canary.js imports this file).
createProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => reportError(err));
