/** DNS-1123 label: what Kubernetes accepts as a Service or subset name. */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** What is wrong with a name: the API's `Name` schema and the console's wizard both ask this one function. */
export type NameFault = 'empty' | 'tooLong' | 'notDns1123';

/** Why `name` is not a DNS-1123 label, as a fault the caller can word (the console translates it), or undefined. */
export function dns1123LabelFault(name: string): NameFault | undefined {
  if (name.length === 0) return 'empty';
  if (name.length > 63) return 'tooLong';
  if (!DNS1123_LABEL.test(name)) return 'notDns1123';
  return undefined;
}

/** Returns why `name` is not a DNS-1123 label, or undefined when it is one. */
export function dns1123LabelProblem(name: string): string | undefined {
  switch (dns1123LabelFault(name)) {
    case 'empty':
      return 'must not be empty';
    case 'tooLong':
      return `must be at most 63 characters, got ${name.length}`;
    case 'notDns1123':
      return `"${name}" must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit`;
    case undefined:
      return undefined;
  }
}

/** Name of the n-th (1-based) instance of a service version, e.g. `reviews-v2-1`. */
export function instanceName(service: string, version: string, n: number): string {
  return `${service}-${version}-${n}`;
}
