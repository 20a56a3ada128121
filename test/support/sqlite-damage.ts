import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { expect } from 'vitest';

/** Overwrites every other page in the middle of a closed SQLite file with junk (page 1, the header, stays intact). */
export function damagePages(file: string): void {
  const pageSize = 4096;
  const pages = Math.floor(statSync(file).size / pageSize);
  expect(pages).toBeGreaterThan(4);
  const fd = openSync(file, 'r+');
  try {
    for (let p = 2; p < pages - 1; p += 2) writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, p * pageSize);
  } finally {
    closeSync(fd);
  }
}
