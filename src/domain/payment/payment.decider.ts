import { assertNever, UnknownEventError, type Command } from '../shared/event.js';
import type { Decider } from '../shared/decider.js';
import type { Money } from '../shared/money.js';
import {
  PAYMENT_EVENT_TYPES,
  type FinalTradeState,
  type PaymentEvent,
  type PaymentInitiated,
  type PaymentStatus,
  type RefundReason,
  type RefundResolution,
  type RefundStatus,
  type ResultSource,
  shortRefundError,
} from './payment.events.js';
import { AmountMismatch, PaymentNotFound, PaymentNotRefundable, RefundNotRequested, RefundNotResolvable } from './payment.errors.js';

export interface Refund {
  readonly refundId: string;
  /** What was asked: the captured amount. */
  readonly amount: number;
  readonly currency: string;
  readonly reason: RefundReason;
  readonly status: RefundStatus;
  readonly attempts: number;
  readonly requestedAt: string;
  readonly completedAt: string | null;
  /** When the next attempt is due (null: none is, either because none failed yet or because it is final). */
  readonly retryAt: string | null;
  readonly lastError: string | null;
  /** What the provider says it gave back. */
  readonly refundedAmount: number;
  readonly resolution: RefundResolution | null;
}

export type PaymentState =
  | { readonly status: 'none' }
  | {
      readonly status: PaymentStatus;
      readonly initiated: PaymentInitiated['data'];
      /** Null until the channel trade exists. */
      readonly payUrl: string | null;
      readonly channelTradeNo: string | null;
      readonly paidAt: string | null;
      /** What the provider captured, once it did. */
      readonly captured: Money | null;
      readonly refund: Refund | null;
      /** The provider confirmed the trade final and unpaid: no longer watched. */
      readonly watchEnded: boolean;
    };

export type InitiatedPaymentState = Exclude<PaymentState, { status: 'none' }>;

export const initialPaymentState: PaymentState = { status: 'none' };

export type InitiatePayment = Command<'InitiatePayment', Omit<PaymentInitiated['data'], 'createdAt'>>;
export type RecordTradeOpened = Command<'RecordTradeOpened', { paymentId: string; payUrl: string }>;
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
export type EndTradeWatch = Command<'EndTradeWatch', { paymentId: string; lastState: FinalTradeState }>;
export type RequestRefund = Command<'RequestRefund', { paymentId: string; refundId: string; reason: RefundReason }>;
export type RecordRefundSuccess = Command<
  'RecordRefundSuccess',
  { paymentId: string; refundId: string; channelRefundNo: string; refunded: Money }
>;
export type RecordRefundFailure = Command<
  'RecordRefundFailure',
  {
    paymentId: string;
    refundId: string;
    error: string;
    /** The provider refused for good. */
    final: boolean;
    /** Attempts after which a refund is given up as failed. */
    maxAttempts: number;
    /** When to try again, if this failure is not the last. */
    retryAt: string;
  }
>;
export type ResolveRefund = Command<
  'ResolveRefund',
  { paymentId: string; refundId: string; resolution: RefundResolution; note: string; resolvedBy: string | null }
>;

export type PaymentCommand =
  | InitiatePayment
  | RecordTradeOpened
  | RecordPaymentSuccess
  | RecordPaymentFailure
  | RecordPaymentClosed
  | EndTradeWatch
  | RequestRefund
  | RecordRefundSuccess
  | RecordRefundFailure
  | ResolveRefund;

export function evolvePayment(state: PaymentState, event: PaymentEvent): PaymentState {
  if (event.type === 'PaymentInitiated') {
    const initiated = event.data;
    return { status: 'pending', initiated, payUrl: initiated.payUrl, channelTradeNo: null, paidAt: null, captured: null, refund: null, watchEnded: false };
  }
  if (state.status === 'none') throw new Error(`${event.type} before PaymentInitiated`);
  switch (event.type) {
    case 'PaymentTradeOpened':
      return { ...state, payUrl: event.data.payUrl };
    case 'PaymentSucceeded': {
      const { channelTradeNo, paidAt, amount, currency } = event.data;
      return { ...state, status: 'succeeded', channelTradeNo, paidAt, captured: { amount, currency } };
    }
    case 'PaymentFailed':
      return { ...state, status: 'failed' };
    case 'PaymentClosed':
      return { ...state, status: 'closed' };
    case 'PaymentWatchEnded':
      return { ...state, watchEnded: true };
    case 'RefundRequested': {
      const { refundId, amount, currency, reason, requestedAt } = event.data;
      const refund: Refund = {
        refundId,
        amount,
        currency,
        reason,
        status: 'requested',
        attempts: 0,
        requestedAt,
        completedAt: null,
        retryAt: null,
        lastError: null,
        refundedAmount: 0,
        resolution: null,
      };
      return { ...state, refund };
    }
    case 'RefundSucceeded': {
      const { amount, requestedAmount, currency, completedAt } = event.data;
      const refund = requireRefund(state);
      // Less than asked is what it was: recorded, and left an open item for an operator.
      const short = amount < requestedAmount;
      const lastError = short ? shortRefundError(event.data) : refund.lastError;
      return { ...state, refund: { ...refund, status: short ? 'failed' : 'succeeded', completedAt, retryAt: null, refundedAmount: amount, lastError } };
    }
    case 'RefundFailed': {
      const { attempt, error, final, retryAt } = event.data;
      const refund = requireRefund(state);
      return { ...state, refund: { ...refund, status: final ? 'failed' : 'requested', attempts: attempt, retryAt, lastError: error } };
    }
    case 'RefundResolved': {
      const refund = requireRefund(state);
      if (event.data.resolution === 'retry') {
        return { ...state, refund: { ...refund, status: 'requested', attempts: 0, retryAt: null, resolution: 'retry' } };
      }
      return { ...state, refund: { ...refund, resolution: event.data.resolution } };
    }
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
    case 'RecordTradeOpened':
      if (state.payUrl !== null) return [];
      return [{ type: 'PaymentTradeOpened', data: { paymentId, orderId, payUrl: command.data.payUrl, openedAt: now } }];
    case 'RecordPaymentSuccess':
      return recordSuccess(command, state);
    case 'RecordPaymentFailure':
      if (state.status !== 'pending') return [];
      return [{ type: 'PaymentFailed', data: { paymentId, orderId, reason: command.data.reason, source: command.data.source, failedAt: now } }];
    case 'RecordPaymentClosed':
      if (state.status !== 'pending') return [];
      return [{ type: 'PaymentClosed', data: { paymentId, orderId, closedAt: now } }];
    case 'EndTradeWatch':
      // A paid trade is final the other way (kept or refunded); a watch ends once.
      if (state.status === 'succeeded' || state.watchEnded) return [];
      return [{ type: 'PaymentWatchEnded', data: { paymentId, orderId, lastState: command.data.lastState, endedAt: now } }];
    case 'RequestRefund': {
      if (state.status !== 'succeeded' || state.captured === null) throw new PaymentNotRefundable(paymentId, state.status);
      if (state.refund !== null) return [];
      const { refundId, reason } = command.data;
      // What is given back is what was taken, which for a mismatched capture is not the payment's amount.
      const { amount, currency } = state.captured;
      return [{ type: 'RefundRequested', data: { refundId, paymentId, orderId, amount, currency, reason, requestedAt: now } }];
    }
    case 'RecordRefundSuccess': {
      const refund = refundNamed(state, command.data.refundId);
      // One refund is executed once: its first success is the fact, a repeat adds nothing.
      if (refund.status === 'succeeded' || refund.refundedAmount > 0) return [];
      const { refundId, amount: requestedAmount } = refund;
      const { channelRefundNo, refunded } = command.data;
      const { merchantId } = state.initiated;
      const data = { refundId, paymentId, orderId, merchantId, amount: refunded.amount, requestedAmount, currency: refunded.currency, channelRefundNo, completedAt: now };
      return [{ type: 'RefundSucceeded', data }];
    }
    case 'RecordRefundFailure': {
      const refund = refundNamed(state, command.data.refundId);
      // Settled, or given up (until an operator says retry): nothing more to record.
      if (refund.status !== 'requested') return [];
      const { error, maxAttempts, retryAt } = command.data;
      const attempt = refund.attempts + 1;
      const final = command.data.final || attempt >= maxAttempts;
      const data = { refundId: refund.refundId, paymentId, orderId, error, attempt, final, failedAt: now, retryAt: final ? null : retryAt };
      return [{ type: 'RefundFailed', data }];
    }
    case 'ResolveRefund':
      return resolveRefund(command, state, now);
    default:
      return assertNever(command);
  }
}

/**
 * Money taken is a fact even on a closed or failed attempt: it is recorded, and the order decides
 * whether to keep it. A capture of another amount is recorded only when the provider confirms it
 * by query or close; a notification claiming it is refused (it may be forged or garbled).
 */
function recordSuccess(command: RecordPaymentSuccess, state: InitiatedPaymentState): PaymentEvent[] {
  const { paymentId, orderId, merchantId, channel } = state.initiated;
  const { amount, currency, channelTradeNo, paidAt, source, notificationId, raw } = command.data;
  if (command.data.source === 'notification' && (amount !== state.initiated.amount || currency !== state.initiated.currency)) {
    throw new AmountMismatch(paymentId, state.initiated, { amount, currency });
  }
  if (state.status === 'succeeded') return [];
  const data = { paymentId, orderId, merchantId, channel, amount, currency, channelTradeNo, paidAt, source, notificationId, raw };
  return [{ type: 'PaymentSucceeded', data }];
}

function resolveRefund(command: ResolveRefund, state: InitiatedPaymentState, now: string): PaymentEvent[] {
  const refund = refundNamed(state, command.data.refundId);
  const { resolution, note, resolvedBy } = command.data;
  // A repeated request (a client retry) is answered with what it already did.
  if (refund.resolution === resolution && (resolution !== 'retry' || refund.status === 'requested')) return [];
  if (refund.status !== 'failed') throw new RefundNotResolvable(refund.refundId, `it is ${refund.status}, not failed`);
  // A retried refund that failed again can be resolved again; a settled one can't.
  if (refund.resolution !== null && refund.resolution !== 'retry') throw new RefundNotResolvable(refund.refundId, `it was already resolved as ${refund.resolution}`);
  if (resolution === 'retry' && refund.refundedAmount > 0) {
    throw new RefundNotResolvable(refund.refundId, `the provider already refunded ${refund.refundedAmount} of it; the same refund can't be executed again`);
  }
  const { paymentId, orderId } = state.initiated;
  return [{ type: 'RefundResolved', data: { refundId: refund.refundId, paymentId, orderId, resolution, note, resolvedBy, resolvedAt: now } }];
}

function refundNamed(state: InitiatedPaymentState, refundId: string): Refund {
  if (state.refund === null || state.refund.refundId !== refundId) {
    throw new RefundNotRequested(state.initiated.paymentId, refundId);
  }
  return state.refund;
}

export const paymentDecider: Decider<PaymentState, PaymentCommand, PaymentEvent> = { initialState: initialPaymentState, evolve: evolvePayment, decide: decidePayment, eventTypes: PAYMENT_EVENT_TYPES };
