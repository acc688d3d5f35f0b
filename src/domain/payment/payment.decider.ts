import { assertNever, UnknownEventError, type Command } from '../shared/event.js';
import type { PaymentEvent, PaymentInitiated, PaymentStatus, RefundReason, RefundStatus, ResultSource } from './payment.events.js';
import { AmountMismatch, PaymentNotFound, PaymentNotRefundable, RefundNotRequested } from './payment.errors.js';

export interface Refund {
  readonly refundId: string;
  readonly amount: number;
  readonly currency: string;
  readonly reason: RefundReason;
  readonly status: RefundStatus;
  readonly attempts: number;
  readonly requestedAt: string;
  readonly completedAt: string | null;
  readonly retryAt: string | null;
}

export type PaymentState =
  | { readonly status: 'none' }
  | {
      readonly status: PaymentStatus;
      readonly initiated: PaymentInitiated['data'];
      readonly channelTradeNo: string | null;
      readonly paidAt: string | null;
      readonly refund: Refund | null;
    };

export type InitiatedPaymentState = Exclude<PaymentState, { status: 'none' }>;

export const initialPaymentState: PaymentState = { status: 'none' };

export type InitiatePayment = Command<'InitiatePayment', Omit<PaymentInitiated['data'], 'createdAt'>>;
export type RecordPaymentSuccess = Command<
  'RecordPaymentSuccess',
  {
    paymentId: string;
    amount: number;
    currency: string;
    channelTradeNo: string;
    paidAt: string;
    source: ResultSource;
    notificationId: string | null;
    raw: Record<string, unknown> | null;
  }
>;
export type RecordPaymentFailure = Command<'RecordPaymentFailure', { paymentId: string; reason: string; source: ResultSource }>;
export type RecordPaymentClosed = Command<'RecordPaymentClosed', { paymentId: string }>;
export type RequestRefund = Command<'RequestRefund', { paymentId: string; refundId: string; reason: RefundReason }>;
export type RecordRefundSuccess = Command<'RecordRefundSuccess', { paymentId: string; refundId: string; channelRefundNo: string }>;
export type RecordRefundFailure = Command<
  'RecordRefundFailure',
  { paymentId: string; refundId: string; error: string; retryAt: string }
>;

export type PaymentCommand =
  | InitiatePayment
  | RecordPaymentSuccess
  | RecordPaymentFailure
  | RecordPaymentClosed
  | RequestRefund
  | RecordRefundSuccess
  | RecordRefundFailure;

export function evolvePayment(state: PaymentState, event: PaymentEvent): PaymentState {
  if (event.type === 'PaymentInitiated') {
    return { status: 'pending', initiated: event.data, channelTradeNo: null, paidAt: null, refund: null };
  }
  if (state.status === 'none') throw new Error(`${event.type} before PaymentInitiated`);
  switch (event.type) {
    case 'PaymentSucceeded':
      return { ...state, status: 'succeeded', channelTradeNo: event.data.channelTradeNo, paidAt: event.data.paidAt };
    case 'PaymentFailed':
      return { ...state, status: 'failed' };
    case 'PaymentClosed':
      return { ...state, status: 'closed' };
    case 'RefundRequested': {
      const { refundId, amount, currency, reason, requestedAt } = event.data;
      const refund: Refund = { refundId, amount, currency, reason, status: 'requested', attempts: 0, requestedAt, completedAt: null, retryAt: null };
      return { ...state, refund };
    }
    case 'RefundSucceeded':
      return { ...state, refund: { ...requireRefund(state), status: 'succeeded', completedAt: event.data.completedAt, retryAt: null } };
    case 'RefundFailed':
      return { ...state, refund: { ...requireRefund(state), status: 'failed', attempts: event.data.attempt, retryAt: event.data.retryAt } };
    default:
      throw new UnknownEventError('Payment', (event as { type: string }).type);
  }
}

function requireRefund(state: InitiatedPaymentState): Refund {
  if (state.refund === null) throw new Error(`refund outcome before RefundRequested on payment ${state.initiated.paymentId}`);
  return state.refund;
}

export function decidePayment(command: PaymentCommand, state: PaymentState): PaymentEvent[] {
  const now = command.metadata.now.toISOString();
  if (command.type === 'InitiatePayment') {
    return state.status === 'none' ? [{ type: 'PaymentInitiated', data: { ...command.data, createdAt: now } }] : [];
  }
  if (state.status === 'none') throw new PaymentNotFound(command.data.paymentId);
  const { paymentId, orderId, channel } = state.initiated;
  switch (command.type) {
    case 'RecordPaymentSuccess': {
      const { amount, currency, channelTradeNo, paidAt, source, notificationId, raw } = command.data;
      if (amount !== state.initiated.amount || currency !== state.initiated.currency) {
        throw new AmountMismatch(paymentId, state.initiated, { amount, currency });
      }
      // Money taken is a fact even on a closed or failed attempt: record it, the order decides whether to keep it.
      if (state.status === 'succeeded') return [];
      const data = { paymentId, orderId, channel, amount, currency, channelTradeNo, paidAt, source, notificationId, raw };
      return [{ type: 'PaymentSucceeded', data }];
    }
    case 'RecordPaymentFailure':
      if (state.status !== 'pending') return [];
      return [{ type: 'PaymentFailed', data: { paymentId, orderId, reason: command.data.reason, source: command.data.source, failedAt: now } }];
    case 'RecordPaymentClosed':
      if (state.status !== 'pending') return [];
      return [{ type: 'PaymentClosed', data: { paymentId, orderId, closedAt: now } }];
    case 'RequestRefund': {
      if (state.status !== 'succeeded') throw new PaymentNotRefundable(paymentId, state.status);
      if (state.refund !== null) return [];
      const { refundId, reason } = command.data;
      const { amount, currency } = state.initiated;
      return [{ type: 'RefundRequested', data: { refundId, paymentId, orderId, amount, currency, reason, requestedAt: now } }];
    }
    case 'RecordRefundSuccess': {
      const refund = refundNamed(state, command.data.refundId);
      if (refund.status === 'succeeded') return [];
      const { amount, currency, refundId } = refund;
      const data = { refundId, paymentId, orderId, amount, currency, channelRefundNo: command.data.channelRefundNo, completedAt: now };
      return [{ type: 'RefundSucceeded', data }];
    }
    case 'RecordRefundFailure': {
      const refund = refundNamed(state, command.data.refundId);
      if (refund.status === 'succeeded') return [];
      const { error, retryAt } = command.data;
      const data = { refundId: refund.refundId, paymentId, orderId, error, attempt: refund.attempts + 1, failedAt: now, retryAt };
      return [{ type: 'RefundFailed', data }];
    }
    default:
      return assertNever(command);
  }
}

function refundNamed(state: InitiatedPaymentState, refundId: string): Refund {
  if (state.refund === null || state.refund.refundId !== refundId) {
    throw new RefundNotRequested(state.initiated.paymentId, refundId);
  }
  return state.refund;
}

export const paymentDecider = { initialState: initialPaymentState, evolve: evolvePayment, decide: decidePayment };
