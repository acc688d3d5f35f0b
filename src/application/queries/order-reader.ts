import { Injectable } from '@nestjs/common';
import { orderDecider, type PlacedOrderState } from '../../domain/order/order.decider.js';
import { OrderNotFound } from '../../domain/order/order.errors.js';
import { paymentDecider, type InitiatedPaymentState, type PaymentState } from '../../domain/payment/payment.decider.js';
import { PaymentNotFound } from '../../domain/payment/payment.errors.js';
import { orderStream, paymentStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository } from '../event-sourcing/aggregate-repository.js';
import { canSee, type Viewer } from '../viewer.js';
import { toOrderView, type OrderView } from './views.js';

/** Reads orders and payments straight from their streams: read-your-writes by construction. */
@Injectable()
export class OrderReader {
  constructor(private readonly repository: AggregateRepository) {}

  async order(orderId: string, viewer: Viewer): Promise<PlacedOrderState> {
    const { state } = await this.repository.load(orderDecider, orderStream(orderId));
    // Another merchant's order answers exactly like a missing one.
    if (state.status === 'none' || !canSee(viewer, state.placed.merchantId)) throw new OrderNotFound(orderId);
    return state;
  }

  async payment(paymentId: string): Promise<PaymentState> {
    return (await this.repository.load(paymentDecider, paymentStream(paymentId))).state;
  }

  /** A payment the viewer may see (through its order). */
  async visiblePayment(paymentId: string, viewer: Viewer): Promise<InitiatedPaymentState> {
    const payment = await this.payment(paymentId);
    if (payment.status === 'none') throw new PaymentNotFound(paymentId);
    if (viewer.kind === 'merchant') {
      try {
        await this.order(payment.initiated.orderId, viewer);
      } catch {
        throw new PaymentNotFound(paymentId);
      }
    }
    return payment;
  }

  async paymentsOf(order: PlacedOrderState): Promise<PaymentState[]> {
    return Promise.all(order.attempts.map((attempt) => this.payment(attempt.paymentId)));
  }

  async orderView(orderId: string, viewer: Viewer): Promise<OrderView> {
    const order = await this.order(orderId, viewer);
    return toOrderView(order, await this.paymentsOf(order));
  }
}
