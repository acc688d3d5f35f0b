import { Inject, Injectable, Optional } from '@nestjs/common';
import type { LogSource } from './log-follower.js';
import { EVENT_STORE, type RecordedEvent } from '../ports/event-store.port.js';

/** How many recent events the reader keeps by default: a few batches of every follower. */
export const SHARED_LOG_CAPACITY = 2000;

/** A store read in flight, which requests for the same `after` made at the same moment share. */
interface PendingRead {
  readonly limit: number;
  readonly result: Promise<RecordedEvent[]>;
}

/**
 * One read of the global log for all the service's followers. Every follower reads every new
 * event; without this, each append was read from the store and decoded once per follower.
 *
 * It keeps the most recent events it read as one run that is known to be complete: the store
 * answered "every event after `runAfter`", so the run holds each event in (runAfter, last].
 * Positions may have gaps (EventStoreDB), so a request is answered from the run only when its
 * `after` is the run's start or the position of an event in it; anything else goes to the store.
 * A request that reaches the end of the run goes on reading the store from there, so a batch
 * shorter than asked always means the store itself had no more.
 *
 * Requests for the same position made at the same moment (the followers woken by one append)
 * share one store read. "The same moment": until the microtasks queued behind the read have
 * run, and never across an append notice, so a shared read never started before an append that
 * woke the requester.
 *
 * Events are shared between followers, not copied: followers must treat them as read-only
 * (none writes to one; `upcast` returns new objects).
 */
@Injectable()
export class SharedLogReader implements LogSource {
  private runAfter = 0;
  private run: RecordedEvent[] = [];
  private readonly pending = new Map<number, PendingRead>();
  private readonly capacity: number;

  constructor(
    @Inject(EVENT_STORE) private readonly store: LogSource,
    @Optional() options?: { readonly capacity?: number },
  ) {
    this.capacity = options?.capacity ?? SHARED_LOG_CAPACITY;
    // Subscribed before any follower, so a store that calls its listeners in order closes the
    // shared reads before it wakes a follower.
    store.onAppended(() => this.pending.clear());
  }

  onAppended(listener: () => void): () => void {
    return this.store.onAppended(listener);
  }

  async readAll(after: number, limit: number): Promise<RecordedEvent[]> {
    if (limit <= 0) return this.store.readAll(after, limit);
    const batch: RecordedEvent[] = [];
    let from = after;
    while (batch.length < limit) {
      const want = limit - batch.length;
      const start = this.indexAfter(from);
      if (start !== null && start < this.run.length) {
        const cached = this.run.slice(start, start + want);
        for (const event of cached) batch.push(event);
        from = cached[cached.length - 1].position;
        continue;
      }
      const { events, asked } = await this.readStore(from, want);
      for (let i = 0; i < events.length && batch.length < limit; i++) batch.push(events[i]);
      // The store had no more than this when it was read: caught up.
      if (events.length < asked) break;
      from = events[events.length - 1].position;
    }
    return batch;
  }

  /** Index in the run of the first event after `after`; null when the run can't say what follows `after`. */
  private indexAfter(after: number): number | null {
    const run = this.run;
    if (run.length === 0) return null;
    if (after === this.runAfter) return 0;
    if (after === run[run.length - 1].position) return run.length;
    let low = 0;
    let high = run.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const position = run[middle].position;
      if (position === after) return middle + 1;
      if (position < after) low = middle + 1;
      else high = middle - 1;
    }
    return null;
  }

  /** Reads the store after `from`, or joins a read of the same position begun at the same moment. */
  private readStore(from: number, want: number): Promise<{ events: RecordedEvent[]; asked: number }> {
    const shared = this.pending.get(from);
    if (shared !== undefined) return shared.result.then((events) => ({ events, asked: shared.limit }));
    const read: PendingRead = {
      limit: want,
      result: this.store.readAll(from, want).then((events) => {
        this.remember(from, events);
        return events;
      }),
    };
    this.pending.set(from, read);
    queueMicrotask(() => {
      if (this.pending.get(from) === read) this.pending.delete(from);
    });
    return read.result.then((events) => ({ events, asked: want }));
  }

  /** Adds what the store said follows `from` to the run, or starts a new run with it when that one reaches further. */
  private remember(from: number, events: readonly RecordedEvent[]): void {
    if (events.length === 0) return;
    const start = this.indexAfter(from);
    if (start !== null) {
      // (runAfter, end] and (from, events' last] with from inside the first: one complete run.
      const end = this.run[this.run.length - 1].position;
      for (const event of events) if (event.position > end) this.run.push(event);
    } else if (this.run.length === 0 || events[events.length - 1].position > this.run[this.run.length - 1].position) {
      this.runAfter = from;
      this.run = events.slice();
    } else {
      return; // an older stretch of the log (a follower far behind): keep the run the others use
    }
    const excess = this.run.length - this.capacity;
    if (excess > 0) {
      this.runAfter = this.run[excess - 1].position;
      this.run.splice(0, excess);
    }
  }
}
