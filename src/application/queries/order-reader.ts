import { Injectable } from '@nestjs/common';
import { orderDecider, type PlacedOrderState } from '../../domain/order/order.decider.js';
import { OrderNotFound } from '../../domain/order/order.errors.js';
import { paymentDecider, type InitiatedPaymentState, type PaymentState } from '../../domain/payment/payment.decider.js';
import { PaymentNotFound } from '../../domain/payment/payment.errors.js';
import { orderStream, paymentStream } from '../../domain/shared/stream-names.js';
import { AggregateRepository } from '../event-sourcing/aggregate-repository.js';
import { OrderLocator } from './order-locator.js';
import { canSee, merchantOf, type Viewer } from '../shared/viewer.js';
import { toOrderView, type OrderView } from './order-views.js';

/** An order the viewer may see, with its key (where its stream is). */
export interface VisibleOrder {
  readonly key: string;
  readonly order: PlacedOrderState;
}

/** Reads orders and payments straight from their streams: read-your-writes by construction. */
@Injectable()
export class OrderReader {
  constructor(
    private readonly repository: AggregateRepository,
    private readonly locator: OrderLocator,
  ) {}

  /**
   * The viewer's order with this id: a merchant's own (ids are scoped by merchant). Anyone else
   * names an order placed with a merchant key by its key, `merchantId.orderId`; a plain id is an
   * order placed while the service ran open (or before ids were scoped).
   */
  async located(orderId: string, viewer: Viewer): Promise<VisibleOrder> {
    // The HTTP edge has checked each part of a key (checkOrderRef); a merchant's own ids hold no dot.
    const byKey = viewer.kind !== 'merchant' && orderId.includes('.');
    const { key, state } = byKey
      ? { key: orderId, state: (await this.repository.load(orderDecider, orderStream(orderId))).state }
      : await this.locator.locate(merchantOf(viewer), orderId);
    // Another merchant's order answers exactly like a missing one.
    if (state.status === 'none' || !canSee(viewer, state.placed.merchantId)) throw new OrderNotFound(orderId);
    return { key, order: state };
  }

  async order(orderId: string, viewer: Viewer): Promise<PlacedOrderState> {
    return (await this.located(orderId, viewer)).order;
  }

  /** The order under a key (as open work and payments know it), for the service's own work. */
  async byKey(key: string): Promise<PlacedOrderState> {
    const { state } = await this.repository.load(orderDecider, orderStream(key));
    if (state.status === 'none') throw new OrderNotFound(key);
    return state;
  }

  /** The order a payment belongs to. */
  async orderOf(payment: InitiatedPaymentState): Promise<PlacedOrderState> {
    const { orderId, merchantId } = payment.initiated;
    const { state } = await this.locator.locate(merchantId, orderId);
    if (state.status === 'none') throw new OrderNotFound(orderId);
    return state;
  }

  async payment(paymentId: string): Promise<PaymentState> {
    return (await this.repository.load(paymentDecider, paymentStream(paymentId))).state;
  }

  /** A payment the viewer may see (through its order: a merchant sees its own orders' payments). */
  async visiblePayment(paymentId: string, viewer: Viewer): Promise<InitiatedPaymentState> {
    const payment = await this.payment(paymentId);
    if (payment.status === 'none') throw new PaymentNotFound(paymentId);
    if (viewer.kind === 'merchant') {
      const { orderId, merchantId } = payment.initiated;
      const { state } = await this.locator.locate(merchantId, orderId);
      if (state.status === 'none' || state.placed.merchantId !== viewer.merchantId) throw new PaymentNotFound(paymentId);
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
