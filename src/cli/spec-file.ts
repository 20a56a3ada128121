import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

/**
 * Reads a resource file for `-f FILE`: YAML or JSON (JSON is YAML), one or more `---`-separated documents;
 * `-` reads standard input. Returns the documents as plain data; the API validates their shape.
 */
export function readSpecDocuments(file: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new Error(`-f ${file}: cannot read it: ${why}`);
  }
  const docs = parseAllDocuments(text);
  const values: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) {
      throw new Error(`-f ${file}: not valid YAML or JSON: ${doc.errors[0]!.message.split('\n')[0]}`);
    }
    const value = doc.toJS();
    if (value !== null && value !== undefined) values.push(value);
  }
  if (values.length === 0) throw new Error(`-f ${file}: the file is empty`);
  return values;
}

/** Exactly one document, an object. */
export function readSpecObject(file: string): Record<string, unknown> {
  const docs = readSpecDocuments(file);
  if (docs.length !== 1) throw new Error(`-f ${file}: expected one document, got ${docs.length}`);
  const doc = docs[0];
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new Error(`-f ${file}: expected an object (a YAML mapping or a JSON object), got ${Array.isArray(doc) ? 'a list' : typeof doc}`);
  }
  return doc as Record<string, unknown>;
}
