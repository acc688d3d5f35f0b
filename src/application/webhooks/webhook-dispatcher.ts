import { Inject, Injectable, Logger } from '@nestjs/common';
import { CLOCK, type Clock } from '../ports/clock.port.js';
import { WEBHOOK_SENDER, WEBHOOK_STORE, deliveryKey, type DeliveryStatus, type DueDelivery, type WebhookSender, type WebhookStore } from '../ports/webhook-store.port.js';
import { acknowledges, afterAttempt } from './retry-schedule.js';

/** Deliveries in flight at once: a slow receiver holds one slot, not the others' events. */
const CONCURRENCY = 16;
/** How often due retries are looked for (new deliveries wake the dispatcher at once). */
const POLL_MS = 500;

/** Told of every try's outcome (metrics). */
export type DeliveryListener = (status: DeliveryStatus | 'retry') => void;

/**
 * Sends the deliveries that are due, as the leader: each try is recorded after the receiver
 * answered, so a crash mid-try sends that event again after the restart (at least once, with
 * the same event id), and never loses it.
 */
@Injectable()
export class WebhookDispatcher {
  private readonly logger = new Logger(WebhookDispatcher.name);
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private pumping: Promise<void> | null = null;
  private wokenWhilePumping = false;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly listeners: DeliveryListener[] = [];

  constructor(
    @Inject(WEBHOOK_STORE) private readonly store: WebhookStore,
    @Inject(WEBHOOK_SENDER) private readonly sender: WebhookSender,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onOutcome(listener: DeliveryListener): void {
    this.listeners.push(listener);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = setInterval(() => this.wake(), POLL_MS).unref();
    this.wake();
  }

  /** Stops taking deliveries and lets the tries in flight finish (each is bounded by the sender's timeout). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.pumping;
    await Promise.all(this.inFlight.values());
  }

  /** Looks for due deliveries now (after new ones were recorded, or a resend). */
  wake(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.wokenWhilePumping = true;
      return;
    }
    this.pumping = this.pump()
      .catch((error: unknown) => this.logger.error(`webhook dispatch: ${(error as Error).message}`))
      .finally(() => {
        this.pumping = null;
        if (this.wokenWhilePumping) {
          this.wokenWhilePumping = false;
          this.wake();
        }
      });
  }

  private async pump(): Promise<void> {
    while (this.running) {
      const free = CONCURRENCY - this.inFlight.size;
      if (free <= 0) return;
      const due = await this.store.due(this.clock.now().toISOString(), free, new Set(this.inFlight.keys()));
      for (const item of due) this.begin(item);
      if (due.length < free) return;
    }
  }

  private begin(item: DueDelivery): void {
    const key = deliveryKey(item.delivery.endpointId, item.delivery.eventId);
    const attempt = this.attempt(item)
      .catch((error: unknown) => this.logger.error(`webhook delivery ${item.delivery.eventId} to ${item.endpoint.id}: ${(error as Error).message}`))
      .finally(() => {
        this.inFlight.delete(key);
        this.wake();
      });
    this.inFlight.set(key, attempt);
  }

  private async attempt({ delivery, endpoint, event }: DueDelivery): Promise<void> {
    const at = this.clock.now();
    const result = await this.sender.send(endpoint, JSON.stringify(event));
    const answered = 'statusCode' in result;
    const attempt = { at: at.toISOString(), statusCode: answered ? result.statusCode : null, error: answered ? null : result.error };
    const outcome = afterAttempt(delivery, attempt, answered && acknowledges(result.statusCode), at);
    await this.store.recordAttempt(delivery.endpointId, delivery.eventId, outcome);
    const reported = outcome.status === 'pending' ? 'retry' : outcome.status;
    for (const listener of this.listeners) listener(reported);
  }
}
