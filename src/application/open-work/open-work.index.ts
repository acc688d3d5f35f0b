import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { LogFollower } from '../log-follower.js';
import { CHECKPOINT_STORE, type CheckpointStore } from '../ports/event-store.port.js';
import { SharedLogReader } from '../shared-log-reader.js';
import { DeadlineQueue } from '../expiry/deadline-queue.js';
import { applyToOpenWork, emptyOpenWork, type OpenWork } from './open-work.js';

/** The open-work view, kept current by following the log; its snapshot is stored with its checkpoint. */
@Injectable()
export class OpenWorkIndex implements BeforeApplicationShutdown {
  private work: OpenWork = emptyOpenWork();
  private readonly deadlines = new DeadlineQueue();
  private readonly follower: LogFollower;

  constructor(
    log: SharedLogReader,
    @Inject(CHECKPOINT_STORE) checkpoints: CheckpointStore,
  ) {
    this.follower = new LogFollower(log, checkpoints, {
      name: 'open-work',
      handle: async (events) => {
        for (const event of events) {
          applyToOpenWork(this.work, event);
          if (event.type === 'OrderPlaced') this.deadlines.push(String(event.data.orderId), Date.parse(String(event.data.expiresAt)));
        }
      },
      restore: (state) => {
        this.work = state === null || state === undefined ? emptyOpenWork() : (state as OpenWork);
        this.deadlines.clear();
        for (const [orderId, expiresAt] of Object.entries(this.work.pendingOrders)) this.deadlines.push(orderId, Date.parse(expiresAt));
      },
      snapshot: () => this.work,
      // Replaying from an older snapshot gives the same view, so it is stored at most once a second.
      checkpointIntervalMs: 1000,
    });
  }

  get current(): OpenWork {
    return this.work;
  }

  /** Pending orders whose deadline is at or before `now`; each is returned once (the sweep catches failures). */
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
}
