import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { CLOCK, ID_GENERATOR, type Clock, type IdGenerator } from '../ports/clock.port.js';
import { OpenWorkIndex } from '../open-work/open-work.index.js';
import { RefundRunner } from '../refunds/refund-runner.js';
import { refundsToRetry } from '../refunds/refunds-due.js';
import { OrderExpiry } from '../orders/order-expiry.js';

const TICK_MS = 200;

/**
 * Fires the deadlines the log implies: order expiry at expiresAt (within a tick of it, and right
 * after start-up for deadlines that passed while the service was down) and refund retries at their
 * retryAt. It holds no state of its own: everything comes from the open-work index.
 */
@Injectable()
export class DeadlineScheduler implements BeforeApplicationShutdown {
  private readonly logger = new Logger(DeadlineScheduler.name);
  private timer: NodeJS.Timeout | null = null;
  private readonly running = new Set<Promise<unknown>>();
  private readonly expiring = new Set<string>();

  constructor(
    private readonly openWork: OpenWorkIndex,
    private readonly expiry: OrderExpiry,
    private readonly refunds: RefundRunner,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  start(): void {
    if (this.timer !== null) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled(this.running);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** Expires the order with this key now (also used by the sweep for deadlines a failed attempt left behind); true when it did. */
  expire(orderKey: string): Promise<boolean> {
    if (this.expiring.has(orderKey)) return Promise.resolve(false);
    this.expiring.add(orderKey);
    return this.track(
      this.expiry
        .expire(orderKey, { correlationId: this.ids.uuid(), causationId: null })
        .catch((error: Error) => {
          this.logger.error(`expiring order ${orderKey} failed: ${error.message}`);
          return false;
        })
        .finally(() => this.expiring.delete(orderKey)),
    );
  }

  private tick(): void {
    const now = this.clock.now();
    for (const orderKey of this.openWork.takeDueOrders(now)) void this.expire(orderKey);
    for (const paymentId of refundsToRetry(this.openWork.current.openRefunds, now)) {
      void this.track(
        this.refunds
          .execute(paymentId, { correlationId: this.ids.uuid(), causationId: null })
          .catch((error: Error) => this.logger.error(`retrying the refund of payment ${paymentId} failed: ${error.message}`)),
      );
    }
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
    return work;
  }
}
