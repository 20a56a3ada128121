import type { EdgeSample, SpanData } from '../../src/telemetry-wire/telemetry-batch.js';

/** `service:version` as a request party, instance `service-version-1` (no version: a party outside the mesh). */
function party(s: string) {
  const [service, version = ''] = s.split(':') as [string, string?];
  return { service, version, instance: version ? `${service}-${version}-1` : '' };
}

/**
 * One edge of a telemetry batch: `count` requests from `src` to `dst` (`service:version`, or null for outside the
 * mesh) answered `code`, each taking 1 ms and carrying no body.
 */
export function edgeSample(dst: string | null, code: number, count: number, src: string | null = null): EdgeSample {
  return {
    source: src === null ? null : party(src),
    destination: dst === null ? null : party(dst),
    code,
    flags: 0,
    count,
    durationSumMs: count,
    durationSlots: [],
    bytesInSum: 0,
    bytesInBuckets: [count, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    bytesOutSum: 0,
    bytesOutBuckets: [count, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  };
}

/**
 * A root server span of `service:version` as a proxy sends it: `GET path` answered 200 in 1 ms, starting now.
 * `fields` sets the rest.
 */
export function serverSpan(at: string, path: string, fields: Partial<SpanData> & Pick<SpanData, 'traceId' | 'spanId'>): SpanData {
  const { service, version, instance } = party(at);
  return {
    parentSpanId: null,
    kind: 'server',
    name: `GET ${path}`,
    service,
    version,
    instance,
    startTime: Date.now(),
    durationMs: 1,
    statusCode: 200,
    error: false,
    host: 'h',
    pid: 1,
    peerAddress: '127.0.0.1:1',
    method: 'GET',
    path,
    peerService: '',
    responseFlags: '-',
    retried: false,
    mirrored: false,
    ...fields,
  };
}
