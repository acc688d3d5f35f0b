/**
 * A realistic global log for the replay measurement, made by the domain's own deciders: each order
 * follows one of a few life stories (paid at once, paid after a failed attempt, duplicate payment
 * refunded, expired, closed, paid after expiry and refunded after a failed first refund), and many
 * orders are in flight at once, so their events interleave in the log as they would in production.
 * Seeded, so every run writes the same shapes in the same order (event ids and correlation ids are
 * random UUIDs, as the service makes them).
 */
import { randomUUID } from 'node:crypto';
import type { EventStore, NewEvent } from '../src/application/ports/event-store.port.js';
import { decideOrder, evolveOrder, initialOrderState, type OrderCommand, type OrderState } from '../src/domain/order/order.decider.js';
import type { OrderEvent } from '../src/domain/order/order.events.js';
import { decidePayment, evolvePayment, initialPaymentState, type PaymentCommand, type PaymentState } from '../src/domain/payment/payment.decider.js';
import type { PaymentEvent, RefundReason } from '../src/domain/payment/payment.events.js';
import { orderStream, paymentStream, refundIdFor } from '../src/domain/shared/stream-names.js';

/** mulberry32: small, fast, good enough to pick stories and delays. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Step =
  | { readonly aggregate: 'order'; readonly stream: string; readonly command: (now: Date) => OrderCommand }
  | { readonly aggregate: 'payment'; readonly stream: string; readonly command: (now: Date) => PaymentCommand };

interface Append {
  readonly stream: string;
  readonly events: NewEvent[];
  readonly expected: number | 'no-stream';
}

const CHANNELS = ['sandbox-bank', 'sandbox-wallet'] as const;

/** The commands of one order's life, in order; `now` is supplied when each step runs. */
function story(index: number, random: () => number): Step[] {
  const orderId = `ord_${index.toString(36).padStart(8, '0')}`;
  const order = orderStream(orderId);
  const amount = 100 + Math.floor(random() * 99_900);
  const currency = random() < 0.8 ? 'CNY' : 'USD';
  const pay = (n: number) => `pay_${index.toString(36)}x${n}${'abcdefghijklmnop'.slice(0, 12)}`;
  const steps: Step[] = [
    {
      aggregate: 'order',
      stream: order,
      command: (now) => ({
        type: 'PlaceOrder',
        data: {
          orderId,
          merchantId: `merchant-${index % 17}`,
          amount,
          currency,
          expiresAt: new Date(now.getTime() + 1_800_000).toISOString(),
          requestedExpiry: { expiresInSeconds: 1800 },
          description: random() < 0.5 ? `Order ${index} from the shop` : null,
        },
        metadata: { now },
      }),
    },
  ];
  /** `ended`: attempts on this channel that failed, so a retry opens a new one. */
  const attempt = (n: number, channel: string, ended: readonly string[] = []) => {
    const paymentId = pay(n);
    steps.push({
      aggregate: 'order',
      stream: order,
      command: (now) => ({
        type: 'StartPaymentAttempt',
        data: { orderId, paymentId, channel, returnUrl: 'https://shop.example/return', minValiditySeconds: 60, expiryMarginSeconds: 30, endedPaymentIds: ended },
        metadata: { now },
      }),
    });
    steps.push({
      aggregate: 'payment',
      stream: paymentStream(paymentId),
      command: (now) => ({
        type: 'InitiatePayment',
        data: {
          paymentId,
          orderId,
          merchantId: null,
          channel,
          amount,
          currency,
          timeExpire: new Date(now.getTime() + 1_700_000).toISOString(),
          payUrl: null,
          returnUrl: 'https://shop.example/return',
        },
        metadata: { now },
      }),
    });
    steps.push({
      aggregate: 'payment',
      stream: paymentStream(paymentId),
      command: (now) => ({ type: 'RecordTradeOpened', data: { paymentId, payUrl: `http://127.0.0.1:3000/sandbox/pay/${paymentId}` }, metadata: { now } }),
    });
    return paymentId;
  };
  /** `lateMs`: the provider took the money that long after the step runs (a success after expiry). */
  const succeed = (paymentId: string, applyToOrder: boolean, lateMs = 0) => {
    const tradeNo = `BANK${paymentId.slice(4, 24)}`;
    const paidAtOf = (now: Date) => new Date(now.getTime() + lateMs).toISOString();
    steps.push({
      aggregate: 'payment',
      stream: paymentStream(paymentId),
      command: (now) => {
        const notificationId = randomUUID();
        const paidAt = paidAtOf(now);
        return {
          type: 'RecordPaymentSuccess',
          data: {
            paymentId,
            amount,
            currency,
            channelTradeNo: tradeNo,
            paidAt,
            source: 'notification',
            notificationId,
            raw: { notificationId, paymentId, status: 'succeeded', amount, currency, channelTradeNo: tradeNo, occurredAt: paidAt },
          },
          metadata: { now },
        };
      },
    });
    if (applyToOrder) {
      steps.push({
        aggregate: 'order',
        stream: order,
        command: (now) => ({ type: 'ApplyPaymentSuccess', data: { orderId, paymentId, paidAt: paidAtOf(now), amount, currency }, metadata: { now } }),
      });
    }
  };
  const refund = (paymentId: string, reason: RefundReason, failFirst: boolean) => {
    const refundId = refundIdFor(paymentId);
    const stream = paymentStream(paymentId);
    steps.push({ aggregate: 'payment', stream, command: (now) => ({ type: 'RequestRefund', data: { paymentId, refundId, reason }, metadata: { now } }) });
    if (failFirst) {
      steps.push({
        aggregate: 'payment',
        stream,
        command: (now) => ({
          type: 'RecordRefundFailure',
          data: {
            paymentId,
            refundId,
            error: 'sandbox-wallet: POST refunds answered 503',
            final: false,
            maxAttempts: 20,
            retryAt: new Date(now.getTime() + 1000).toISOString(),
          },
          metadata: { now },
        }),
      });
    }
    steps.push({
      aggregate: 'payment',
      stream,
      command: (now) => ({
        type: 'RecordRefundSuccess',
        data: { paymentId, refundId, channelRefundNo: `RF${paymentId.slice(4, 24)}`, refunded: { amount, currency } },
        metadata: { now },
      }),
    });
  };

  /** The provider confirmed the trade unpaid after its watch window: final, no longer watched. */
  const endWatch = (paymentId: string, lastState: 'closed' | 'failed') => {
    steps.push({ aggregate: 'payment', stream: paymentStream(paymentId), command: (now) => ({ type: 'EndTradeWatch', data: { paymentId, lastState }, metadata: { now } }) });
  };

  const roll = random();
  const channel = CHANNELS[index % 2];
  if (roll < 0.7) {
    succeed(attempt(1, channel), true);
  } else if (roll < 0.8) {
    // Duplicate: paid on both channels; the second success is an anomaly, refunded.
    const first = attempt(1, CHANNELS[0]);
    const second = attempt(2, CHANNELS[1]);
    succeed(first, true);
    succeed(second, true);
    refund(second, 'duplicate-payment', false);
  } else if (roll < 0.88) {
    const failed = attempt(1, channel);
    steps.push({ aggregate: 'payment', stream: paymentStream(failed), command: (now) => ({ type: 'RecordPaymentFailure', data: { paymentId: failed, reason: 'PAYER_DECLINED', source: 'notification' }, metadata: { now } }) });
    endWatch(failed, 'failed');
    succeed(attempt(2, channel, [failed]), true);
  } else if (roll < 0.95) {
    const open = attempt(1, channel);
    steps.push({ aggregate: 'order', stream: order, command: (now) => ({ type: 'ExpireOrder', data: { orderId }, metadata: { now: new Date(now.getTime() + 3_600_000) } }) });
    steps.push({ aggregate: 'payment', stream: paymentStream(open), command: (now) => ({ type: 'RecordPaymentClosed', data: { paymentId: open }, metadata: { now } }) });
    endWatch(open, 'closed');
  } else if (roll < 0.98) {
    steps.push({ aggregate: 'order', stream: order, command: (now) => ({ type: 'CloseOrder', data: { orderId, reason: 'customer cancelled' }, metadata: { now } }) });
  } else {
    // Paid after expiry: the channel took the money late; the first refund attempt fails.
    const late = attempt(1, channel);
    steps.push({ aggregate: 'order', stream: order, command: (now) => ({ type: 'ExpireOrder', data: { orderId }, metadata: { now: new Date(now.getTime() + 3_600_000) } }) });
    succeed(late, true, 2 * 3_600_000);
    refund(late, 'paid-after-expiry', true);
  }
  return steps;
}

/** Writes at least `target` events into `store`, interleaving `inFlight` orders; returns how many it wrote. */
export async function fillLog(store: EventStore, target: number, options: { seed?: number; inFlight?: number; appendsPerCommit?: number } = {}): Promise<{ events: number; orders: number; streams: number }> {
  const random = rng(options.seed ?? 20261126);
  const inFlight = options.inFlight ?? 200;
  const appendsPerCommit = options.appendsPerCommit ?? 2000;
  const states = new Map<string, { state: OrderState | PaymentState; revision: number }>();
  const active: Step[][] = [];
  /** The streams of each story in flight: once it ends they are never written again, so their states are dropped (a fill of millions stays small). */
  const storyStreams = new Map<Step[], Set<string>>();
  let streams = 0;
  let clock = Date.parse('2026-11-01T08:00:00.000Z');
  let orders = 0;
  let written = 0;
  let pending: Promise<unknown>[] = [];

  const run = (step: Step): Append => {
    clock += 1 + Math.floor(random() * 40);
    const now = new Date(clock);
    const known = states.get(step.stream);
    let events: (OrderEvent | PaymentEvent)[];
    let state: OrderState | PaymentState;
    if (step.aggregate === 'order') {
      const before = (known?.state as OrderState | undefined) ?? initialOrderState;
      const decided = decideOrder(step.command(now), before);
      state = decided.reduce(evolveOrder, before);
      events = decided;
    } else {
      const before = (known?.state as PaymentState | undefined) ?? initialPaymentState;
      const decided = decidePayment(step.command(now), before);
      state = decided.reduce(evolvePayment, before);
      events = decided;
    }
    if (events.length === 0) throw new Error(`step on ${step.stream} decided nothing: the generator is out of step with the deciders`);
    const revision = known?.revision ?? -1;
    states.set(step.stream, { state, revision: revision + events.length });
    const occurredAt = now.toISOString();
    const correlationId = randomUUID();
    return {
      stream: step.stream,
      expected: revision < 0 ? 'no-stream' : revision,
      events: events.map((event) => ({
        eventId: randomUUID(),
        type: event.type,
        data: event.data as Record<string, unknown>,
        metadata: { occurredAt, correlationId, causationId: random() < 0.4 ? randomUUID() : null, schemaVersion: 1 },
      })),
    };
  };

  while (written < target || active.length > 0) {
    while (written < target && active.length < inFlight) {
      const steps = story(orders++, random);
      storyStreams.set(steps, new Set(steps.map((step) => step.stream)));
      active.push(steps);
    }
    const pick = Math.floor(random() * active.length);
    const steps = active[pick];
    const append = run(steps.shift() as Step);
    if (steps.length === 0) {
      active.splice(pick, 1);
      const ended = storyStreams.get(steps) as Set<string>;
      storyStreams.delete(steps);
      for (const stream of ended) states.delete(stream);
      streams += ended.size;
    }
    written += append.events.length;
    // Queued in the same turn, so the store commits them together (one transaction, one fsync).
    pending.push(store.append(append.stream, append.events, append.expected));
    if (pending.length >= appendsPerCommit) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  return { events: written, orders, streams };
}
