/**
 * Every fact Payguard records, as one discriminated union: a reader that switches on `type` gets
 * that event's data typed, so renaming a field breaks the build of every reader that uses it.
 */
import type { OrderEvent } from './order/order.events.js';
import { ORDER_EVENT_TYPES } from './order/order.events.js';
import type { PaymentEvent } from './payment/payment.events.js';
import { PAYMENT_EVENT_TYPES } from './payment/payment.events.js';

export type PayguardEvent = OrderEvent | PaymentEvent;
export type PayguardEventType = PayguardEvent['type'];

export function isPayguardEventType(type: string): type is PayguardEventType {
  return (ORDER_EVENT_TYPES as ReadonlySet<string>).has(type) || (PAYMENT_EVENT_TYPES as ReadonlySet<string>).has(type);
}
