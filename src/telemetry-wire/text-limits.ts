/**
 * The longest text a telemetry batch keeps per field. A longer value is cut, never refused: one request with a
 * 3,000-character path must not cost the metrics of every other request in its batch (issue 13). Shared by the
 * proxy (which cuts before it sends) and the control plane (which cuts what an older or foreign proxy sent);
 * no zod here, so the proxy process can import it without loading the schemas.
 */
export const TEXT_LIMITS = {
  /** Service, version and instance names. */
  party: 253,
  /** A span's operation (`GET /path`) and its path. */
  operation: 2048,
  host: 253,
  peerAddress: 300,
  method: 32,
  responseFlags: 8,
  proxyId: 300,
  /** A mirror comparison's field (header name, JSON path) and the two values shown for it. */
  comparisonValue: 300,
  /** The body of an example answer kept beside a comparison difference. */
  exampleBody: 4096,
  /** A header value of an example answer. */
  exampleHeader: 1024,
} as const;

/** Marks a value that was cut, so a reader knows the rest is missing. */
const CUT_MARK = '…';

/** `text` if it fits in `max` characters, else its first `max - 1` characters and a cut mark. */
export function truncateText(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - CUT_MARK.length) + CUT_MARK;
}
