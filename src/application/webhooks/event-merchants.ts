import { merchantOfKey, orderKeyOf, orderStream, paymentStream } from '../../domain/shared/stream-names.js';
import { narrow, type StoredEvent } from '../event-sourcing/upcaster.js';
import type { EventStore } from '../ports/event-store.port.js';

/** How many orders and payments are remembered (a few dozen bytes each); the oldest are forgotten first. */
const REMEMBERED = 50_000;

/** A payment as its first event names it: its order, and the order's merchant (null: an order at `order-{orderId}`). */
interface PaymentOwner {
  readonly orderId: string;
  readonly merchantId: string | null;
}

/**
 * Whose event is it. An order stream `order-{merchantId}.{orderId}` says so in its name; one at
 * `order-{orderId}` belongs to whoever its OrderPlaced names (null when the service ran open, or a
 * merchant for an order placed before ids were scoped). A payment's events name their merchant
 * when it is scoped, else their order does; refund failures and resolutions name neither, so the
 * payment's first event is asked. What the log already showed is remembered, so a follower that
 * saw the OrderPlaced and PaymentInitiated reads nothing more.
 */
export class EventMerchants {
  /** Plain order keys (no merchant in the stream name) to the merchant their OrderPlaced names. */
  private readonly orders = new Map<string, string | null>();
  private readonly payments = new Map<string, PaymentOwner>();

  constructor(private readonly store: Pick<EventStore, 'readStream'>) {}

  /** Remembers what an event says about whose orders and payments are whose. */
  learn(event: StoredEvent): void {
    if (event.type === 'OrderPlaced') {
      const key = orderKeyOf(event.streamName);
      if (key !== null && merchantOfKey(key) === null) remember(this.orders, key, event.data.merchantId);
    } else if (event.type === 'PaymentInitiated' || event.type === 'PaymentSucceeded' || event.type === 'RefundSucceeded') {
      const { paymentId, orderId, merchantId } = event.data;
      remember(this.payments, paymentId, { orderId, merchantId });
    }
  }

  /** The merchant of an event: null for an order placed while the service ran open. */
  async of(event: StoredEvent): Promise<string | null> {
    const key = orderKeyOf(event.streamName);
    if (key !== null) return merchantOfKey(key) ?? this.orderMerchant(key);
    if ('merchantId' in event.data && event.data.merchantId !== null) return event.data.merchantId;
    if (!('paymentId' in event.data)) return null;
    const owner = await this.paymentOwner(event.data.paymentId);
    if (owner === null) return null;
    return owner.merchantId ?? this.orderMerchant(owner.orderId);
  }

  private async orderMerchant(orderId: string): Promise<string | null> {
    const known = this.orders.get(orderId);
    if (known !== undefined) return known;
    const [recorded] = await this.store.readStream(orderStream(orderId));
    const first = recorded === undefined ? null : narrow(recorded);
    const merchantId = first?.type === 'OrderPlaced' ? first.data.merchantId : null;
    if (recorded !== undefined) remember(this.orders, orderId, merchantId);
    return merchantId;
  }

  private async paymentOwner(paymentId: string): Promise<PaymentOwner | null> {
    const known = this.payments.get(paymentId);
    if (known !== undefined) return known;
    const [recorded] = await this.store.readStream(paymentStream(paymentId));
    const first = recorded === undefined ? null : narrow(recorded);
    if (first?.type !== 'PaymentInitiated') return null;
    const owner = { orderId: first.data.orderId, merchantId: first.data.merchantId };
    remember(this.payments, paymentId, owner);
    return owner;
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.has(key)) return;
  if (map.size >= REMEMBERED) map.delete(map.keys().next().value as string);
  map.set(key, value);
}
