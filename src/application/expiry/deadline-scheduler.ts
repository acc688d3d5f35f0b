import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { CLOCK, ID_GENERATOR, type Clock, type IdGenerator } from '../ports/clock.port.js';
import { OpenWorkIndex } from '../open-work/open-work.index.js';
import { RefundExecutor } from '../refunds/refund-executor.js';
import { ExpireOrderHandler } from './expire-order.handler.js';

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
    private readonly expiry: ExpireOrderHandler,
    private readonly refunds: RefundExecutor,
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
    for (const [paymentId, refund] of Object.entries(this.openWork.current.openRefunds)) {
      if (refund.failed || refund.retryAt === null || Date.parse(refund.retryAt) > now.getTime()) continue;
      void this.track(
        this.refunds
          .execute(paymentId, { correlationId: this.ids.uuid(), causationId: null })
          .catch((error: Error) => this.logger.error(`retrying refund ${refund.refundId} failed: ${error.message}`)),
      );
    }
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
    return work;
  }
}
