import { DomainError } from '../shared/domain-error.js';

export class PaymentNotFound extends DomainError {
  readonly code = 'not-found';
  constructor(paymentId: string) {
    super(`payment ${paymentId} does not exist`);
  }
}

/** A channel reported an amount or currency other than the payment's: nothing is recorded as paid. */
export class AmountMismatch extends DomainError {
  readonly code = 'amount-mismatch';
  constructor(paymentId: string, expected: { amount: number; currency: string }, got: { amount: number; currency: string }) {
    super(
      `payment ${paymentId} is ${expected.amount} ${expected.currency}; the channel reported ${got.amount} ${got.currency}`,
      // Only the money: callers may hand in a whole payment, whose other fields are not the sender's business.
      { expected: { amount: expected.amount, currency: expected.currency }, reported: { amount: got.amount, currency: got.currency } },
    );
  }
}

export class PaymentNotRefundable extends DomainError {
  readonly code = 'payment-not-refundable';
  constructor(paymentId: string, status: string) {
    super(`payment ${paymentId} is ${status}: only a succeeded payment can be refunded`);
  }
}

export class RefundNotRequested extends DomainError {
  readonly code = 'refund-not-requested';
  constructor(paymentId: string, refundId: string) {
    super(`payment ${paymentId} has no refund ${refundId}`);
  }
}

/** Only a failed refund that no operator has settled yet can be resolved. */
export class RefundNotResolvable extends DomainError {
  readonly code = 'refund-not-resolvable';
  constructor(refundId: string, why: string) {
    super(`refund ${refundId} cannot be resolved: ${why}`);
  }
}
