/**
 * `payguard reconcile`: the log against the providers, which hold the money. Fed the log in order
 * (one event at a time, keeping per payment only what the comparison needs), it then asks each
 * channel about every trade the log does not hold final (open, closed or failed and still
 * watched, or an attempt with no payment stream), every trade the log says its order keeps, and
 * every refund not settled, and reports each difference. `all` asks about every trade and every
 * refund in history instead.
 */
import { orderKey, orderKeyOf, refundIdFor } from '../../domain/shared/stream-names.js';
import { narrow } from '../event-sourcing/upcaster.js';
import type { PaymentChannel, RefundState, TradeState } from '../ports/channel.port.js';
import type { RecordedEvent } from '../ports/event-store.port.js';

/** What the log and the provider disagree about, each a stable code. */
export type Difference =
  /** The provider holds money on a trade the log does not record as paid. */
  | 'capture-unrecorded'
  /** The log says the order keeps this payment; the provider says it is not paid. */
  | 'kept-not-paid'
  /** The provider captured another amount or currency than the log records. */
  | 'amount-differs'
  /** The log says the order keeps this payment; the provider has refunded (some of) it. */
  | 'kept-but-refunded'
  /** A trade of an order that ended can still be paid at the provider. */
  | 'payable-after-end'
  /** The log records a refund as succeeded; the provider does not know it, or refunded another amount. */
  | 'refund-differs'
  /** The provider refunded what the log does not record as refunded. */
  | 'refund-unrecorded'
  /** The provider could not be asked (unreachable, or the channel is not offered here): nothing can be said. */
  | 'unverified';

export interface ReconcileFinding {
  readonly difference: Difference;
  readonly paymentId: string;
  readonly orderId: string;
  readonly channel: string;
  readonly detail: string;
}

export interface ReconcileReport {
  readonly events: number;
  readonly payments: number;
  readonly tradesAsked: number;
  readonly refundsAsked: number;
  readonly differences: number;
  readonly byDifference: Partial<Record<Difference, number>>;
}

export interface ReconcileOptions {
  /** Ask about every trade and refund in history, not only those the log does not hold final. */
  readonly all?: boolean;
  /** A capture younger than this (by the provider's paidAt) may still be on its way to the log: not a difference. */
  readonly graceSeconds?: number;
  readonly now?: () => Date;
  readonly onFinding?: (finding: ReconcileFinding) => void | Promise<void>;
}

/** What is kept of a payment: just what the comparison reads. */
interface PaymentSummary {
  orderId: string;
  /** Its order's key (see orderKey), from the attempt on the order's stream. */
  orderKey: string;
  channel: string;
  amount: number;
  currency: string;
  /** none: an attempt on its order, with no payment stream. */
  status: 'none' | 'pending' | 'succeeded' | 'failed' | 'closed';
  watchEnded: boolean;
  capturedAmount: number;
  capturedCurrency: string;
  refund: { status: 'requested' | 'succeeded' | 'failed'; refundedAmount: number; settled: boolean } | null;
}

interface OrderSummary {
  status: 'pending' | 'paid' | 'expired' | 'closed';
  paidBy: string | null;
}

export class ProviderReconciler {
  private readonly payments = new Map<string, PaymentSummary>();
  private readonly orders = new Map<string, OrderSummary>();
  private events = 0;

  /** Feeds the next event of the log (in position order). */
  add(recorded: RecordedEvent): void {
    const event = narrow(recorded);
    this.events++;
    // A type this release does not know says nothing about a trade.
    if (event === null) return;
    switch (event.type) {
      case 'OrderPlaced':
        this.orders.set(orderKeyOf(recorded.streamName) ?? event.data.orderId, { status: 'pending', paidBy: null });
        return;
      case 'OrderPaid': {
        const { paymentId } = event.data;
        return this.order(recorded.streamName, (order) => ((order.status = 'paid'), (order.paidBy = paymentId)));
      }
      case 'OrderExpired':
        return this.order(recorded.streamName, (order) => (order.status = 'expired'));
      case 'OrderClosed':
        return this.order(recorded.streamName, (order) => (order.status = 'closed'));
      case 'PaymentAttemptStarted':
      case 'PaymentInitiated': {
        const { paymentId, orderId, channel, amount, currency } = event.data;
        const known = this.payments.get(paymentId);
        const status = event.type === 'PaymentInitiated' ? 'pending' : (known?.status ?? 'none');
        // The attempt is on its order's stream, which names the order exactly; a payment stream of a
        // release before attempts were recorded there belongs to an order not scoped by merchant.
        const ofOrder =
          event.type === 'PaymentAttemptStarted' ? (orderKeyOf(recorded.streamName) ?? orderId) : (known?.orderKey ?? orderKey(orderId, null));
        this.payments.set(paymentId, {
          capturedAmount: 0,
          capturedCurrency: '',
          refund: null,
          watchEnded: false,
          ...known,
          orderId,
          orderKey: ofOrder,
          channel,
          amount,
          currency,
          status: known !== undefined && known.status !== 'none' ? known.status : status,
        });
        return;
      }
      case 'PaymentSucceeded': {
        const { amount, currency } = event.data;
        return this.payment(event.data.paymentId, (payment) => {
          if (payment.status === 'succeeded') return;
          payment.status = 'succeeded';
          payment.capturedAmount = amount;
          payment.capturedCurrency = currency;
        });
      }
      case 'PaymentFailed':
        return this.payment(event.data.paymentId, (payment) => payment.status === 'pending' && (payment.status = 'failed'));
      case 'PaymentClosed':
        return this.payment(event.data.paymentId, (payment) => payment.status === 'pending' && (payment.status = 'closed'));
      case 'PaymentWatchEnded':
        return this.payment(event.data.paymentId, (payment) => (payment.watchEnded = true));
      case 'RefundRequested':
        return this.payment(event.data.paymentId, (payment) => (payment.refund = { status: 'requested', refundedAmount: 0, settled: false }));
      case 'RefundFailed': {
        const { final } = event.data;
        return this.refund(event.data.paymentId, (refund) => (refund.status = final ? 'failed' : 'requested'));
      }
      case 'RefundSucceeded': {
        const { amount, requestedAmount } = event.data;
        return this.refund(event.data.paymentId, (refund) => {
          refund.refundedAmount = amount;
          refund.status = amount < requestedAmount ? 'failed' : 'succeeded';
        });
      }
      case 'RefundResolved': {
        const { resolution } = event.data;
        return this.refund(event.data.paymentId, (refund) => {
          if (resolution === 'retry') refund.status = 'requested';
          else refund.settled = true;
        });
      }
      default:
        return;
    }
  }

  /** Asks the channels; reports each difference through `onFinding` and in the summary. */
  async check(channelOf: (id: string) => PaymentChannel | undefined, options: ReconcileOptions = {}): Promise<ReconcileReport> {
    const now = (options.now ?? (() => new Date()))().getTime();
    const graceMs = (options.graceSeconds ?? 0) * 1000;
    const byDifference: Partial<Record<Difference, number>> = {};
    let differences = 0;
    let tradesAsked = 0;
    let refundsAsked = 0;
    for (const [paymentId, payment] of this.payments) {
      const order = this.orders.get(payment.orderKey);
      const kept = order?.paidBy === paymentId;
      const openTrade = payment.status !== 'succeeded' && !payment.watchEnded;
      const openRefund = payment.refund !== null && payment.refund.status !== 'succeeded' && !payment.refund.settled;
      if (!(options.all === true || openTrade || kept || openRefund)) continue;
      const found: ReconcileFinding[] = [];
      const report = (difference: Difference, detail: string) =>
        found.push({ difference, paymentId, orderId: payment.orderId, channel: payment.channel, detail });
      const channel = channelOf(payment.channel);
      if (channel === undefined) {
        report('unverified', `channel ${payment.channel} is not offered by this configuration`);
      } else {
        try {
          tradesAsked++;
          this.compareTrade(payment, order, kept, await channel.queryTrade(paymentId), now, graceMs, report);
          if (payment.refund !== null) {
            refundsAsked++;
            this.compareRefund(payment, await channel.queryRefund(paymentId, refundIdFor(paymentId)), report);
          }
        } catch (error) {
          report('unverified', `the provider could not be asked: ${(error as Error).message}`);
        }
      }
      for (const finding of found) {
        differences++;
        byDifference[finding.difference] = (byDifference[finding.difference] ?? 0) + 1;
        await options.onFinding?.(finding);
      }
    }
    return { events: this.events, payments: this.payments.size, tradesAsked, refundsAsked, differences, byDifference };
  }

  private compareTrade(
    payment: PaymentSummary,
    order: OrderSummary | undefined,
    kept: boolean,
    trade: TradeState,
    now: number,
    graceMs: number,
    report: (difference: Difference, detail: string) => void,
  ): void {
    const ended = order !== undefined && order.status !== 'pending';
    if (trade.state !== 'paid') {
      // A provider may report a trade refunded in full as closed (Alipay does): nothing held, as the log says.
      const refundedInFull = payment.refund?.status === 'succeeded';
      if (kept) report('kept-not-paid', `the order keeps it; the provider says ${trade.state}`);
      else if (payment.status === 'succeeded' && !refundedInFull) report('refund-unrecorded', `the log records it captured and not yet refunded; the provider says ${trade.state}`);
      else if (trade.state === 'pending' && ended) report('payable-after-end', `order ${payment.orderId} is ${order.status}, its trade still waits for the payer`);
      return;
    }
    if (payment.status !== 'succeeded') {
      // A capture still on its way (notification or sweep) is no difference yet.
      if (now - Date.parse(trade.paidAt) >= graceMs) {
        report('capture-unrecorded', `the provider captured ${trade.amount.amount} ${trade.amount.currency} at ${trade.paidAt}; the log says ${payment.status}`);
      }
      return;
    }
    if (trade.amount.amount !== payment.capturedAmount || trade.amount.currency !== payment.capturedCurrency) {
      report('amount-differs', `the log records ${payment.capturedAmount} ${payment.capturedCurrency} captured; the provider ${trade.amount.amount} ${trade.amount.currency}`);
    }
    if (kept && (trade.refundedAmount ?? 0) > 0) {
      report('kept-but-refunded', `the order keeps it, yet the provider has refunded ${trade.refundedAmount} of it`);
    }
  }

  private compareRefund(payment: PaymentSummary, refund: RefundState, report: (difference: Difference, detail: string) => void): void {
    const recorded = payment.refund!;
    if (refund.state === 'succeeded') {
      if (recorded.refundedAmount === 0) report('refund-unrecorded', `the provider refunded ${refund.amount.amount} ${refund.amount.currency}; the log says the refund is ${recorded.status}`);
      else if (refund.amount.amount !== recorded.refundedAmount) {
        report('refund-differs', `the log records ${recorded.refundedAmount} refunded; the provider ${refund.amount.amount}`);
      }
    } else if (recorded.refundedAmount > 0) {
      report('refund-differs', `the log records ${recorded.refundedAmount} refunded; the provider says the refund is ${refund.state}`);
    }
  }

  private order(streamName: string, update: (order: OrderSummary) => void): void {
    const order = this.orders.get(orderKeyOf(streamName) ?? '');
    if (order !== undefined) update(order);
  }



  private payment(paymentId: string, update: (payment: PaymentSummary) => void): void {
    const payment = this.payments.get(paymentId);
    if (payment !== undefined) update(payment);
  }

  private refund(paymentId: string, update: (refund: NonNullable<PaymentSummary['refund']>) => void): void {
    const refund = this.payments.get(paymentId)?.refund;
    if (refund !== null && refund !== undefined) update(refund);
  }
}
