import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { orderDecider, type OrderCommand } from '../../domain/order/order.decider.js';
import { orderStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository } from '../event-sourcing/aggregate-repository.js';
import { OrderReader } from '../queries/order-reader.js';
import type { OrderView } from '../queries/order-views.js';
import type { Viewer } from '../shared/viewer.js';
import { TradeCloser } from '../trades/trade-closer.js';

export class CloseOrderCommand extends Command<OrderView> {
  constructor(
    readonly orderId: string,
    readonly reason: string | null,
    readonly viewer: Viewer,
    readonly correlationId: string,
  ) {
    super();
  }
}

/**
 * Closes a pending order. Its open channel trades are closed as well, so the payer can't pay a
 * closed order; a trade the channel reports already paid settles the order instead, and the close
 * is then refused as order-not-closable. Once the order is closed its trades are closed once more:
 * a payment started at the same moment may have opened a trade after the first pass (it checks
 * the order again after opening one, so between the two checks no trade is missed).
 */
@CommandHandler(CloseOrderCommand)
export class CloseOrderHandler implements ICommandHandler<CloseOrderCommand> {
  constructor(
    private readonly repository: AggregateRepository,
    private readonly reader: OrderReader,
    private readonly trades: TradeCloser,
  ) {}

  async execute({ orderId, reason, viewer, correlationId }: CloseOrderCommand): Promise<OrderView> {
    const { key, order } = await this.reader.located(orderId, viewer);
    const causation = { correlationId, causationId: null };
    if (order.status === 'pending') await this.trades.closeOpenTrades(key, order, causation);
    const { state, events } = await this.repository.handle(
      orderDecider,
      orderStream(key),
      (now): OrderCommand => ({ type: 'CloseOrder', data: { orderId, reason }, metadata: { now } }),
      causation,
    );
    if (events.length > 0 && state.status !== 'none') await this.trades.closeOpenTrades(key, state, causation);
    return this.reader.orderView(orderId, viewer);
  }
}
