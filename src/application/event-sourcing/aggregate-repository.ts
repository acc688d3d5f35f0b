import { Inject, Injectable } from '@nestjs/common';
import type { Decider } from '../../domain/shared/decider.js';
import type { Command, DomainEvent } from '../../domain/shared/event.js';
import { CLOCK, ID_GENERATOR, type Clock, type IdGenerator } from '../ports/clock.port.js';
import { ConcurrencyError, EVENT_STORE, type EventStore, type NewEvent, type RecordedEvent } from '../ports/event-store.port.js';
import { foldStream } from './fold-stream.js';

/** Who caused a change: the HTTP request, or the event a reaction answers. */
export interface Causation {
  readonly correlationId: string;
  /** The eventId of the event that caused this command, or null for a caller's request. */
  readonly causationId: string | null;
}

export interface Loaded<S> {
  readonly state: S;
  /** Revision of the last event, -1 for a stream that does not exist. */
  readonly revision: number;
}

export interface Handled<S, E> {
  readonly state: S;
  /** What this call appended: [] when the decider decided nothing, or another call already appended the same events. */
  readonly events: readonly E[];
}

export const SCHEMA_VERSION = 2;
const MAX_CONFLICT_RETRIES = 20;

/**
 * The thin shell around a decider: load the stream, fold it with evolve, decide, append with the
 * revision loaded. A concurrent writer makes the append fail, and the command is decided again on
 * the newer state, so two racing successes can't both settle an order.
 */
@Injectable()
export class AggregateRepository {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  async load<S, C extends Command, E extends DomainEvent>(decider: Decider<S, C, E>, streamName: string): Promise<Loaded<S>> {
    const recorded = await this.store.readStream(streamName);
    return { state: foldStream(decider, recorded), revision: recorded.length - 1 };
  }

  /**
   * Decides `makeCommand(now, state)` against the stream and appends what it decides.
   * `likelyNew`: the stream most likely does not exist yet (an order placed with a fresh id), so
   * the first decision is made on the initial state and appended expecting `no-stream`, without
   * reading; if the stream exists after all, that append writes nothing (ConcurrencyError) and the
   * command is decided again on the stream as read, like any other conflict.
   */
  async handle<S, C extends Command, E extends DomainEvent>(
    decider: Decider<S, C, E>,
    streamName: string,
    makeCommand: (now: Date, state: NoInfer<S>) => NoInfer<C>,
    causation: Causation,
    options: { readonly likelyNew?: boolean } = {},
  ): Promise<Handled<S, E>> {
    for (let attempt = 0; ; attempt++) {
      const { state, revision } =
        attempt === 0 && options.likelyNew === true ? { state: decider.initialState, revision: -1 } : await this.load(decider, streamName);
      const command = makeCommand(this.clock.now(), state);
      const events = decider.decide(command, state);
      if (events.length === 0) return { state, events };
      try {
        const appended = await this.store.append(streamName, this.toNewEvents(streamName, events, causation), revision < 0 ? 'no-stream' : revision);
        // A reaction delivered twice at once: the other delivery wrote these very events (same derived
        // ids) after our read. Nothing was written now, and the stream's state already holds them.
        if (appended.duplicate) return { state: (await this.load(decider, streamName)).state, events: [] };
        return { state: events.reduce(decider.evolve, state), events };
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= MAX_CONFLICT_RETRIES) throw error;
      }
    }
  }

  private toNewEvents(streamName: string, events: readonly DomainEvent[], causation: Causation): NewEvent[] {
    const occurredAt = this.clock.now().toISOString();
    return events.map((event, index) => ({
      // A reaction to an event gets ids derived from that event, so a redelivered event, or a
      // retry after an append whose answer was lost, is appended only once.
      eventId:
        causation.causationId === null
          ? this.ids.uuid()
          : this.ids.derived(`${causation.causationId}|${streamName}|${index}|${event.type}`),
      type: event.type,
      data: event.data,
      metadata: { occurredAt, correlationId: causation.correlationId, causationId: causation.causationId, schemaVersion: SCHEMA_VERSION },
    }));
  }
}
