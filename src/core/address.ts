/** `host:port` or `[v6]:port` -> its host (without brackets) and port: endpoint and listen addresses alike. */
export function hostAndPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  let host = address.slice(0, colon);
  if (host.charCodeAt(0) === 91 /* [ */) host = host.slice(1, -1);
  return { host, port: Number(address.slice(colon + 1)) };
}
