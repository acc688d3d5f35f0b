import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { orderDecider, type OrderCommand, type PlacedOrderState } from '../../domain/order/order.decider.js';
import { ORDER_VALIDITY_SECONDS } from '../../domain/order/order.events.js';
import { orderStream } from '../../domain/shared/stream-names.js';
import { OrderLocator } from '../queries/order-locator.js';
import { AggregateRepository } from '../event-sourcing/aggregate-repository.js';
import { InvalidRequest } from '../shared/errors.js';
import { CLOCK, ID_GENERATOR, type Clock, type IdGenerator } from '../ports/clock.port.js';
import { OrderReader } from '../queries/order-reader.js';
import { toOrderView, type OrderView } from '../queries/order-views.js';
import { merchantOf, type Viewer } from '../shared/viewer.js';
import { timeOrderedId } from '../shared/time-ordered-id.js';

export interface PlaceOrderInput {
  orderId?: string;
  amount: number;
  currency: string;
  expiresInSeconds?: number;
  expiresAt?: string;
  description?: string;
}

export class PlaceOrderCommand extends Command<{ created: boolean; order: OrderView }> {
  constructor(
    readonly input: PlaceOrderInput,
    readonly viewer: Viewer,
    readonly correlationId: string,
  ) {
    super();
  }
}

/** Places an order; the same orderId with the same body again is answered with the same order. */
@CommandHandler(PlaceOrderCommand)
export class PlaceOrderHandler implements ICommandHandler<PlaceOrderCommand> {
  constructor(
    private readonly repository: AggregateRepository,
    private readonly reader: OrderReader,
    private readonly locator: OrderLocator,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  async execute({ input, viewer, correlationId }: PlaceOrderCommand): Promise<{ created: boolean; order: OrderView }> {
    const orderId = input.orderId ?? timeOrderedId('ord_', this.clock.now(), this.ids.token(20));
    const requestedExpiry = this.requestedExpiry(input);
    const key = await this.locator.keyForPlacing(merchantOf(viewer), orderId);
    const { state, events } = await this.repository.handle(
      orderDecider,
      orderStream(key),
      (now): OrderCommand => ({
        type: 'PlaceOrder',
        data: {
          orderId,
          merchantId: merchantOf(viewer),
          amount: input.amount,
          currency: input.currency,
          expiresAt: this.expiresAt(requestedExpiry, now),
          requestedExpiry,
          description: input.description ?? null,
        },
        metadata: { now },
      }),
      { correlationId, causationId: null },
      // Most orders are placed once; a repeat (same id again) costs one refused append.
      { likelyNew: true },
    );
    // A new order has no payments yet: its view comes from the state just decided, without a re-read.
    if (events.length > 0) return { created: true, order: toOrderView(state as PlacedOrderState, []) };
    return { created: false, order: await this.reader.orderView(orderId, viewer) };
  }

  private requestedExpiry(input: PlaceOrderInput): { expiresInSeconds: number } | { expiresAt: string } {
    const { minimum, maximum } = ORDER_VALIDITY_SECONDS;
    if (input.expiresInSeconds !== undefined && input.expiresAt !== undefined) {
      throw new InvalidRequest([{ field: 'expiresAt', message: 'give either expiresInSeconds or expiresAt, not both' }]);
    }
    if (input.expiresAt !== undefined) {
      const remaining = (Date.parse(input.expiresAt) - this.clock.now().getTime()) / 1000;
      if (!(remaining >= minimum && remaining <= maximum)) {
        throw new InvalidRequest([{ field: 'expiresAt', message: `must be between ${minimum} s and ${maximum} s from now` }]);
      }
      return { expiresAt: new Date(input.expiresAt).toISOString() };
    }
    return { expiresInSeconds: input.expiresInSeconds ?? ORDER_VALIDITY_SECONDS.default };
  }

  private expiresAt(requested: { expiresInSeconds: number } | { expiresAt: string }, now: Date): string {
    if ('expiresAt' in requested) return requested.expiresAt;
    return new Date(now.getTime() + requested.expiresInSeconds * 1000).toISOString();
  }
}
