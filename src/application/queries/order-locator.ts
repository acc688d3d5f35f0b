import { Injectable } from '@nestjs/common';
import { orderDecider, type OrderState } from '../../domain/order/order.decider.js';
import { orderKey, orderStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository } from '../event-sourcing/aggregate-repository.js';

/** An order found by its merchant and id: its key (stream), and its state as just read. */
export interface LocatedOrder {
  readonly key: string;
  readonly state: OrderState;
}

/** How many located orders are remembered (each a few dozen bytes); the oldest are forgotten first. */
const REMEMBERED = 50_000;

/**
 * Where a merchant's order lives. Since ids are scoped by merchant it is `order-{merchantId}.{orderId}`;
 * an order placed with a merchant key before that lives at `order-{orderId}`, and is that
 * merchant's only if its OrderPlaced says so. A stream never moves, so where an order was found is
 * remembered, and later lookups read it once.
 */
@Injectable()
export class OrderLocator {
  private readonly known = new Map<string, string>();

  constructor(private readonly repository: AggregateRepository) {}

  /** The order of `merchantId` (null: the service runs open) with this id, read; state `none` when there is none. */
  async locate(merchantId: string | null, orderId: string): Promise<LocatedOrder> {
    const scoped = orderKey(orderId, merchantId);
    const key = merchantId === null ? scoped : (this.known.get(scoped) ?? scoped);
    const { state } = await this.repository.load(orderDecider, orderStream(key));
    if (state.status !== 'none' || merchantId === null || key !== scoped) return this.remember(merchantId, scoped, { key, state });
    return (await this.legacyOf(merchantId, orderId)) ?? { key: scoped, state };
  }

  /** The key a new order of `merchantId` is placed under: its legacy stream if one exists for it, else the scoped one. */
  async keyForPlacing(merchantId: string | null, orderId: string): Promise<string> {
    const scoped = orderKey(orderId, merchantId);
    if (merchantId === null) return scoped;
    return this.known.get(scoped) ?? (await this.legacyOf(merchantId, orderId))?.key ?? scoped;
  }

  /** The key of a payment's order (its merchant and orderId as the payment recorded them). */
  async keyOf(merchantId: string | null, orderId: string): Promise<string> {
    const scoped = orderKey(orderId, merchantId);
    return merchantId === null ? scoped : (this.known.get(scoped) ?? (await this.locate(merchantId, orderId)).key);
  }

  private async legacyOf(merchantId: string, orderId: string): Promise<LocatedOrder | null> {
    const key = orderKey(orderId, null);
    const { state } = await this.repository.load(orderDecider, orderStream(key));
    if (state.status === 'none' || state.placed.merchantId !== merchantId) return null;
    return this.remember(merchantId, orderKey(orderId, merchantId), { key, state });
  }

  /** Remembers where a merchant's existing order lives. */
  private remember(merchantId: string | null, scoped: string, found: LocatedOrder): LocatedOrder {
    if (merchantId !== null && found.state.status !== 'none' && !this.known.has(scoped)) {
      if (this.known.size >= REMEMBERED) this.known.delete(this.known.keys().next().value as string);
      this.known.set(scoped, found.key);
    }
    return found;
  }
}
