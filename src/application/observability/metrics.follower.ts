import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { narrow, type StoredEvent } from '../event-sourcing/upcaster.js';
import { LogFollower } from '../log/log-follower.js';
import { CHECKPOINT_STORE, EVENT_STORE, type CheckpointStore, type EventStore, type RecordedEvent } from '../ports/event-store.port.js';
import { OPERATIONS_METRICS, type OperationsMetrics } from '../ports/metrics.port.js';
import { SharedLogReader } from '../log/shared-log-reader.js';

/** Checkpoint name of the metrics follower. */
export const METRICS_CHECKPOINT = 'metrics';

/**
 * Counts the business facts (anomalies, refunds by outcome, orders, expiry lag) from the log, on
 * the leader only, from a stored checkpoint: a fact counts once whichever instance or request
 * recorded it, and a restart or failover resumes where counting stopped instead of counting
 * history again. A crash re-counts at most the last second's events (the checkpoint is stored at
 * most once a second, and on every clean stop). Without a checkpoint (a first start, or metrics
 * just turned on) it counts from the head of the log, not from the beginning.
 */
@Injectable()
export class MetricsFollower implements BeforeApplicationShutdown {
  private readonly logger = new Logger(MetricsFollower.name);
  private readonly follower: LogFollower;

  constructor(
    log: SharedLogReader,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CHECKPOINT_STORE) checkpoints: CheckpointStore,
    @Inject(OPERATIONS_METRICS) private readonly metrics: OperationsMetrics,
  ) {
    const fromHead: CheckpointStore = {
      load: async (name) => (await checkpoints.load(name)) ?? { position: await store.headPosition(), state: null },
      save: (name, position) => checkpoints.save(name, position),
    };
    this.follower = new LogFollower(log, fromHead, {
      name: METRICS_CHECKPOINT,
      handle: (events) => this.handle(events),
      checkpointIntervalMs: 1000,
      // Nobody waits on metrics: fewer, larger batches when the log is busy.
      minReadIntervalMs: 200,
      onError: (error) => this.logger.warn(`counting failed, retrying: ${(error as Error).message ?? String(error)}`),
    });
  }

  get enabled(): boolean {
    return this.metrics.enabled;
  }

  get position(): number {
    return this.follower.position;
  }

  /** Resolves once every event up to `position` is counted (tests). */
  waitFor(position: number, timeoutMs?: number): Promise<void> {
    return this.follower.waitFor(position, timeoutMs);
  }

  async start(): Promise<void> {
    if (this.metrics.enabled) await this.follower.start();
  }

  stop(): Promise<void> {
    return this.follower.stop();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /**
   * Everything a batch needs from the store is read before anything is counted: a read that fails
   * makes the follower retry the batch, which must not count its first events twice.
   */
  private async handle(events: readonly RecordedEvent[]): Promise<void> {
    const counts: Array<() => void> = [];
    for (const recorded of events) {
      const event = narrow(recorded);
      if (event === null) continue;
      switch (event.type) {
        case 'AnomalyDetected': {
          const { kind } = event.data;
          counts.push(() => this.metrics.anomalyDetected(kind));
          break;
        }
        case 'RefundRequested':
          counts.push(() => this.metrics.refundRecorded('requested'));
          break;
        case 'RefundFailed': {
          const { final } = event.data;
          counts.push(() => this.metrics.refundRecorded(final ? 'failed' : 'attempt_failed'));
          break;
        }
        case 'RefundSucceeded':
          counts.push(() => this.metrics.refundRecorded('succeeded'));
          break;
        case 'RefundResolved':
          counts.push(() => this.metrics.refundRecorded('resolved'));
          break;
        case 'OrderPlaced':
          counts.push(() => this.metrics.orderRecorded('placed'));
          break;
        case 'OrderPaid':
          counts.push(() => this.metrics.orderRecorded('paid'));
          break;
        case 'OrderClosed':
          counts.push(() => this.metrics.orderRecorded('closed'));
          break;
        case 'OrderExpired': {
          const lag = await this.expiryLagSeconds(event);
          counts.push(() => {
            this.metrics.orderRecorded('expired');
            if (lag !== null) this.metrics.expiryRecorded(lag);
          });
          break;
        }
      }
    }
    for (const count of counts) count();
  }

  /** From the order's expiresAt (its OrderPlaced) to when the expiry was recorded. */
  private async expiryLagSeconds(expired: StoredEvent): Promise<number | null> {
    const [first] = await this.store.readStream(expired.streamName);
    const placed = first === undefined ? null : narrow(first);
    if (placed?.type !== 'OrderPlaced') return null;
    const expiresAt = Date.parse(placed.data.expiresAt);
    const recordedAt = Date.parse(expired.metadata.occurredAt);
    if (Number.isNaN(expiresAt) || Number.isNaN(recordedAt)) return null;
    return Math.max(0, (recordedAt - expiresAt) / 1000);
  }
}
