import { DomainError } from '../shared/domain-error.js';
import type { OrderStatus } from './order.events.js';

export class OrderNotFound extends DomainError {
  readonly code = 'not-found';
  constructor(orderId: string) {
    super(`order ${orderId} does not exist`);
  }
}

/** The same orderId was placed with a different body. */
export class OrderConflict extends DomainError {
  readonly code = 'order-conflict';
  constructor(orderId: string) {
    super(`order ${orderId} already exists with different details`);
  }
}

export class OrderNotPayable extends DomainError {
  readonly code = 'order-not-payable';
  constructor(orderId: string, orderStatus: OrderStatus) {
    super(`order ${orderId} is ${orderStatus} and can't be paid`, { orderStatus });
  }
}

export class ValidityTooShort extends DomainError {
  readonly code = 'validity-too-short';
  constructor(orderId: string, remainingSeconds: number, minimumSeconds: number) {
    super(
      `order ${orderId} has ${remainingSeconds} s of validity left; a payment needs at least ${minimumSeconds} s`,
      { remainingSeconds, minimumSeconds },
    );
  }
}

export class OrderNotClosable extends DomainError {
  readonly code = 'order-not-closable';
  constructor(orderId: string) {
    super(`order ${orderId} is paid and can't be closed`, { orderStatus: 'paid' });
  }
}
