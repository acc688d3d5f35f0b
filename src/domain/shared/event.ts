/** A fact as a decider produces it: the application adds ids and metadata when it records it. */
export interface DomainEvent<TType extends string = string, TData extends Record<string, unknown> = Record<string, unknown>> {
  readonly type: TType;
  readonly data: TData;
}

/** A request to change one aggregate; `now` is the caller's clock, so decisions replay identically. */
export interface Command<TType extends string = string, TData extends object = object> {
  readonly type: TType;
  readonly data: TData;
  readonly metadata: { readonly now: Date };
}

/** Thrown by evolve when a stream holds an event its aggregate does not know: never skip money. */
export class UnknownEventError extends Error {
  constructor(aggregate: string, type: string) {
    super(`${aggregate} cannot apply unknown event type ${type}`);
    this.name = 'UnknownEventError';
  }
}

export function assertNever(value: never): never {
  throw new Error(`unexpected ${JSON.stringify(value)}`);
}
