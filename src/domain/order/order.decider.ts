import { assertNever, UnknownEventError, type Command } from '../shared/event.js';
import type { Decider } from '../shared/decider.js';
import type { PaymentStatus } from '../payment/payment.events.js';
import { ORDER_EVENT_TYPES, type AnomalyKind, type OrderEvent, type OrderPlaced, type OrderStatus } from './order.events.js';
import { OrderConflict, OrderNotClosable, OrderNotFound, OrderNotPayable, ValidityTooShort } from './order.errors.js';

export interface PaymentAttempt {
  readonly paymentId: string;
  readonly channel: string;
  readonly timeExpire: string;
  readonly returnUrl: string | null;
  readonly startedAt: string;
}

export interface Anomaly {
  readonly kind: AnomalyKind;
  readonly paymentId: string;
  readonly detectedAt: string;
}

export type OrderState =
  | { readonly status: 'none' }
  | {
      readonly status: OrderStatus;
      readonly placed: OrderPlaced['data'];
      readonly attempts: readonly PaymentAttempt[];
      readonly paidBy: string | null;
      readonly anomalies: readonly Anomaly[];
      readonly endedAt: string | null;
    };

export type PlacedOrderState = Exclude<OrderState, { status: 'none' }>;

export const initialOrderState: OrderState = { status: 'none' };

export type PlaceOrder = Command<
  'PlaceOrder',
  Omit<OrderPlaced['data'], 'createdAt'>
>;
export type StartPaymentAttempt = Command<
  'StartPaymentAttempt',
  {
    orderId: string;
    paymentId: string;
    channel: string;
    returnUrl: string | null;
    minValiditySeconds: number;
    expiryMarginSeconds: number;
    /** Attempts the caller knows have ended (failed or closed at the channel): not reusable. */
    endedPaymentIds: readonly string[];
  }
>;
/**
 * A channel reported payment `paymentId` of this order as succeeded: when the payer paid by the
 * provider's clock (`paidAt`), and what the provider captured.
 */
export type ApplyPaymentSuccess = Command<
  'ApplyPaymentSuccess',
  { orderId: string; paymentId: string; paidAt: string; amount: number; currency: string }
>;
export type ExpireOrder = Command<'ExpireOrder', { orderId: string }>;
export type CloseOrder = Command<'CloseOrder', { orderId: string; reason: string | null }>;

export type OrderCommand = PlaceOrder | StartPaymentAttempt | ApplyPaymentSuccess | ExpireOrder | CloseOrder;

export function evolveOrder(state: OrderState, event: OrderEvent): OrderState {
  if (event.type === 'OrderPlaced') {
    return { status: 'pending', placed: event.data, attempts: [], paidBy: null, anomalies: [], endedAt: null };
  }
  if (state.status === 'none') throw new Error(`${event.type} before OrderPlaced`);
  switch (event.type) {
    case 'PaymentAttemptStarted': {
      const { paymentId, channel, timeExpire, returnUrl, startedAt } = event.data;
      return { ...state, attempts: [...state.attempts, { paymentId, channel, timeExpire, returnUrl, startedAt }] };
    }
    case 'OrderPaid':
      return { ...state, status: 'paid', paidBy: event.data.paymentId, endedAt: event.data.paidAt };
    case 'AnomalyDetected': {
      const { kind, paymentId, detectedAt } = event.data;
      return { ...state, anomalies: [...state.anomalies, { kind, paymentId, detectedAt }] };
    }
    case 'OrderExpired':
      return { ...state, status: 'expired', endedAt: event.data.expiredAt };
    case 'OrderClosed':
      return { ...state, status: 'closed', endedAt: event.data.closedAt };
    default:
      throw new UnknownEventError('Order', (event as { type: string }).type);
  }
}

export function decideOrder(command: OrderCommand, state: OrderState): OrderEvent[] {
  const now = command.metadata.now;
  switch (command.type) {
    case 'PlaceOrder':
      return placeOrder(command, state);
    case 'StartPaymentAttempt':
      return startPaymentAttempt(command, requirePlaced(state, command), now);
    case 'ApplyPaymentSuccess':
      return applyPaymentSuccess(command, requirePlaced(state, command), now);
    case 'ExpireOrder': {
      const order = requirePlaced(state, command);
      if (!expiryDue(order, now)) return [];
      return [{ type: 'OrderExpired', data: { orderId: order.placed.orderId, expiredAt: now.toISOString() } }];
    }
    case 'CloseOrder': {
      const order = requirePlaced(state, command);
      if (order.status === 'paid') throw new OrderNotClosable(order.placed.orderId);
      if (order.status !== 'pending') return [];
      const data = { orderId: order.placed.orderId, reason: command.data.reason, closedAt: now.toISOString() };
      return [{ type: 'OrderClosed', data }];
    }
    default:
      return assertNever(command);
  }
}

function placeOrder(command: PlaceOrder, state: OrderState): OrderEvent[] {
  if (state.status === 'none') {
    return [{ type: 'OrderPlaced', data: { ...command.data, createdAt: command.metadata.now.toISOString() } }];
  }
  if (!sameRequest(state.placed, command.data)) throw new OrderConflict(command.data.orderId);
  return [];
}

function sameRequest(placed: OrderPlaced['data'], asked: PlaceOrder['data']): boolean {
  return (
    placed.merchantId === asked.merchantId &&
    placed.amount === asked.amount &&
    placed.currency === asked.currency &&
    placed.description === asked.description &&
    JSON.stringify(placed.requestedExpiry) === JSON.stringify(asked.requestedExpiry)
  );
}

function startPaymentAttempt(command: StartPaymentAttempt, order: PlacedOrderState, now: Date): OrderEvent[] {
  const { orderId, expiresAt, amount, currency } = order.placed;
  requirePayable(order);
  const { paymentId, channel, returnUrl, minValiditySeconds, expiryMarginSeconds } = command.data;
  // A retry on the same channel reuses the open trade: one trade can be paid only once.
  if (openAttemptOn(order, channel, command.data.endedPaymentIds, now) !== undefined) return [];
  if (order.attempts.some((attempt) => attempt.paymentId === paymentId)) return [];
  const expiresAtMs = Date.parse(expiresAt);
  const remainingSeconds = Math.floor((expiresAtMs - now.getTime()) / 1000);
  // The channel's deadline sits a margin before ours, so its last success still finds the order pending.
  const timeExpireMs = expiresAtMs - expiryMarginSeconds * 1000;
  if (remainingSeconds < minValiditySeconds || timeExpireMs <= now.getTime()) {
    throw new ValidityTooShort(orderId, Math.max(0, remainingSeconds), minValiditySeconds);
  }
  // Channels take whole seconds: round down so timeExpire never passes the limit.
  const timeExpire = new Date(Math.floor(timeExpireMs / 1000) * 1000).toISOString();
  const data = { orderId, paymentId, channel, amount, currency, timeExpire, returnUrl, startedAt: now.toISOString() };
  return [{ type: 'PaymentAttemptStarted', data }];
}

/** The order is still pending, its deadline passed: ExpireOrder's rule, which expiry asks before it closes the trades. */
export function expiryDue(order: OrderState, now: Date): order is PlacedOrderState {
  return order.status === 'pending' && now.getTime() >= Date.parse(order.placed.expiresAt);
}

/** Only a pending order takes a payment attempt (asked before any channel is called, and again by the decider). */
export function requirePayable(order: PlacedOrderState): void {
  if (order.status !== 'pending') throw new OrderNotPayable(order.placed.orderId, order.status);
}

/** Attempts on `channel` whose payment failed or was closed: a retry there opens a new one. */
export function endedAttemptsOn(order: PlacedOrderState, channel: string, statusOf: (paymentId: string) => PaymentStatus | 'none'): string[] {
  return order.attempts
    .filter((attempt) => attempt.channel === channel && ['failed', 'closed'].includes(statusOf(attempt.paymentId)))
    .map((attempt) => attempt.paymentId);
}

/**
 * The attempt whose trade must be closed before a new trade on `channel`: the latest there, when
 * it failed and no attempt there is open. WeChat Pay requires the close for a failed payment, and
 * for every provider it stops the payer paying the old trade too. Only the latest needs it: each
 * earlier one was closed before its successor opened, and a closed one was closed at the channel.
 */
export function predecessorToClose(
  order: PlacedOrderState,
  channel: string,
  statusOf: (paymentId: string) => PaymentStatus | 'none',
  now: Date,
): PaymentAttempt | undefined {
  const ended = endedAttemptsOn(order, channel, statusOf);
  if (openAttemptOn(order, channel, ended, now) !== undefined) return undefined;
  const latest = order.attempts.filter((attempt) => attempt.channel === channel).at(-1);
  return latest !== undefined && statusOf(latest.paymentId) === 'failed' ? latest : undefined;
}

/** The latest attempt on `channel` that has not ended and whose channel deadline has not passed. */
export function openAttemptOn(
  order: PlacedOrderState,
  channel: string,
  endedPaymentIds: readonly string[],
  now: Date,
): PaymentAttempt | undefined {
  return order.attempts
    .filter((attempt) => attempt.channel === channel && !endedPaymentIds.includes(attempt.paymentId))
    .filter((attempt) => Date.parse(attempt.timeExpire) > now.getTime())
    .at(-1);
}

/**
 * The order keeps the first success that pays it on time and in full. Any other success is an
 * anomaly, recorded once per payment, whatever order the reports come in and however often they
 * repeat.
 */
function applyPaymentSuccess(command: ApplyPaymentSuccess, order: PlacedOrderState, now: Date): OrderEvent[] {
  const { orderId, amount, currency } = order.placed;
  const { paymentId, paidAt } = command.data;
  if (order.paidBy === paymentId || order.anomalies.some((anomaly) => anomaly.paymentId === paymentId)) return [];
  const kind = anomalyOf({ status: order.status, expiresAt: order.placed.expiresAt, amount, currency }, command.data);
  if (kind === null) return [{ type: 'OrderPaid', data: { orderId, paymentId, amount, currency, paidAt } }];
  return [{ type: 'AnomalyDetected', data: { orderId, paymentId, kind, detectedAt: now.toISOString() } }];
}

/** What the order knows of itself that decides about a success. */
export interface SuccessJudge {
  readonly status: OrderStatus;
  readonly expiresAt: string;
  readonly amount: number;
  readonly currency: string;
}

/** A success as the provider reports it. */
export interface ReportedSuccess {
  readonly paidAt: string;
  readonly amount: number;
  readonly currency: string;
}

/**
 * The anomaly a success is for an order (null: none, the order keeps it). Facts decide, not the
 * moment we learn them: a capture of another amount never pays; a payment the provider took after
 * expiresAt is paid-after-expiry whether or not the order has expired in our log yet; one taken
 * in time but confirmed only after the order expired (its close could not reach the provider)
 * is paid-unconfirmed-at-expiry.
 */
export function anomalyOf(order: SuccessJudge, success: ReportedSuccess): AnomalyKind | null {
  if (success.amount !== order.amount || success.currency !== order.currency) return 'amount-mismatch';
  const afterExpiry = Date.parse(success.paidAt) > Date.parse(order.expiresAt);
  switch (order.status) {
    case 'pending':
      return afterExpiry ? 'paid-after-expiry' : null;
    case 'paid':
      return 'duplicate-payment';
    case 'expired':
      return afterExpiry ? 'paid-after-expiry' : 'paid-unconfirmed-at-expiry';
    case 'closed':
      return 'paid-after-close';
    default:
      return assertNever(order.status);
  }
}

function requirePlaced(state: OrderState, command: Exclude<OrderCommand, PlaceOrder>): PlacedOrderState {
  if (state.status === 'none') throw new OrderNotFound(command.data.orderId);
  return state;
}

export const orderDecider: Decider<OrderState, OrderCommand, OrderEvent> = { initialState: initialOrderState, evolve: evolveOrder, decide: decideOrder, eventTypes: ORDER_EVENT_TYPES };
