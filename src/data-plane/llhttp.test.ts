import { describe, expect, it } from 'vitest';
import { llhttpMethodName, llhttpParser } from './llhttp.js';

// The proxy drives Node's own llhttp through an undocumented interface (`_http_common`'s HTTPParser). If a Node
// release changes it, the proxy falls back to node:http for everything, and this test fails loudly so the change
// is seen (docs/adr/0007-http1-framing-llhttp.md).
describe('llhttp, driven directly', () => {
  it('is reachable on this Node and behaves as the proxy relies on', () => {
    expect(llhttpParser(), `Node ${process.version} changed _http_common's HTTPParser`).not.toBeNull();
    expect(llhttpMethodName(1)).toBe('GET');
  });
});
