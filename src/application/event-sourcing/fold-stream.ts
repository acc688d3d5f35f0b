import { fold, isEventOf, type Decider } from '../../domain/shared/decider.js';
import { UnknownEventError, type Command, type DomainEvent } from '../../domain/shared/event.js';
import type { RecordedEvent } from '../ports/event-store.port.js';
import { narrow } from './upcaster.js';

/**
 * A stream's state: its events narrowed to the decider's own and folded. Any other type is an
 * error, never skipped: a fact left out of the fold could be money left out. Free of Nest, so the
 * audit CLI folds exactly as the service does.
 */
export function foldStream<S, C extends Command, E extends DomainEvent>(decider: Decider<S, C, E>, recorded: readonly RecordedEvent[]): S {
  return fold(
    decider,
    recorded.map((event) => {
      const known = narrow(event);
      if (known === null || !isEventOf(decider, known)) throw new UnknownEventError(event.streamName, event.type);
      return known;
    }),
  );
}
