import { Inject, Injectable, Logger } from '@nestjs/common';
import { narrow } from '../event-sourcing/upcaster.js';
import { LogFollower } from '../log/log-follower.js';
import { CLOCK, type Clock } from '../ports/clock.port.js';
import { EVENT_STORE, type CheckpointStore, type EventStore, type RecordedEvent } from '../ports/event-store.port.js';
import { WEBHOOK_STORE, type FeedRow, type NewDelivery, type WebhookStore } from '../ports/webhook-store.port.js';
import { SharedLogReader } from '../log/shared-log-reader.js';
import { EventMerchants } from './event-merchants.js';
import { merchantFactOf } from './merchant-events.js';
import { WebhookDispatcher } from './webhook-dispatcher.js';

/**
 * Follows the log into the merchant feed and the webhook deliveries. Its checkpoint is the
 * webhook store's own position, moved in the same transaction as the rows a batch adds, so a
 * crash either keeps a batch whole or redoes it, and a redone batch adds nothing twice (rows by
 * position, deliveries by endpoint and event id).
 */
@Injectable()
export class WebhookRecorder {
  private readonly logger = new Logger(WebhookRecorder.name);
  private readonly follower: LogFollower;
  private readonly merchants: EventMerchants;

  constructor(
    log: SharedLogReader,
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(WEBHOOK_STORE) private readonly webhooks: WebhookStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly dispatcher: WebhookDispatcher,
  ) {
    this.merchants = new EventMerchants(store);
    const checkpoints: CheckpointStore = {
      load: async () => ({ position: await webhooks.position(), state: null }),
      // The position already moved with the batch's rows (record()).
      save: async () => undefined,
    };
    this.follower = new LogFollower(log, checkpoints, {
      name: 'webhooks',
      handle: (batch) => this.handle(batch),
      onError: (error) => this.logger.error(`webhook recorder: ${(error as Error).message}`),
    });
  }

  get position(): number {
    return this.follower.position;
  }

  start(): Promise<void> {
    return this.follower.start();
  }

  stop(): Promise<void> {
    return this.follower.stop();
  }

  waitFor(position: number, timeoutMs?: number): Promise<void> {
    return this.follower.waitFor(position, timeoutMs);
  }

  private async handle(batch: readonly RecordedEvent[]): Promise<void> {
    const rows: FeedRow[] = [];
    for (const recorded of batch) {
      const event = narrow(recorded);
      // A type this release does not know is nothing a merchant subscribes to.
      if (event === null) continue;
      this.merchants.learn(event);
      const fact = merchantFactOf(event);
      if (fact === null) continue;
      rows.push({
        position: event.position,
        merchantId: await this.merchants.of(event),
        event: { id: event.eventId, type: fact.type, createdAt: event.metadata.occurredAt, data: fact.data },
      });
    }
    const endpoints = rows.length > 0 ? await this.webhooks.allEndpoints() : [];
    const now = this.clock.now().toISOString();
    const deliveries: NewDelivery[] = [];
    for (const row of rows) {
      for (const endpoint of endpoints) {
        // An endpoint gets the events committed after it was created, of its own merchant, of the types it asked for.
        if (endpoint.merchantId !== row.merchantId || row.position <= endpoint.createdAfter || !endpoint.events.includes(row.event.type)) continue;
        deliveries.push({ endpointId: endpoint.id, position: row.position, eventId: row.event.id, type: row.event.type, createdAt: now });
      }
    }
    await this.webhooks.record(rows, deliveries, batch[batch.length - 1].position);
    if (deliveries.length > 0) this.dispatcher.wake();
  }
}
