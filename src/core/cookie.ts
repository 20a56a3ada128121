/**
 * Finds one cookie's value in a Cookie header as browsers send it (RFC 6265 section 5.4:
 * `a=1; user=jason; b=2`). Tolerates missing or extra spaces around `;` and `=`.
 * Returns undefined when the cookie is absent. Does not allocate an object per call.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let i = 0;
  const n = header.length;
  while (i < n) {
    while (i < n && (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 9)) i++;
    let end = header.indexOf(';', i);
    if (end === -1) end = n;
    const eq = header.indexOf('=', i);
    if (eq !== -1 && eq < end) {
      let keyEnd = eq;
      while (keyEnd > i && header.charCodeAt(keyEnd - 1) === 32) keyEnd--;
      if (keyEnd - i === name.length && header.startsWith(name, i)) {
        let vs = eq + 1;
        let ve = end;
        while (vs < ve && header.charCodeAt(vs) === 32) vs++;
        while (ve > vs && header.charCodeAt(ve - 1) === 32) ve--;
        if (ve - vs >= 2 && header.charCodeAt(vs) === 34 && header.charCodeAt(ve - 1) === 34) {
          vs++;
          ve--;
        }
        return header.slice(vs, ve);
      }
    }
    i = end + 1;
  }
  return undefined;
}
