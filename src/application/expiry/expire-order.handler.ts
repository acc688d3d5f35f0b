import { Inject, Injectable } from '@nestjs/common';
import { orderDecider, type OrderCommand } from '../../domain/order/order.decider.js';
import { orderStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository, type Causation } from '../event-sourcing/aggregate-repository.js';
import { PaymentResultRecorder } from '../payments/payment-result-recorder.js';
import { CLOCK, type Clock } from '../ports/clock.port.js';

/**
 * Expires an order whose deadline has passed. First every open channel trade is closed, so the
 * payer can't pay an expired order; a channel that answers "already paid" settles the order
 * instead. A channel that can't be reached does not hold expiry up: a success it reports later
 * is refunded as paid-after-expiry.
 */
@Injectable()
export class ExpireOrderHandler {
  constructor(
    private readonly repository: AggregateRepository,
    private readonly results: PaymentResultRecorder,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async expire(orderId: string, causation: Causation): Promise<void> {
    const { state } = await this.repository.load(orderDecider, orderStream(orderId));
    if (state.status !== 'pending' || this.clock.now().getTime() < Date.parse(state.placed.expiresAt)) return;
    await this.results.closeOpenTrades(state, causation);
    await this.repository.handle(
      orderDecider,
      orderStream(orderId),
      (now): OrderCommand => ({ type: 'ExpireOrder', data: { orderId }, metadata: { now } }),
      causation,
    );
  }
}
