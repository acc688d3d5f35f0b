/**
 * The one place stream names are built and parsed.
 *
 * An order's stream is named by its key: `order-{orderId}` for an order placed without a
 * merchant (the service runs open), `order-{merchantId}.{orderId}` for one placed with a merchant
 * key, so the same orderId under two merchants is two orders. Ids are 1-64 characters of
 * `[A-Za-z0-9_-]`, so the dot is never part of either. Orders placed with a merchant key before
 * ids were scoped live at `order-{orderId}` (their OrderPlaced names the merchant): readers fall
 * back to that name (see OrderLocator).
 */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** An order's key: what follows `order-` in its stream name. */
export const orderKey = (orderId: string, merchantId: string | null): string => (merchantId === null ? orderId : `${merchantId}.${orderId}`);

/** The stream of the order with this key (see orderKey). */
export const orderStream = (key: string): string => `order-${key}`;

/** The key of an order stream, or null when the name is not one. */
export function orderKeyOf(streamName: string): string | null {
  if (!streamName.startsWith('order-')) return null;
  const key = streamName.slice('order-'.length);
  const dot = key.indexOf('.');
  const ok = dot < 0 ? ID_PATTERN.test(key) : ID_PATTERN.test(key.slice(0, dot)) && ID_PATTERN.test(key.slice(dot + 1));
  return ok ? key : null;
}

/** The merchant an order key names (null: an order at `order-{orderId}`, placed open or before ids were scoped). */
export function merchantOfKey(key: string): string | null {
  const dot = key.indexOf('.');
  return dot < 0 ? null : key.slice(0, dot);
}

export const paymentStream = (paymentId: string): string => `payment-${paymentId}`;

/** The payment id of a payment stream, or null when the name is not one. */
export const paymentIdOf = (streamName: string): string | null => (streamName.startsWith('payment-') ? streamName.slice('payment-'.length) : null);

/** The refund of payment P is always `refund-P`: derived from its cause, so it is requested once. */
export const refundIdFor = (paymentId: string): string => `refund-${paymentId}`;

/** The payment a refund id names (null: not a refund id Payguard makes). */
export const paymentOfRefund = (refundId: string): string | null => (refundId.startsWith('refund-') ? refundId.slice('refund-'.length) : null);
