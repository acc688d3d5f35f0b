/**
 * What the ledger verifier keeps per order and per payment instead of their events, and how it
 * rebuilds from that the deciders' state to fold the next event on.
 */
import type { OrderState, PlacedOrderState } from '../../domain/order/order.decider.js';
import type { AnomalyKind } from '../../domain/order/order.events.js';
import { initialOrderState } from '../../domain/order/order.decider.js';
import { initialPaymentState, type PaymentState, type Refund } from '../../domain/payment/payment.decider.js';
import type { RefundReason } from '../../domain/payment/payment.events.js';

/** Where an event is: its stream's revision and its global position. */
export interface At {
  readonly revision: number;
  readonly position: number;
}

/**
 * What is kept of an order: the fold's status, payer and anomalies (see `orderState`), and the
 * stream's last revision. Keyed by orderId.
 */
export interface OrderSummary {
  /** The map's own key: one string per order, shared by every payment that names it. */
  readonly orderId: string;
  status: OrderState['status'];
  paidBy: string | null;
  anomalies: PlacedOrderState['anomalies'];
  lastRevision: number;
  /** From OrderPlaced (expiresAt as an ISO string, shared with the event; amount; interned currency), for the decider's success rule. */
  expiresAt: string;
  amount: number;
  currency: string;
}

/** What is kept of a payment: the fold's status and refund, its capture and its refund request. */
export interface PaymentSummary {
  status: PaymentState['status'];
  refundState: Refund | null;
  lastRevision: number;
  /** The map's own key (an order's paidBy points at it rather than keeping a copy). */
  readonly paymentId: string;
  /** The order it names (created empty, status none, when the payment comes first). */
  order: OrderSummary | null;
  /** The first PaymentSucceeded (successRevision -1: none yet); successAt in ms. */
  successRevision: number;
  successPosition: number;
  capturedAmount: number;
  capturedCurrency: string;
  successAt: number;
  /** The provider's time of the capture (ISO 8601, as recorded). */
  paidAt: string;
  /** The first RefundRequested, as checked. */
  refund: (At & { readonly reason: RefundReason; readonly checkedReason: boolean }) | null;
  refundedAmount: number;
  refundSucceeded: number;
}

export interface AnomalySeen {
  readonly eventId: string;
  readonly kind: AnomalyKind;
  /** What the order's state says the kind must be (null: the order was pending, so no anomaly). */
  readonly truth: AnomalyKind | null;
}

export const NO_ATTEMPTS: readonly never[] = Object.freeze([]);
export const NO_ANOMALIES: PlacedOrderState['anomalies'] = Object.freeze([]);
/**
 * evolveOrder and evolvePayment never read the placed order's or the initiated payment's details
 * (they only carry them along), and no check does: the fold is given these stand-ins, so a
 * million aggregates fit in memory while status, payer, anomalies and refund stay exact.
 */
export const UNREAD_PLACED = Object.freeze({}) as PlacedOrderState['placed'];
export const UNREAD_INITIATED = Object.freeze({}) as Extract<PaymentState, { initiated: unknown }>['initiated'];

/** The fold's state of an order, rebuilt from what is kept of it. */
export function orderState(order: OrderSummary): OrderState {
  if (order.status === 'none') return initialOrderState;
  return { status: order.status, placed: UNREAD_PLACED, attempts: NO_ATTEMPTS, paidBy: order.paidBy, anomalies: order.anomalies, endedAt: null };
}

/** The fold's state of a payment, rebuilt from what is kept of it. */
export function paymentState(payment: PaymentSummary): PaymentState {
  if (payment.status === 'none') return initialPaymentState;
  return {
    status: payment.status,
    initiated: UNREAD_INITIATED,
    payUrl: null,
    channelTradeNo: null,
    paidAt: null,
    captured: null,
    refund: payment.refundState,
    watchEnded: false,
  };
}
