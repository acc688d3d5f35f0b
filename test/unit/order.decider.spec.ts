import {
  endedAttemptsOn,
  expiryDue,
  orderDecider,
  predecessorToClose,
  requirePayable,
  type OrderCommand,
} from '../../src/domain/order/order.decider.js';
import type { PaymentStatus } from '../../src/domain/payment/payment.events.js';
import { fold } from '../../src/domain/shared/decider.js';
import type { AnomalyKind, OrderEvent } from '../../src/domain/order/order.events.js';
import { OrderConflict, OrderNotClosable, OrderNotFound, OrderNotPayable, ValidityTooShort } from '../../src/domain/order/order.errors.js';
import { UnknownEventError } from '../../src/domain/shared/event.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec<ReturnType<typeof orderDecider.evolve>, OrderCommand, OrderEvent>(orderDecider);
const T0 = new Date('2026-11-26T10:00:00.000Z');
const at = (seconds: number) => ({ now: new Date(T0.getTime() + seconds * 1000) });
const iso = (seconds: number) => at(seconds).now.toISOString();

const placed: OrderEvent = {
  type: 'OrderPlaced',
  data: {
    orderId: 'o1',
    merchantId: 'shop',
    amount: 1999,
    currency: 'CNY',
    expiresAt: iso(1800),
    requestedExpiry: { expiresInSeconds: 1800 },
    description: null,
    createdAt: iso(0),
  },
};
const attempt = (paymentId: string, channel: string): Extract<OrderEvent, { type: 'PaymentAttemptStarted' }> => ({
  type: 'PaymentAttemptStarted',
  data: { orderId: 'o1', paymentId, channel, amount: 1999, currency: 'CNY', timeExpire: iso(1770), returnUrl: null, startedAt: iso(10) },
});
const paid = (paymentId: string): OrderEvent => ({
  type: 'OrderPaid',
  data: { orderId: 'o1', paymentId, amount: 1999, currency: 'CNY', paidAt: iso(100) },
});
/** A success confirmed at `seconds`; the provider took the money at `paidAt` (seconds; by default the same moment). */
const success = (paymentId: string, seconds: number, captured: { paidAt?: number; amount?: number; currency?: string } = {}): OrderCommand => ({
  type: 'ApplyPaymentSuccess',
  data: { orderId: 'o1', paymentId, paidAt: iso(captured.paidAt ?? seconds), amount: captured.amount ?? 1999, currency: captured.currency ?? 'CNY' },
  metadata: at(seconds),
});
const anomaly = (paymentId: string, kind: AnomalyKind, seconds: number): OrderEvent => ({
  type: 'AnomalyDetected',
  data: { orderId: 'o1', paymentId, kind, detectedAt: iso(seconds) },
});
const expired: OrderEvent = { type: 'OrderExpired', data: { orderId: 'o1', expiredAt: iso(1800) } };
const closed: OrderEvent = { type: 'OrderClosed', data: { orderId: 'o1', reason: 'customer cancelled', closedAt: iso(50) } };
const startAttempt = (paymentId: string, seconds: number): OrderCommand => ({
  type: 'StartPaymentAttempt',
  data: { orderId: 'o1', paymentId, channel: 'sandbox-bank', returnUrl: null, minValiditySeconds: 60, expiryMarginSeconds: 30, endedPaymentIds: [] },
  metadata: at(seconds),
});

describe('placing an order', () => {
  const place = (overrides: Partial<Extract<OrderEvent, { type: 'OrderPlaced' }>['data']> = {}): OrderCommand => {
    const { createdAt: _createdAt, ...data } = { ...(placed.data as Extract<OrderEvent, { type: 'OrderPlaced' }>['data']), ...overrides };
    return { type: 'PlaceOrder', data, metadata: at(0) };
  };
  it('places a new order as pending', () => spec.given([]).when(place()).then([placed]));
  it('answers a repeat of the same request with nothing new', () => spec.given([placed]).when(place()).then([]));
  it('rejects the same orderId with another amount as order-conflict', () =>
    spec.given([placed]).when(place({ amount: 2000 })).thenThrows(OrderConflict, 'order-conflict'));
  it('rejects the same orderId with another validity as order-conflict', () =>
    spec.given([placed]).when(place({ requestedExpiry: { expiresInSeconds: 60 } })).thenThrows(OrderConflict));
});

describe('a pending order', () => {
  it('opens a payment attempt whose timeExpire is the margin before expiresAt', () =>
    spec.given([placed]).when(startAttempt('p1', 10)).then([
      { type: 'PaymentAttemptStarted', data: { ...attempt('p1', 'sandbox-bank').data, timeExpire: iso(1770), startedAt: iso(10) } },
    ]));
  it('rounds timeExpire down to a whole second so it never passes the limit', () => {
    const odd: OrderEvent = { ...placed, data: { ...(placed.data as never as object), expiresAt: '2026-11-26T10:30:00.900Z' } } as OrderEvent;
    const [event] = orderDecider.decide(startAttempt('p1', 10), orderDecider.evolve(orderDecider.initialState, odd));
    expect((event.data as { timeExpire: string }).timeExpire).toBe('2026-11-26T10:29:30.000Z');
  });
  it('reuses the open attempt on the same channel instead of opening a second trade', () =>
    spec.given([placed, attempt('p1', 'sandbox-bank')]).when(startAttempt('p2', 20)).then([]));
  it('opens a new attempt on the same channel once the previous one has ended', () => {
    const retry = startAttempt('p2', 20);
    const command = { ...retry, data: { ...retry.data, endedPaymentIds: ['p1'] } } as OrderCommand;
    spec.given([placed, attempt('p1', 'sandbox-bank')]).when(command).then([
      { type: 'PaymentAttemptStarted', data: { ...attempt('p2', 'sandbox-bank').data, startedAt: iso(20) } },
    ]);
  });
  it('opens a new attempt on another channel beside the open one', () => {
    const other = startAttempt('p2', 20);
    const command = { ...other, data: { ...other.data, channel: 'sandbox-wallet' } } as OrderCommand;
    spec.given([placed, attempt('p1', 'sandbox-bank')]).when(command).then([
      { type: 'PaymentAttemptStarted', data: { ...attempt('p2', 'sandbox-wallet').data, startedAt: iso(20) } },
    ]);
  });
  it('refuses a payment with less than the minimum validity left as validity-too-short', () =>
    spec.given([placed]).when(startAttempt('p1', 1741)).thenThrows(ValidityTooShort, 'validity-too-short'));
  it('settles with the first success', () => spec.given([placed, attempt('p1', 'sandbox-bank')]).when(success('p1', 100)).then([paid('p1')]));
  it('settles with a success reported at the very instant of expiry, before the expiry is recorded', () =>
    spec.given([placed, attempt('p1', 'sandbox-bank')]).when(success('p1', 1800)).then([
      { type: 'OrderPaid', data: { orderId: 'o1', paymentId: 'p1', amount: 1999, currency: 'CNY', paidAt: iso(1800) } },
    ]));
  it('refunds, and is not paid by, a success the provider took after expiresAt (learned before the expiry is recorded)', () =>
    spec.given([placed, attempt('p1', 'sandbox-bank')]).when(success('p1', 1900, { paidAt: 1801 })).then([anomaly('p1', 'paid-after-expiry', 1900)]));
  it('is never paid by a capture of another amount or currency', () => {
    spec.given([placed, attempt('p1', 'sandbox-bank')]).when(success('p1', 100, { amount: 2099 })).then([anomaly('p1', 'amount-mismatch', 100)]);
    spec.given([placed, attempt('p1', 'sandbox-bank')]).when(success('p1', 100, { currency: 'USD' })).then([anomaly('p1', 'amount-mismatch', 100)]);
  });
  it('still expires after a mismatched capture', () =>
    spec.given([placed, attempt('p1', 'sandbox-bank'), anomaly('p1', 'amount-mismatch', 100)])
      .when({ type: 'ExpireOrder', data: { orderId: 'o1' }, metadata: at(1800) }).then([expired]));
  it('does not expire before expiresAt', () =>
    spec.given([placed]).when({ type: 'ExpireOrder', data: { orderId: 'o1' }, metadata: at(1799) }).then([]));
  it('expires at expiresAt', () => spec.given([placed]).when({ type: 'ExpireOrder', data: { orderId: 'o1' }, metadata: at(1800) }).then([expired]));
  it('closes with its reason', () =>
    spec.given([placed]).when({ type: 'CloseOrder', data: { orderId: 'o1', reason: 'customer cancelled' }, metadata: at(50) }).then([closed]));
});

describe('a paid order', () => {
  const history = [placed, attempt('p1', 'sandbox-bank'), attempt('p2', 'sandbox-wallet'), paid('p1')];
  it('flags a second success as duplicate-payment', () =>
    spec.given(history).when(success('p2', 120)).then([anomaly('p2', 'duplicate-payment', 120)]));
  it('flags the duplicate only once, however often it is reported', () =>
    spec.given([...history, anomaly('p2', 'duplicate-payment', 120)]).when(success('p2', 130)).then([]));
  it('ignores a repeated report of the success that settled it', () => spec.given(history).when(success('p1', 140)).then([]));
  it('keeps the first success whichever payment arrives first', () => {
    const other = [placed, attempt('p1', 'sandbox-bank'), attempt('p2', 'sandbox-wallet'), paid('p2')];
    spec.given(other).when(success('p1', 120)).then([anomaly('p1', 'duplicate-payment', 120)]);
  });
  it('cannot be closed', () =>
    spec.given(history).when({ type: 'CloseOrder', data: { orderId: 'o1', reason: null }, metadata: at(200) }).thenThrows(OrderNotClosable));
  it('cannot be paid again', () => spec.given(history).when(startAttempt('p3', 200)).thenThrows(OrderNotPayable, 'order-not-payable'));
  it('does not expire', () => spec.given(history).when({ type: 'ExpireOrder', data: { orderId: 'o1' }, metadata: at(1900) }).then([]));
});

describe('an expired order', () => {
  it('flags a success taken in time, but confirmed only after the expiry, as paid-unconfirmed-at-expiry', () =>
    spec.given([placed, attempt('p1', 'sandbox-bank'), expired]).when(success('p1', 1900, { paidAt: 1700 })).then([anomaly('p1', 'paid-unconfirmed-at-expiry', 1900)]));
  it('flags a capture of another amount as amount-mismatch, whenever it was taken', () =>
    spec.given([placed, attempt('p1', 'sandbox-bank'), expired]).when(success('p1', 1900, { paidAt: 1700, amount: 1 })).then([anomaly('p1', 'amount-mismatch', 1900)]));
  it('flags a late success as paid-after-expiry, once', () => {
    spec.given([placed, attempt('p1', 'sandbox-bank'), expired]).when(success('p1', 1805)).then([anomaly('p1', 'paid-after-expiry', 1805)]);
    spec.given([placed, attempt('p1', 'sandbox-bank'), expired, anomaly('p1', 'paid-after-expiry', 1805)]).when(success('p1', 1806)).then([]);
  });
  it('answers a close with nothing new', () =>
    spec.given([placed, expired]).when({ type: 'CloseOrder', data: { orderId: 'o1', reason: null }, metadata: at(1900) }).then([]));
  it('cannot start a payment', () => spec.given([placed, expired]).when(startAttempt('p1', 1900)).thenThrows(OrderNotPayable));
});

describe('a closed order', () => {
  it('flags a success as paid-after-close', () =>
    spec.given([placed, attempt('p1', 'sandbox-bank'), closed]).when(success('p1', 60)).then([anomaly('p1', 'paid-after-close', 60)]));
  it('does not expire later', () => spec.given([placed, closed]).when({ type: 'ExpireOrder', data: { orderId: 'o1' }, metadata: at(1800) }).then([]));
});

describe('an unknown order', () => {
  it('is not-found for any command but placing it', () => spec.given([]).when(success('p1', 1)).thenThrows(OrderNotFound, 'not-found'));
});

describe('replaying an order', () => {
  it('refuses an unknown event type instead of skipping it', () => {
    const state = orderDecider.evolve(orderDecider.initialState, placed);
    expect(() => orderDecider.evolve(state, { type: 'OrderRefunded', data: {} } as never)).toThrow(UnknownEventError);
  });
});

describe('what the handlers ask the order before they call a channel', () => {
  const order = fold(orderDecider, [placed, attempt('p1', 'sandbox-bank'), attempt('p2', 'sandbox-bank'), attempt('p3', 'sandbox-wallet')]);
  if (order.status === 'none') throw new Error('placed');

  it('expiry is due from expiresAt on, and only while the order is pending', () => {
    expect([expiryDue(order, at(1799).now), expiryDue(order, at(1800).now)]).toEqual([false, true]);
    expect(expiryDue(fold(orderDecider, [placed, paid('p1')]), at(1800).now)).toBe(false);
  });

  it('a retry on a channel replaces its latest attempt, whose trade is closed first only when that payment failed', () => {
    const statuses = (p2: PaymentStatus) => (id: string) => ({ p1: 'failed', p2, p3: 'pending' } as Record<string, PaymentStatus>)[id] ?? 'none';
    expect(endedAttemptsOn(order, 'sandbox-bank', statuses('failed'))).toEqual(['p1', 'p2']);
    expect(predecessorToClose(order, 'sandbox-bank', statuses('failed'), at(20).now)?.paymentId).toBe('p2');
    // Closed: it was closed at the channel already. Pending: it is the open attempt, which a retry reuses.
    expect(predecessorToClose(order, 'sandbox-bank', statuses('closed'), at(20).now)).toBeUndefined();
    expect(predecessorToClose(order, 'sandbox-bank', statuses('pending'), at(20).now)).toBeUndefined();
    expect(predecessorToClose(order, 'sandbox-wallet', statuses('failed'), at(20).now)).toBeUndefined();
  });

  it('refuses a payment on an order that has ended, before any channel is called', () => {
    const expired = fold(orderDecider, [placed, { type: 'OrderExpired', data: { orderId: 'o1', expiredAt: iso(1800) } }]);
    if (expired.status === 'none') throw new Error('placed');
    expect(() => requirePayable(expired)).toThrow(OrderNotPayable);
    expect(() => requirePayable(order)).not.toThrow();
  });
});
