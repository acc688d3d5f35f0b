/** The one place stream names are built and parsed. */
export const orderStream = (orderId: string): string => `order-${orderId}`;
export const paymentStream = (paymentId: string): string => `payment-${paymentId}`;

/** The refund of payment P is always `refund-P`: derived from its cause, so it is requested once. */
export const refundIdFor = (paymentId: string): string => `refund-${paymentId}`;

/** The payment a refund id names (null: not a refund id Payguard makes). */
export const paymentOfRefund = (refundId: string): string | null => (refundId.startsWith('refund-') ? refundId.slice('refund-'.length) : null);
