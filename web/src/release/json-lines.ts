/** A line of a pretty-printed body, marked when it belongs to the field that differs. */
export interface BodyLine {
  text: string;
  marked: boolean;
}

type Segment = string | number;

/** `$.reviews[0].rating` -> `['reviews', 0, 'rating']`; null when it is not such a path. */
export function parseJsonPath(path: string): Segment[] | null {
  if (!path.startsWith('$')) return null;
  const out: Segment[] = [];
  const re = /\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]/y;
  re.lastIndex = 1;
  while (re.lastIndex < path.length) {
    const m = re.exec(path);
    if (!m) return null;
    out.push(m[2] !== undefined ? Number(m[2]) : (m[1] ?? m[3] ?? ''));
  }
  return out;
}

const samePath = (a: Segment[], b: Segment[]) => a.length === b.length && a.every((s, i) => s === b[i]);

function emit(
  value: unknown,
  indent: string,
  prefix: string,
  comma: string,
  at: Segment[],
  target: Segment[] | null,
  inside: boolean,
  out: BodyLine[],
) {
  const marked = inside || (target !== null && samePath(at, target));
  if (value !== null && typeof value === 'object') {
    const isArray = Array.isArray(value);
    const entries: [Segment, unknown][] = isArray ? value.map((v, i) => [i, v]) : Object.entries(value as Record<string, unknown>);
    const [open, close] = isArray ? ['[', ']'] : ['{', '}'];
    if (entries.length === 0) {
      out.push({ text: `${indent}${prefix}${open}${close}${comma}`, marked });
      return;
    }
    out.push({ text: `${indent}${prefix}${open}`, marked });
    entries.forEach(([k, v], i) => {
      const childPrefix = isArray ? '' : `${JSON.stringify(k)}: `;
      emit(v, `${indent}  `, childPrefix, i < entries.length - 1 ? ',' : '', [...at, k], target, marked, out);
    });
    out.push({ text: `${indent}${close}${comma}`, marked });
    return;
  }
  out.push({ text: `${indent}${prefix}${JSON.stringify(value)}${comma}`, marked });
}

/**
 * A body as lines to show side by side: JSON pretty-printed with the lines of `field` (a JSON path) marked,
 * anything else as its own lines, nothing marked.
 */
export function bodyLines(body: string | null | undefined, field: string | null | undefined): BodyLine[] {
  if (!body) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return body.split('\n').map((text) => ({ text, marked: false }));
  }
  const out: BodyLine[] = [];
  emit(parsed, '', '', '', [], field ? parseJsonPath(field) : null, false, out);
  return out;
}
