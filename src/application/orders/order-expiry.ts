import { Inject, Injectable } from '@nestjs/common';
import { expiryDue, orderDecider, type OrderCommand } from '../../domain/order/order.decider.js';
import { orderStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository, type Causation } from '../event-sourcing/aggregate-repository.js';
import { CLOCK, type Clock } from '../ports/clock.port.js';
import { TradeCloser } from '../trades/trade-closer.js';

/**
 * Expires an order whose deadline has passed. First every open channel trade is closed, so the
 * payer can't pay an expired order; a channel that answers "already paid" settles the order
 * instead (or, paid after expiresAt by the provider's clock, is refunded). A channel that can't be
 * reached does not hold expiry up: its trade stays watched, the sweep closes it later, and a
 * success it reports is refunded.
 */
@Injectable()
export class OrderExpiry {
  constructor(
    private readonly repository: AggregateRepository,
    private readonly trades: TradeCloser,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Expires the order with this key (see orderKey); true when this call expired it. */
  async expire(key: string, causation: Causation): Promise<boolean> {
    const { state } = await this.repository.load(orderDecider, orderStream(key));
    if (!expiryDue(state, this.clock.now())) return false;
    await this.trades.closeOpenTrades(key, state, causation);
    const { orderId } = state.placed;
    const { events } = await this.repository.handle(
      orderDecider,
      orderStream(key),
      (now): OrderCommand => ({ type: 'ExpireOrder', data: { orderId }, metadata: { now } }),
      causation,
    );
    return events.length > 0;
  }
}
