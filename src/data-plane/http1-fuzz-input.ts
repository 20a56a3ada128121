/** Generated HTTP/1.1 inputs for the differential test (http1-differential.ts), replayable from a seed. */

/** A small seeded PRNG (mulberry32), so a divergence can be replayed from its seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
}

const METHODS = [
  'GET',
  'GET',
  'GET',
  'GET',
  'POST',
  'POST',
  'PUT',
  'HEAD',
  'DELETE',
  'OPTIONS',
  'PATCH',
  'CONNECT',
  'FOO',
  'get',
  'PRI',
  'M-SEARCH',
  'PURGE',
  'G\x00T',
];
const TARGETS = [
  '/',
  '/',
  '/a',
  '/public/x?y=1',
  '/a/b/c.html',
  '*',
  'http://echo/x',
  'https://echo:8443/y?z',
  'echo:443',
  '/\xc3\xa9',
  '/a b',
  '/a\tb',
  '/%2F%00',
  'x',
  '/a#frag',
  '//double',
  '/a?b=c&d=\x7f',
];
const VERSIONS = [
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/1.2',
  'HTTP/2.0',
  'HTTP/5.6',
  'http/1.1',
  'HTTP/1.1 ',
  'HTTP/11',
  'HTTP/1.',
];
const EOLS = ['\r\n', '\r\n', '\r\n', '\r\n', '\r\n', '\r\n', '\n', '\r', '\r\r\n', '\n\r'];
const HOSTS = ['echo', 'echo:8000', 'Echo.local', '', '[::1]:80', 'echo evil', 'ec/ho', 'echo\x00', 'e\xe9'];
const CONTENT_LENGTHS = ['0', '3', '5', '+3', ' 3', '3 ', '03', '3,3', '-1', '99999999999999999999', 'abc', '3\x00', '0x3'];
const TRANSFER_ENCODINGS = [
  'chunked',
  'chunked',
  'Chunked',
  'xchunked',
  'chunked, identity',
  'identity, chunked',
  'gzip, chunked',
  ' chunked',
  'chunked\t',
  'chunked;q=1',
  'ch unked',
];
const CONNECTIONS = ['close', 'keep-alive', 'content-length', 'transfer-encoding, close', 'upgrade', 'host', 'X-Forwarded-For', 'TE'];
const NAMES = ['X-Foo', 'x-bar', 'Accept', 'Cookie', 'X_Under', '!#$%&*+.^`|~', 'X-Forwarded-For', 'TE', 'Keep-Alive'];
const BAD_NAMES = ['X Foo', 'X(Foo)', 'X\x7fFoo', 'Foo ', ' Foo', 'X-\xdc', 'X:Y', ''];
const VALUES = ['v', 'a b', ' padded ', 'tab\there', 'obs\x80text', '', 'q="x;y"', 'trailers', 'a,b'];
const BAD_VALUES = ['nul\x00', 'del\x7f', 'bare\rcr', 'bare\nlf', 'esc\x1b'];

/** One field line, now and then with a bad name or value. */
function field(r: Rng): string {
  return `${r.chance(0.05) ? r.pick(BAD_NAMES) : r.pick(NAMES)}: ${r.chance(0.05) ? r.pick(BAD_VALUES) : r.pick(VALUES)}`;
}

/** One generated chunked body (grammar variants and mistakes). */
function chunkedBody(r: Rng, eol: string): string {
  let out = '';
  const n = r.int(3);
  for (let i = 0; i < n; i++) {
    const data = 'abcdefghij'.slice(0, 1 + r.int(9));
    let size = data.length.toString(16);
    if (r.chance(0.1)) size = `0${size}`;
    if (r.chance(0.1)) size = size.toUpperCase();
    let ext = '';
    if (r.chance(0.15)) ext = r.pick([';a=b', ';a', ';a="q"', ' ;a=b', ';a=\x00', ';a=b\nc', '; a = b', ';"x"']);
    if (r.chance(0.05)) size = r.pick(['-1', 'g', '', 'FFFFFFFFFFFFFFFFF', `${size} `]);
    out += `${size}${ext}${r.chance(0.05) ? r.pick(EOLS) : '\r\n'}${data}${r.chance(0.05) ? r.pick(['', '\n', 'x\r\n']) : '\r\n'}`;
  }
  out += r.pick(['0', '0', '0', '00', '0;ext=1']);
  out += '\r\n';
  if (r.chance(0.2)) out += r.pick(['X-Trailer: t\r\n', 'X-Trailer: t\n', 'Content-Length: 5\r\n', 'X: a\r\n b\r\n', 'Bad Name: x\r\n']);
  out += r.chance(0.05) ? eol : '\r\n';
  return out;
}

/** One generated request: mostly valid, with the classic ambiguities mixed in at random. */
function oneRequest(r: Rng): string {
  const eol = r.chance(0.97) ? '\r\n' : r.pick(EOLS);
  let target = r.pick(TARGETS);
  if (r.chance(0.02)) target = `/${'t'.repeat(r.pick([8000, 8300, 9000, 17000]))}`;
  const method = r.chance(0.9) ? r.pick(['GET', 'POST', 'PUT', 'HEAD', 'DELETE']) : r.pick(METHODS);
  if (r.chance(0.75)) target = r.pick(['/', '/a', '/public/x?y=1']);
  const version = r.chance(0.92) ? 'HTTP/1.1' : r.pick(VERSIONS);
  let head = `${method}${r.chance(0.03) ? '  ' : ' '}${target} ${version}${eol}`;
  const fields: string[] = [];
  const hosts = r.chance(0.93) ? 1 : r.pick([0, 2]);
  for (let i = 0; i < hosts; i++)
    fields.push(`${r.chance(0.9) ? 'Host' : r.pick(['host', 'HOST', 'Host '])}: ${r.chance(0.9) ? 'echo' : r.pick(HOSTS)}`);
  let length = -1;
  let chunked = false;
  if (r.chance(0.3)) {
    const value = r.pick(CONTENT_LENGTHS);
    fields.push(`${r.pick(['Content-Length', 'content-length', 'Content-Length ', 'Content_Length'])}: ${value}`);
    if (/^\d+$/.test(value.trim())) length = Number(value.trim());
    if (r.chance(0.1)) fields.push(`Content-Length: ${r.pick(CONTENT_LENGTHS)}`);
  }
  if (r.chance(0.2)) {
    fields.push(
      `${r.pick(['Transfer-Encoding', 'transfer-encoding', 'Transfer-Encoding ', 'Transfer_Encoding'])}: ${r.pick(TRANSFER_ENCODINGS)}`,
    );
    chunked = true;
    if (r.chance(0.1)) fields.push(`Transfer-Encoding: ${r.pick(TRANSFER_ENCODINGS)}`);
  }
  if (r.chance(0.2)) fields.push(`Connection: ${r.pick(CONNECTIONS)}`);
  if (r.chance(0.05)) fields.push('Upgrade: websocket');
  if (r.chance(0.05)) fields.push('Expect: 100-continue');
  const extra = r.chance(0.05) ? 30 + r.int(10) : r.int(4);
  for (let i = 0; i < extra; i++) fields.push(field(r));
  if (r.chance(0.02)) fields.push(`X-Big: ${'b'.repeat(r.pick([4000, 15000, 17000]))}`);
  // Shuffle a little, so framing fields come in either order.
  for (let i = fields.length - 1; i > 0; i--) {
    if (r.chance(0.5)) {
      const j = r.int(i + 1);
      [fields[i], fields[j]] = [fields[j]!, fields[i]!];
    }
  }
  for (const f of fields) {
    head += `${f}${eol}`;
    if (r.chance(0.03)) head += ` folded${eol}`; // obs-fold
  }
  head += eol;
  let body = '';
  if (chunked && r.chance(0.8)) body = chunkedBody(r, eol);
  else if (length > 0) body = 'xyzxyzxyzxyz'.slice(0, Math.max(0, length + r.pick([0, 0, 0, -1, 1])));
  return head + body;
}

/** Random byte-level damage: a byte replaced, inserted or deleted. */
function mutate(r: Rng, s: string): string {
  if (s.length === 0) return s;
  const at = r.int(s.length);
  switch (r.int(3)) {
    case 0:
      return s.slice(0, at) + r.pick(['\r', '\n', ' ', '\t', '\x00', ':', '\x7f', '\xff', ';', '0']) + s.slice(at + 1);
    case 1:
      return s.slice(0, at) + r.pick(['\r', '\n', ' ', '\r\n', '\x00', ':']) + s.slice(at);
    default:
      return s.slice(0, at) + s.slice(at + 1);
  }
}

/** One generated input: one to three pipelined requests, sometimes damaged, sometimes cut short. */
export function generateRequests(r: Rng): Buffer {
  let s = '';
  const n = 1 + r.int(3);
  for (let i = 0; i < n; i++) s += oneRequest(r);
  if (r.chance(0.15)) s = mutate(r, s);
  if (r.chance(0.03)) s = mutate(r, s);
  if (r.chance(0.03)) s = s.slice(0, r.int(s.length));
  return Buffer.from(s, 'latin1');
}

/** One generated upstream answer. */
export function generateResponse(r: Rng): Buffer {
  const eol = r.chance(0.9) ? '\r\n' : r.pick(EOLS);
  const status = r.chance(0.9)
    ? r.pick(['200', '200', '404', '204', '304', '500', '103', '100'])
    : r.pick(['2000', '20', '99', '999', 'abc', '600']);
  const reason = r.chance(0.9) ? r.pick([' OK', ' Not Found', '', ' ', ' Weird \t phrase']) : r.pick([' O\x01K', ' OK\x7f', ' \xe9']);
  let head = `${r.chance(0.95) ? 'HTTP/1.1' : r.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'http/1.1', 'HTTP/1.1 '])} ${status}${reason}${eol}`;
  const interim = status === '100' || status === '103';
  const fields: string[] = [];
  let length = -1;
  let chunked = false;
  const framing = r.next();
  if (framing < 0.6) {
    const value = r.pick(CONTENT_LENGTHS);
    fields.push(`Content-Length: ${value}`);
    if (/^\d+$/.test(value.trim())) length = Number(value.trim());
    if (r.chance(0.05)) fields.push(`Content-Length: ${r.pick(CONTENT_LENGTHS)}`);
  } else if (framing < 0.84) {
    fields.push(`Transfer-Encoding: ${r.pick(TRANSFER_ENCODINGS)}`);
    chunked = true;
  }
  if (r.chance(0.2)) fields.push(`Connection: ${r.pick(['close', 'keep-alive', 'X-Foo', 'content-length', 'x-foo, close'])}`);
  const extra = r.chance(0.05) ? 30 + r.int(10) : r.int(4);
  for (let i = 0; i < extra; i++) fields.push(field(r));
  for (const f of fields) {
    head += `${f}${eol}`;
    if (r.chance(0.02)) head += ` folded${eol}`;
  }
  head += eol;
  let body = '';
  if (chunked && r.chance(0.9)) body = chunkedBody(r, eol);
  else if (length > 0) body = 'pqrpqrpqrpqr'.slice(0, length);
  else if (length === -1 && !chunked) body = r.pick(['', 'until close', 'x']);
  let s = head + body;
  // An interim answer comes before the final one.
  if (interim) s += 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  if (r.chance(0.2)) s = mutate(r, s);
  return Buffer.from(s, 'latin1');
}

/** Cuts `buf` into read-sized pieces at random offsets. */
export function segments(r: Rng, buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  const style = r.int(4);
  while (at < buf.length) {
    const n = style === 0 ? buf.length : style === 1 ? 1 + r.int(3) : 1 + r.int(64);
    out.push(buf.subarray(at, Math.min(buf.length, at + n)));
    at += n;
  }
  return out;
}
