import {
  type AllStreamResolvedEvent,
  BACKWARDS,
  END,
  type EventStoreDBClient,
  type Position,
  type ReadPosition,
  streamNameFilter,
} from '@eventstore/db-client';
import type { RecordedEvent } from '../../application/ports/event-store.port.js';
import { collect, fromStoredEvent, type NamespaceFilter, toPosition, toReadPosition } from './eventstoredb-mapping.js';

/** `$all` records a `headPosition` scan reads at a time, newest first. */
const HEAD_PAGE = 256;
/**
 * How long a catch-up read may hear nothing at all (no event, checkpoint or caught-up) before it
 * fails, by default: the server sends a filtered subscription checkpoints while it searches, so
 * silence this long means a server that never says it has caught up (see `readAll`), not a long
 * search. Failing beats waiting for ever: the follower retries, and says so.
 */
export const READ_SILENCE_MS = 60_000;

/**
 * The store's view of `$all` (its `readAll` and `headPosition`), through the client's PUBLIC API
 * only: @eventstore/db-client 6.x has no filtered read (its readAll sends no filter), so
 *
 * - `readAll` is a filtered catch-up subscription (`subscribeToAll` from `after` with the
 *   store's stream-name regex): the server does the filtering, as the live subscription's does,
 *   and only this store's events cross the wire. It takes at most `limit` events and ends when
 *   the server has nothing older left to send (see `readAll`).
 * - `headPosition` reads `$all` backwards, unfiltered, in pages, and keeps the first event of
 *   this store it meets. What it scanned is remembered (this store's last position, and the
 *   newest `$all` record then), so the next call reads only what was committed since.
 */
export class EventStoreDbGlobalLog {
  /** The last `headPosition` scan: this store's newest position then, and the newest `$all` record then. */
  private known: { readonly own: number; readonly scanned: number } | null = null;

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly filter: NamespaceFilter,
    /** Port stream name of a stored one (the namespace taken off). */
    private readonly unstored: (stored: string) => string,
    private readonly silenceMs = READ_SILENCE_MS,
  ) {}

  /**
   * Events of this store with position > `after`, at most `limit`, in `$all` order, from a
   * filtered catch-up subscription from `after` (the server reads the event there and sends from
   * the next one; should it send that event too, it is dropped here). It ends, unsubscribing, at
   * whichever comes first:
   * - `limit` events taken;
   * - the server's caught-up message (EventStoreDB 23.10 and later send one when the
   *   subscription has sent every event it had and turns live; client 6.2 emits it as `caughtUp`);
   * - an event or a checkpoint at or past `head`, the newest `$all` record read just before
   *   subscribing (servers before 23.10 send no caught-up message, but send a filtered
   *   subscription a checkpoint as it turns live);
   * and fails after `silenceMs` (READ_SILENCE_MS) without a message. What it gives is always every
   * event of this store from `after` up to its last one, in order (a subscription delivers `$all`
   * in order, without gaps), so stopping early is never a loss: the caller reads on from there.
   */
  async readAll(after: number, limit: number): Promise<RecordedEvent[]> {
    if (!Number.isSafeInteger(after) || after < 0) throw new RangeError(`readAll: position must be an integer >= 0, not ${after}`);
    if (limit <= 0) return [];
    const head = await this.allHead();
    if (head <= after) return []; // nothing at all committed since `after`
    return this.catchUp(after, limit, head);
  }

  /** Position of this store's last event; 0 when none. */
  async headPosition(): Promise<number> {
    const known = this.known;
    let from: ReadPosition = END;
    let newest = 0; // the newest `$all` record: where the next scan may stop
    let oldest = Number.POSITIVE_INFINITY; // the oldest record read so far
    for (;;) {
      const page = await collect(this.client.readAll({ direction: BACKWARDS, fromPosition: from, maxCount: HEAD_PAGE }));
      let position: Position | undefined;
      for (const { event } of page) {
        if (!event) continue;
        const at = toPosition(event.position);
        if (at >= oldest) continue; // the record a backwards read started from, should the server repeat it
        oldest = at;
        position = event.position;
        newest ||= at;
        if (known && at <= known.scanned) return this.remember(known.own, newest);
        if (this.filter.includes(event.streamId, event.type)) return this.remember(at, newest);
      }
      if (page.length < HEAD_PAGE || !position) return this.remember(0, newest);
      from = position; // a backwards `$all` read excludes the record it starts from
    }
  }

  private remember(own: number, scanned: number): number {
    if (scanned > (this.known?.scanned ?? 0)) this.known = { own, scanned };
    return own;
  }

  /** Commit position of the newest `$all` record (any stream); 0 when `$all` is empty. */
  private async allHead(): Promise<number> {
    const [last] = await collect(this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 }));
    return last?.event ? toPosition(last.event.position) : 0;
  }

  private catchUp(after: number, limit: number, head: number): Promise<RecordedEvent[]> {
    return new Promise<RecordedEvent[]>((resolve, reject) => {
      const out: RecordedEvent[] = [];
      let last = after;
      /** The server has sent all it had up to `head`; what it sent may still sit in the stream's buffer. */
      let complete = false;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const heard = (): void => {
        clearTimeout(timer);
        timer = setTimeout(
          () => finish(new Error(`EventStoreDB sent nothing for ${this.silenceMs} ms while catching up $all from ${after}`)),
          this.silenceMs,
        );
        timer.unref();
      };
      const finish = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void subscription.unsubscribe().catch(() => undefined);
        if (error === undefined) resolve(out);
        else reject(error instanceof Error ? error : new Error(String(error)));
      };
      // Events pushed before the caught-up message may still be buffered (the stream emits
      // `caughtUp` as it parses the message): done once the buffer is drained too.
      const caughtUp = (): void => {
        complete = true;
        if (subscription.readableLength === 0) finish();
      };
      const headAt = BigInt(head);
      const subscription = this.client.subscribeToAll({
        fromPosition: toReadPosition(after),
        filter: streamNameFilter({
          regex: this.filter.regex,
          checkpointInterval: 1,
          checkpointReached: (_, position) => {
            heard();
            if (position.commit >= headAt) caughtUp();
          },
        }),
      });
      heard();
      subscription.on('data', (resolved: AllStreamResolvedEvent) => {
        if (settled) return;
        heard();
        try {
          const event = resolved.event;
          const position = event ? toPosition(event.position) : after;
          // position <= after: the event at `after` itself, should the server include it.
          if (event && position > after) {
            if (position <= last) throw new Error(`$all positions not strictly increasing at ${position} after ${last} (stream ${event.streamId})`);
            last = position;
            if (this.filter.includes(event.streamId, event.type)) out.push(fromStoredEvent(event, this.unstored(event.streamId)));
            if (out.length === limit || position >= head) return finish();
          }
          if (complete && subscription.readableLength === 0) finish();
        } catch (error) {
          finish(error);
        }
      });
      subscription.on('caughtUp', caughtUp);
      subscription.on('error', (error) => finish(error));
      subscription.on('end', () => finish(new Error('the $all catch-up subscription ended before it caught up')));
      subscription.on('close', () => finish(new Error('the $all catch-up subscription closed before it caught up')));
    });
  }
}
