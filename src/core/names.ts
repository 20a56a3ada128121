/** DNS-1123 label: what Kubernetes accepts as a Service or subset name. */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Returns why `name` is not a DNS-1123 label, or undefined when it is one. */
export function dns1123LabelProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 63) return `must be at most 63 characters, got ${name.length}`;
  if (!DNS1123_LABEL.test(name)) {
    return `"${name}" must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit`;
  }
  return undefined;
}

/** Name of the n-th (1-based) instance of a service version, e.g. `reviews-v2-1`. */
export function instanceName(service: string, version: string, n: number): string {
  return `${service}-${version}-${n}`;
}
