import type { MatchBlock, Rule, StringMatch } from './api-types.js';

/** One-line, human renderings of route rules for tables. */

function describeString(m: StringMatch): string {
  if (m.exact !== undefined) return `=${m.exact}`;
  if (m.prefix !== undefined) return ` prefix ${m.prefix}`;
  return ` ~ ${m.regex ?? ''}`;
}

/** `uri prefix /api & header end-user=jason` */
export function describeBlock(block: MatchBlock): string {
  const parts: string[] = [];
  if (block.uri) parts.push(`uri${describeString(block.uri)}`);
  if (block.method) parts.push(`method${describeString(block.method)}`);
  for (const [k, m] of Object.entries(block.headers ?? {})) parts.push(`header ${k}${describeString(m)}`);
  for (const [k, m] of Object.entries(block.cookie ?? {})) parts.push(`cookie ${k}${describeString(m)}`);
  for (const [k, m] of Object.entries(block.queryParams ?? {})) parts.push(`query ${k}${describeString(m)}`);
  return parts.length > 0 ? parts.join(' & ') : 'any';
}

/** Blocks OR-ed: `header end-user=jason | uri prefix /beta`; no match list: `*` (every request). */
export function describeMatch(blocks: MatchBlock[] | undefined): string {
  if (!blocks || blocks.length === 0) return '*';
  return blocks.map(describeBlock).join(' | ');
}

/** `v1=50,v2=50` */
export function describeRoute(rule: Rule): string {
  return rule.route.map((d) => `${d.version}=${d.weight}`).join(',');
}

/** `mirror v2 10%, sticky cookie canary-session` or '-' */
export function describeExtras(rule: Rule): string {
  const parts: string[] = [];
  if (rule.mirror) parts.push(`mirror ${rule.mirror.version} ${rule.mirror.percent ?? 100}%`);
  if (rule.sticky) {
    const s = rule.sticky;
    parts.push('cookie' in s ? `sticky cookie ${s.cookie}` : 'header' in s ? `sticky header ${s.header}` : 'sticky source-ip');
  }
  return parts.length > 0 ? parts.join(', ') : '-';
}
