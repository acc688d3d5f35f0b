import type { CheckpointStore, EventStore, RecordedEvent } from '../ports/event-store.port.js';

/** What a follower needs of the store: the global log, and the wake-ups after appends. */
export type LogSource = Pick<EventStore, 'readAll' | 'onAppended'>;

export interface LogFollowerOptions {
  /** Checkpoint name: one per follower, stable across restarts. */
  readonly name: string;
  /** Handles one batch, in log order. May see a batch again after a crash (at-least-once). */
  readonly handle: (events: readonly RecordedEvent[]) => Promise<void>;
  readonly batchSize?: number;
  /** Fallback for appends made by other processes, which do not fire `onAppended` here. */
  readonly pollIntervalMs?: number;
  /** Told of every failure before the retry; defaults to console.error so failures are never silent. */
  readonly onError?: (error: unknown) => void;
  /** Receives the state stored with the checkpoint (null when none) before following starts. */
  readonly restore?: (state: unknown) => void;
  /** State to store with each checkpoint, for followers that keep a view of the log in memory. */
  readonly snapshot?: () => unknown;
  /**
   * Store the checkpoint at most this often (default 0: after every batch). Only for handlers that
   * give the same result when events since the last checkpoint are handled again.
   */
  readonly checkpointIntervalMs?: number;
  /**
   * Read the log at most this often once caught up (default 0: as soon as woken), so a busy log
   * is handled in fewer, larger batches. For followers nobody waits on, like reporting.
   */
  readonly minReadIntervalMs?: number;
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

interface Waiter {
  readonly position: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Follows the global log from a stored checkpoint, at least once and in order: the
 * checkpoint moves only after `handle` has resolved for a batch, and a failing batch is
 * retried (with backoff) until it passes, so no event is ever skipped. One batch at a time.
 */
export class LogFollower {
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly onError: (error: unknown) => void;
  private processed = 0;
  private saved = 0;
  private lastSaveAt = 0;
  /** When the last drain began reading (for minReadIntervalMs). */
  private lastDrainAt = 0;
  private running = false;
  /** Bumped by every start() and stop(), so a start() overtaken by stop() while loading gives up. */
  private generation = 0;
  /** The drain in progress, if any: there is never more than one. */
  private draining: Promise<void> | null = null;
  /** Set when woken during a drain, so the drain reads once more instead of missing the append. */
  private wokenDuringDrain = false;
  private unsubscribe: (() => void) | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private cancelBackoff: (() => void) | null = null;
  private readonly waiters = new Set<Waiter>();

  constructor(
    private readonly store: LogSource,
    private readonly checkpoints: CheckpointStore,
    private readonly options: LogFollowerOptions,
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.onError = options.onError ?? ((error) => console.error(`log follower ${options.name}:`, error));
  }

  /** Position of the last event handled and checkpointed. */
  get position(): number {
    return this.processed;
  }

  /** Loads the checkpoint and catches up with the log; then keeps following until stop(). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const generation = ++this.generation;
    try {
      const checkpoint = await this.checkpoints.load(this.options.name);
      this.processed = checkpoint?.position ?? 0;
      this.saved = this.processed;
      this.options.restore?.(checkpoint?.state ?? null);
    } catch (error) {
      if (generation === this.generation) this.running = false;
      throw error;
    }
    if (generation !== this.generation) return; // stopped while loading
    this.unsubscribe = this.store.onAppended(() => this.wake());
    this.pollTimer = setInterval(() => this.wake(), this.pollIntervalMs).unref();
    this.wake();
    await this.draining;
  }

  /** Lets the batch in flight finish (and be checkpointed), then stops following. */
  async stop(): Promise<void> {
    this.running = false;
    this.generation++;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    this.cancelBackoff?.();
    await this.draining;
    if (this.saved < this.processed) {
      await this.checkpoints.save(this.options.name, this.processed, this.options.snapshot?.()).catch((error) => this.report(error));
    }
    for (const waiter of this.waiters) this.settle(waiter, new Error(`log follower ${this.options.name} stopped`));
  }

  /** Resolves once every event up to `position` has been handled; rejects on timeout or stop(). */
  waitFor(position: number, timeoutMs = 10_000): Promise<void> {
    if (this.processed >= position) return Promise.resolve();
    return new Promise((resolve, reject) => {
      // Not unref'd: someone awaits this, and it is cleared on success and by stop().
      const timer = setTimeout(() => {
        this.settle(waiter, new Error(`log follower ${this.options.name}: position ${position} not reached in ${timeoutMs} ms (at ${this.processed})`));
      }, timeoutMs);
      const waiter: Waiter = { position, resolve, reject, timer };
      this.waiters.add(waiter);
    });
  }

  private wake(): void {
    if (!this.running) return;
    if (this.draining) {
      this.wokenDuringDrain = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = null;
      // A wake-up between the drain's last read and now would otherwise wait for the next poll.
      if (this.wokenDuringDrain) this.wake();
    });
  }

  /** Reads and handles batches until the log is exhausted. */
  private async drain(): Promise<void> {
    do {
      if (!(await this.paceReads())) return;
      this.wokenDuringDrain = false;
      for (;;) {
        const batch = await this.retrying(() => this.store.readAll(this.processed, this.batchSize));
        if (!batch?.length || !this.running) break;
        if (!(await this.process(batch))) break;
        if (batch.length < this.batchSize) break; // caught up; a later append wakes us again
      }
    } while (this.wokenDuringDrain && this.running);
  }

  /** Waits out minReadIntervalMs since the last drain began reading; false if stopped meanwhile. */
  private async paceReads(): Promise<boolean> {
    const interval = this.options.minReadIntervalMs ?? 0;
    if (interval <= 0) return true;
    const wait = this.lastDrainAt + interval - Date.now();
    if (wait > 0) await this.backoff(wait);
    this.lastDrainAt = Date.now();
    return this.running;
  }

  /** Handles then checkpoints one batch; a failed save does not re-run a handled batch. False if stopped first. */
  private async process(batch: readonly RecordedEvent[]): Promise<boolean> {
    const last = batch[batch.length - 1].position;
    const handled = await this.retrying(async () => {
      await this.options.handle(batch);
      return true;
    });
    if (!handled) return false;
    const interval = this.options.checkpointIntervalMs ?? 0;
    if (interval === 0 || Date.now() - this.lastSaveAt >= interval) {
      const saved = await this.retrying(async () => {
        await this.checkpoints.save(this.options.name, last, this.options.snapshot?.());
        return true;
      });
      if (!saved) return false;
      this.saved = last;
      this.lastSaveAt = Date.now();
    }
    this.processed = last;
    for (const waiter of this.waiters) if (waiter.position <= last) this.settle(waiter);
    return true;
  }

  /** Runs `step` until it succeeds, backing off between attempts; undefined if stopped meanwhile. */
  private async retrying<T>(step: () => Promise<T>): Promise<T | undefined> {
    let delay = FIRST_RETRY_MS;
    for (;;) {
      try {
        return await step();
      } catch (error) {
        this.report(error);
      }
      if (!this.running) return undefined;
      await this.backoff(delay);
      if (!this.running) return undefined;
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }

  private backoff(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms).unref();
      this.cancelBackoff = done;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => {
      this.cancelBackoff = null;
    });
  }

  private report(error: unknown): void {
    try {
      this.onError(error);
    } catch {
      // A broken error reporter must not stop the follower.
    }
  }

  private settle(waiter: Waiter, error?: Error): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
    if (error) waiter.reject(error);
    else waiter.resolve();
  }
}
