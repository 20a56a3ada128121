import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/dist.js';

type Tree = { [key: string]: string | Tree };

const load = (lang: string): Tree => JSON.parse(readFileSync(join(repoRoot, 'web', 'src', 'i18n', `${lang}.json`), 'utf8'));

/** `{a: {b: 'x'}}` -> `{'a.b': 'x'}`. */
function flatten(tree: Tree, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tree)) {
    if (typeof v === 'string') out[`${prefix}${k}`] = v;
    else Object.assign(out, flatten(v, `${prefix}${k}.`));
  }
  return out;
}

const placeholders = (s: string) => [...s.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]).sort();

/** Both languages of the console say everything: the same keys, and each string uses the same placeholders. */
describe('console translations', () => {
  const en = flatten(load('en'));
  const zh = flatten(load('zh-CN'));

  it('have the same keys in en and zh-CN', () => {
    expect(
      Object.keys(zh).filter((k) => !(k in en)),
      'only in zh-CN',
    ).toEqual([]);
    expect(
      Object.keys(en).filter((k) => !(k in zh)),
      'only in en',
    ).toEqual([]);
  });

  it('use the same placeholders in both languages, and no empty string', () => {
    const mismatched = Object.keys(en).filter((k) => k in zh && placeholders(en[k]!).join() !== placeholders(zh[k]!).join());
    expect(mismatched).toEqual([]);
    expect(Object.entries({ ...en, ...zh }).filter(([, v]) => !v.trim())).toEqual([]);
  });
});
