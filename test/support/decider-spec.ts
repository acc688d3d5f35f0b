import { fold, type Decider } from '../../src/domain/shared/decider.js';
import type { Command, DomainEvent } from '../../src/domain/shared/event.js';

/** given(events) -> when(command) -> then(events | error), for any decider. */
export function deciderSpec<S, C extends Command, E extends DomainEvent>(decider: Decider<S, C, E>) {
  return {
    given(events: E[]) {
      const state = fold(decider, events);
      return {
        when(command: C) {
          const run = () => decider.decide(command, state);
          return {
            then(expected: E[]) {
              expect(run()).toEqual(expected);
            },
            thenThrows(errorType: new (...args: never[]) => Error, code?: string) {
              let thrown: unknown;
              try {
                run();
              } catch (error) {
                thrown = error;
              }
              expect(thrown).toBeInstanceOf(errorType);
              if (code !== undefined) expect((thrown as { code: string }).code).toBe(code);
            },
          };
        },
      };
    },
  };
}
