/** A small YAML writer for JSON values (the console shows route rules as YAML; no YAML library in the bundle). */
export function toYaml(value: unknown, indent = 0): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return `${pad}[]\n`;
    return value
      .map((item) => {
        if (isScalar(item)) return `${pad}- ${scalar(item)}\n`;
        const inner = toYaml(item, indent + 2);
        return `${pad}- ${inner.slice(indent + 2)}`;
      })
      .join('');
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return `${pad}{}\n`;
    return entries
      .map(([k, v]) => {
        const key = /^[A-Za-z0-9_.-]+$/.test(k) ? k : JSON.stringify(k);
        if (isScalar(v)) return `${pad}${key}: ${scalar(v)}\n`;
        if (Array.isArray(v) && v.length === 0) return `${pad}${key}: []\n`;
        if (!Array.isArray(v) && Object.keys(v as object).length === 0) return `${pad}${key}: {}\n`;
        return `${pad}${key}:\n${toYaml(v, Array.isArray(v) ? indent : indent + 2)}`;
      })
      .join('');
  }
  return `${pad}${scalar(value)}\n`;
}

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== 'object';
}

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return /^[A-Za-z0-9_./-]+$/.test(v) && !/^(true|false|null|yes|no|[0-9.]+)$/i.test(v) ? v : JSON.stringify(v);
  return String(v);
}
