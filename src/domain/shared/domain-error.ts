/**
 * A request that breaks an invariant. `code` is stable and becomes the problem type slug
 * at the HTTP edge; `details` adds fields to the problem document.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}
