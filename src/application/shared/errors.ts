/** Errors of the use cases themselves (the domain's own are DomainError subclasses). */

export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/** A request that is well-formed JSON but asks for something impossible (maps to `400 validation`). */
export class InvalidRequest extends Error {
  readonly code = 'validation';
  constructor(readonly errors: readonly FieldError[]) {
    super(errors.map((error) => `${error.field}: ${error.message}`).join('; '));
    this.name = 'InvalidRequest';
  }
}

/** The caller may read but not change (auditor keys). */
export class Forbidden extends Error {
  readonly code = 'forbidden';
  constructor(message: string) {
    super(message);
    this.name = 'Forbidden';
  }
}

/** Something the caller named does not exist (or is not theirs to see). */
export class NotFound extends Error {
  readonly code = 'not-found';
  constructor(message: string) {
    super(message);
    this.name = 'NotFound';
  }
}
