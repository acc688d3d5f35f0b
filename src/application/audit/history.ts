/**
 * Time travel: an order with its payments and refunds as they stood at a moment: the events
 * recorded (metadata.occurredAt) at or before that moment, folded as the service folds them.
 */
import { orderDecider, type OrderState, type PlacedOrderState } from '../../domain/order/order.decider.js';
import { paymentDecider, type PaymentState } from '../../domain/payment/payment.decider.js';
import { orderStream, paymentStream } from '../../domain/shared/stream-names.js';
import { foldStream } from '../event-sourcing/fold-stream.js';
import type { EventStore, RecordedEvent } from '../ports/event-store.port.js';
import { toOrderView, type OrderView } from '../queries/order-views.js';

export interface OrderAsOf {
  /** The moment asked for (null: now, every event). */
  readonly at: string | null;
  readonly order: OrderView;
  /** The order's merchant (null: none). */
  readonly merchantId: string | null;
  /** The last event folded into the answer, order and payments together. */
  readonly lastEvent: { readonly position: number; readonly streamName: string; readonly revision: number; readonly occurredAt: string } | null;
  /** How many events of the order's streams were folded and how many recorded later were left out. */
  readonly eventsFolded: number;
  readonly eventsAfter: number;
}

/** The order with this key (orderId, or merchantId.orderId: see orderKey) as it stood at `at`; null when it did not exist yet (or at all). */
export async function orderAsOf(store: EventStore, key: string, at: Date | null): Promise<OrderAsOf | null> {
  const cutoff = at?.getTime() ?? Number.POSITIVE_INFINITY;
  const upTo = (events: readonly RecordedEvent[]) => events.filter((event) => Date.parse(event.metadata.occurredAt) <= cutoff);
  const orderEvents = await store.readStream(orderStream(key));
  const known = upTo(orderEvents);
  const order: OrderState = foldStream(orderDecider, known);
  if (order.status === 'none') return null;
  let folded = [...known];
  let total = orderEvents.length;
  const payments: PaymentState[] = [];
  for (const attempt of (order as PlacedOrderState).attempts) {
    const events = await store.readStream(paymentStream(attempt.paymentId));
    const kept = upTo(events);
    total += events.length;
    folded = folded.concat(kept);
    payments.push(foldStream(paymentDecider, kept));
  }
  const last = folded.reduce<RecordedEvent | null>((latest, event) => (latest === null || event.position > latest.position ? event : latest), null);
  return {
    at: at?.toISOString() ?? null,
    order: toOrderView(order as PlacedOrderState, payments),
    merchantId: (order as PlacedOrderState).placed.merchantId,
    lastEvent:
      last === null ? null : { position: last.position, streamName: last.streamName, revision: last.revision, occurredAt: last.metadata.occurredAt },
    eventsFolded: folded.length,
    eventsAfter: total - folded.length,
  };
}
