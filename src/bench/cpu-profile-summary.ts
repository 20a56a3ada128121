import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of all samples (idle included) per category, largest first. */
  categories: { name: string; ms: number; share: number }[];
  /** Busiest functions by self time, idle excluded. */
  functions: { name: string; where: string; ms: number; share: number }[];
}

function category(fn: string, url: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)') return 'V8/native (program)';
  if (url.includes('/dist/data-plane/')) return 'canary data plane (ours)';
  if (url.includes('/dist/core/')) return 'canary core (matchers)';
  if (url.includes('node_modules/re2js')) return 're2js';
  if (url.includes('node_modules/undici')) return 'undici (upstream client)';
  if (url.includes('/dist/')) return 'canary other';
  if (url.startsWith('node:internal/streams') || url.startsWith('node:stream')) return 'node streams';
  if (url.startsWith('node:_http') || url.startsWith('node:http')) return 'node http (server, outgoing)';
  if (url.startsWith('node:net') || url.startsWith('node:internal/stream_base')) return 'node net / socket writes';
  if (url.startsWith('node:')) return 'node other';
  if (url === '') return `native: ${fn || '(anonymous)'}`;
  return 'other';
}

function shortUrl(url: string): string {
  const i = url.indexOf('/dist/');
  if (i >= 0) return url.slice(i + 1);
  const j = url.indexOf('node_modules/');
  if (j >= 0) return url.slice(j);
  return url;
}

/** Self time per category and per function from a V8 .cpuprofile (`node --cpu-prof`). */
export function summariseCpuProfile(path: string, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let total = 0;
  const cats = new Map<string, number>();
  const fns = new Map<string, { name: string; where: string; us: number }>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    total += us;
    const cat = category(functionName, url);
    cats.set(
      cat.startsWith('native: ') ? 'native (syscalls, builtins)' : cat,
      (cats.get(cat.startsWith('native: ') ? 'native (syscalls, builtins)' : cat) ?? 0) + us,
    );
    if (functionName === '(idle)') continue;
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '(native)';
    const key = `${functionName}@${where}`;
    const f = fns.get(key) ?? { name: functionName || '(anonymous)', where, us: 0 };
    f.us += us;
    fns.set(key, f);
  }
  const share = (us: number) => Math.round((us / total) * 1000) / 10;
  return {
    totalMs: Math.round(total / 1000),
    categories: [...cats].map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: share(us) })).sort((a, b) => b.ms - a.ms),
    functions: [...fns.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, ms: Math.round(f.us / 1000), share: share(f.us) })),
  };
}
