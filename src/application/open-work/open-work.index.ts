import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { orderKeyOf } from '../../domain/shared/stream-names.js';
import { LogFollower } from '../log/log-follower.js';
import {
  CHECKPOINT_STORE,
  type CheckpointStore,
  type KeyedCheckpoint,
  type KeyedCheckpointStore,
  type StateChange,
} from '../ports/event-store.port.js';
import { SharedLogReader } from '../log/shared-log-reader.js';
import { DeadlineQueue } from './deadline-queue.js';
import { narrow } from '../event-sourcing/upcaster.js';
import { applyToOpenWork, emptyOpenWork, type OpenWork, type OpenWorkSection } from './open-work.js';
import { entriesOf, entryOf, openWorkFromRows, openWorkFromWholeState, rowKey, type OpenWorkEntry } from './open-work-rows.js';

/**
 * Checkpoint name of the index. It changes when the view's sections do (v2: every trade is
 * watched, not only pending payments): a release finds no checkpoint of its own shape and builds
 * the view from the whole log once, instead of trusting a view that lacks what it now needs.
 */
export const OPEN_WORK_CHECKPOINT = 'open-work-v2';

/**
 * The open-work view, kept current by following the log. It is stored as rows of a keyed
 * checkpoint (one per entry, see open-work-rows.ts): each save writes only the entries set or
 * deleted since the last one, with the position, so its cost follows the rate of change, not the
 * number of open orders.
 */
@Injectable()
export class OpenWorkIndex implements BeforeApplicationShutdown {
  private work: OpenWork = emptyOpenWork();
  private readonly deadlines = new DeadlineQueue();
  /** Entries set or deleted since the last save the store took, by row key. */
  private changed = new Map<string, OpenWorkEntry>();
  private readonly follower: LogFollower;
  private readonly markChanged = (section: OpenWorkSection, id: string): void => {
    this.changed.set(rowKey(section, id), { section, id });
  };

  constructor(
    log: SharedLogReader,
    @Inject(CHECKPOINT_STORE) private readonly checkpoints: KeyedCheckpointStore,
  ) {
    // The follower's checkpoints as this index keeps them: it hands over only the position, and
    // the index loads and saves its rows with it (the follower saves only between batches, so
    // the changes saved are exactly those of the events up to that position).
    const rows: CheckpointStore = {
      load: async (name) => {
        const checkpoint = await this.checkpoints.loadRows(name);
        this.restore(checkpoint);
        return checkpoint === null ? null : { position: checkpoint.position, state: null };
      },
      save: (name, position) => this.saveChanges(name, position),
    };
    this.follower = new LogFollower(log, rows, {
      name: OPEN_WORK_CHECKPOINT,
      handle: async (events) => {
        for (const recorded of events) {
          const event = narrow(recorded);
          // A type this release does not know opens or closes nothing.
          if (event === null) continue;
          applyToOpenWork(this.work, event, this.markChanged);
          if (event.type === 'OrderPlaced') {
            this.deadlines.push(orderKeyOf(event.streamName) ?? event.data.orderId, Date.parse(event.data.expiresAt));
          }
        }
      },
      // Replaying from an older checkpoint gives the same view, so it is stored at most once a second.
      checkpointIntervalMs: 1000,
    });
  }

  get current(): OpenWork {
    return this.work;
  }

  /** Keys of pending orders whose deadline is at or before `now`; each is returned once (the sweep catches failures). */
  takeDueOrders(now: Date): string[] {
    return this.deadlines
      .popDue(now.getTime())
      .filter(({ id, at }) => this.work.pendingOrders[id] !== undefined && Date.parse(this.work.pendingOrders[id]) === at)
      .map(({ id }) => id);
  }

  get position(): number {
    return this.follower.position;
  }

  start(): Promise<void> {
    return this.follower.start();
  }

  waitFor(position: number, timeoutMs?: number): Promise<void> {
    return this.follower.waitFor(position, timeoutMs);
  }

  stop(): Promise<void> {
    return this.follower.stop();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /**
   * The view as stored, and its deadlines. A checkpoint with a whole state was written by a
   * release before rows (or by one after a downgrade): that state is the view at its position,
   * so it is taken as it is, and every entry of it, and every stale row beside it, is marked
   * changed, so the first save turns it into rows and clears the state, in one transaction.
   * Taking it rather than rebuilding from position 0 spares a replay of the whole log (all of
   * history, not only what is open) before deadlines can fire; a crash before that first save
   * finds the old checkpoint as it was.
   */
  private restore(checkpoint: KeyedCheckpoint | null): void {
    this.changed = new Map();
    if (checkpoint === null) this.work = emptyOpenWork();
    else if (checkpoint.state === null) this.work = openWorkFromRows(checkpoint.rows);
    else {
      this.work = openWorkFromWholeState(checkpoint.state);
      for (const { key } of checkpoint.rows) this.changed.set(key, entryOf(key));
      for (const [key, entry] of entriesOf(this.work)) this.changed.set(key, entry);
    }
    this.deadlines.clear();
    for (const [orderId, expiresAt] of Object.entries(this.work.pendingOrders)) this.deadlines.push(orderId, Date.parse(expiresAt));
  }

  /** Saves the changed entries with the position; if the store refuses, they stay marked for the next try. */
  private async saveChanges(name: string, position: number): Promise<void> {
    const saving = this.changed;
    this.changed = new Map();
    const changes: StateChange[] = [];
    for (const [key, { section, id }] of saving) {
      const entries = this.work[section] as Record<string, unknown>;
      changes.push({ key, value: Object.hasOwn(entries, id) ? entries[id] : null });
    }
    try {
      await this.checkpoints.saveRows(name, position, changes);
    } catch (error) {
      for (const [key, entry] of saving) if (!this.changed.has(key)) this.changed.set(key, entry);
      throw error;
    }
  }
}
