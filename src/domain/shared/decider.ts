import type { Command, DomainEvent } from './event.js';

/**
 * The shape every aggregate follows (initial state, evolve, decide): the repository, the audit
 * history, the ledger verifier and the decider tests all fold through this one definition.
 */
export interface Decider<S, C extends Command, E extends DomainEvent> {
  readonly initialState: S;
  evolve(state: S, event: E): S;
  decide(command: C, state: S): E[];
  /** The event types this aggregate records: how a recorded event of the log is known to be one of its own. */
  readonly eventTypes: ReadonlySet<E['type']>;
}

/** A recorded event is the aggregate's own when its type is one the aggregate records. */
export function isEventOf<E extends DomainEvent>(
  decider: { readonly eventTypes: ReadonlySet<E['type']>; evolve(state: never, event: E): unknown },
  event: DomainEvent,
): event is E {
  return (decider.eventTypes as ReadonlySet<string>).has(event.type);
}

/** The state after `events`, in order, from `from` (the initial state unless given). */
export function fold<S, E extends DomainEvent>(
  decider: Pick<Decider<S, never, E>, 'initialState' | 'evolve'>,
  events: Iterable<E>,
  from: S = decider.initialState,
): S {
  let state = from;
  for (const event of events) state = decider.evolve(state, event);
  return state;
}
