/** Domain errors thrown by the core and the store; the API maps them to HTTP statuses in one place. */

export interface ErrorDetail {
  /** Dotted path of the offending field, e.g. `traffic.weights`. Empty for the whole body. */
  path: string;
  message: string;
}

export class CanaryError extends Error {
  readonly code: string;
  readonly details: ErrorDetail[];
  constructor(code: string, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** The request is malformed or breaks a rule of the model (HTTP 400). */
export class InputError extends CanaryError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super('InvalidInput', message, details);
  }
  /** One error for a list of field problems; the message lists them all. */
  static fromDetails(details: ErrorDetail[]): InputError {
    const text = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
    return new InputError(text, details);
  }
}

/** The named resource does not exist (HTTP 404). */
export class NotFoundError extends CanaryError {
  constructor(message: string) {
    super('NotFound', message);
  }
}

/** The resource exists already, or changed since it was read (HTTP 409). */
export class ConflictError extends CanaryError {
  constructor(message: string, code = 'Conflict') {
    super(code, message);
  }
}

/** The action is not allowed in the resource's current state (HTTP 409). */
export class NotAllowedError extends CanaryError {
  constructor(message: string) {
    super('NotAllowed', message);
  }
}

/** The caller is not authenticated (HTTP 401). */
export class AuthError extends CanaryError {
  constructor(message: string) {
    super('Unauthorized', message);
  }
}

/** The caller is authenticated but its role may not do this (HTTP 403). */
export class ForbiddenError extends CanaryError {
  constructor(message: string) {
    super('Forbidden', message);
  }
}
