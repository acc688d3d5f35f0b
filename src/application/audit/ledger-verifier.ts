/**
 * Checks the money invariants over the whole log, replaying it through the domain's own
 * deciders' evolve. Fed in log order, one event at a time, it keeps per order and per
 * payment only what the checks need (never the events), so memory grows with the number of
 * aggregates, not with the length of history.
 */
import { anomalyOf, orderDecider } from '../../domain/order/order.decider.js';
import type { AnomalyKind } from '../../domain/order/order.events.js';
import { paymentDecider } from '../../domain/payment/payment.decider.js';
import type { RefundRequested } from '../../domain/payment/payment.events.js';
import { isEventOf } from '../../domain/shared/decider.js';
import { orderKey, orderKeyOf, paymentIdOf, paymentStream } from '../../domain/shared/stream-names.js';
import { narrow, upcast, type StoredEvent } from '../event-sourcing/upcaster.js';
import type { RecordedEvent } from '../ports/event-store.port.js';
import type { Invariant, Violation, VerifyOptions, VerifyReport } from './ledger-invariants.js';
import { NO_ANOMALIES, orderState, paymentState, type AnomalySeen, type At, type OrderSummary, type PaymentSummary } from './ledger-summaries.js';

export type { Invariant, Violation, VerifyOptions, VerifyReport } from './ledger-invariants.js';

export class LedgerVerifier {
  private readonly orders = new Map<string, OrderSummary>();
  private readonly payments = new Map<string, PaymentSummary>();
  private readonly otherStreams = new Map<string, number>();
  private readonly anomalies = new Map<string, AnomalySeen>();
  private readonly currencies = new Map<string, string>();
  private readonly violations: Violation[] = [];
  private readonly counts: Partial<Record<Invariant, number>> = {};
  private violationCount = 0;
  private events = 0;
  private lastPosition = 0;
  /** The latest recorded time seen (ISO 8601 UTC, so text order is time order: no parsing per event). */
  private lastOccurredAt = '';
  private readonly graceMs: number;
  private readonly keep: number;
  private readonly gapFree: boolean;

  constructor(private readonly options: VerifyOptions = {}) {
    this.graceMs = (options.graceSeconds ?? 0) * 1000;
    this.keep = options.keep ?? 10_000;
    this.gapFree = (options.positions ?? 'gap-free') === 'gap-free';
  }

  /** Feeds the next event of the log (in position order). */
  add(recorded: RecordedEvent): void {
    const known = narrow(recorded);
    const event: RecordedEvent = known ?? upcast(recorded);
    this.events++;
    if (this.gapFree ? event.position !== this.lastPosition + 1 : event.position <= this.lastPosition) {
      this.report('position-gap', event, `position ${event.position} follows ${this.lastPosition}: ${this.gapFree ? `${event.position - this.lastPosition - 1} missing or ` : ''}out of order`);
    }
    this.lastPosition = event.position;
    if (event.metadata.occurredAt > this.lastOccurredAt) this.lastOccurredAt = event.metadata.occurredAt;

    const key = orderKeyOf(event.streamName);
    const paymentId = key === null ? paymentIdOf(event.streamName) : null;
    if (key !== null) this.addOrderEvent(key, event, known);
    else if (paymentId !== null) this.addPaymentEvent(paymentId, event, known);
    else {
      this.checkRevision(event, this.otherStreams.get(event.streamName) ?? -1);
      this.otherStreams.set(event.streamName, event.revision);
    }
  }

  /** The checks that need the whole log, then the report. */
  finish(): VerifyReport {
    const open = { awaitingRefund: 0, awaitingOrder: 0, refundsNotSucceeded: 0 };
    const youngAfter = Date.parse(this.lastOccurredAt) - this.graceMs;
    for (const [paymentId, payment] of this.payments) {
      if (payment.refund !== null && payment.refundSucceeded === 0) open.refundsNotSucceeded++;
      if (payment.successRevision < 0) continue;
      const order = payment.order;
      const young = payment.successAt > youngAfter;
      const at = { streamName: paymentStream(paymentId), revision: payment.successRevision, position: payment.successPosition };
      if (order === null || order.status === 'none') {
        this.report('success-not-applied', at, `payment ${paymentId} succeeded for order ${order?.orderId ?? '(none named)'}, which does not exist`);
        continue;
      }
      const { status, paidBy } = order;
      if (paidBy === paymentId) {
        if (payment.refund !== null) {
          this.report('retained-success-refunded', { streamName: paymentStream(paymentId), ...payment.refund }, `payment ${paymentId} is the one order ${order.orderId} kept (paidBy), yet it was refunded`);
        }
        continue;
      }
      const truth = this.truthOf(order, payment);
      if (payment.refund !== null) {
        if (!payment.refund.checkedReason && truth !== null && payment.refund.reason !== truth) {
          this.report('refund-reason', { streamName: paymentStream(paymentId), ...payment.refund }, `refund of payment ${paymentId} says ${payment.refund.reason}; order ${order.orderId} is ${status}: ${truth}`);
        }
        continue;
      }
      // A success that the order must not keep, and no refund requested.
      if (young) {
        if (status === 'pending' || !this.anomalies.has(paymentId)) open.awaitingOrder++;
        else open.awaitingRefund++;
        continue;
      }
      if (status === 'pending') {
        this.report('success-not-applied', at, `payment ${paymentId} succeeded but order ${order.orderId} is still pending: the success was never applied to it`);
      } else if (status === 'paid') {
        this.report('single-retained-success', at, `order ${order.orderId} is paid by ${paidBy} and also keeps payment ${paymentId}: no refund was requested`);
      } else {
        this.report('refund-missing', at, `payment ${paymentId} succeeded on ${status} order ${order.orderId} and was never refunded (${truth})`);
      }
    }
    return {
      events: this.events,
      lastPosition: this.lastPosition,
      orders: [...this.orders.values()].filter((order) => order.lastRevision >= 0).length,
      payments: this.payments.size,
      violationCount: this.violationCount,
      byInvariant: { ...this.counts },
      violations: [...this.violations],
      open,
    };
  }

  private addOrderEvent(key: string, event: RecordedEvent, known: StoredEvent | null): void {
    const order = this.order(key);
    this.checkRevision(event, order.lastRevision);
    order.lastRevision = event.revision;
    if (known === null || !isEventOf(orderDecider, known)) {
      this.report('unfoldable-event', event, `${event.type}: not an order event`);
      return;
    }
    const before = orderState(order);
    if (known.type === 'OrderPlaced') {
      order.expiresAt = known.data.expiresAt;
      order.amount = known.data.amount;
      order.currency = this.currency(known.data.currency);
    }
    if (known.type === 'OrderPaid' && before.status !== 'none') {
      const { paymentId } = known.data;
      const truth = this.truthOf(order, this.payments.get(paymentId));
      if (before.status === 'paid') {
        this.report('single-retained-success', event, `order records a second payment as paid (${paymentId}; already paid by ${before.paidBy})`);
      } else if (truth !== null) {
        this.report('refund-missing', event, `order was ${before.status} when it recorded payment ${paymentId} as paid: that success must be refunded (${truth})`);
      }
    }
    if (known.type === 'AnomalyDetected' && before.status !== 'none') {
      const { paymentId, kind } = known.data;
      const truth = this.truthOf(order, this.payments.get(paymentId));
      if (kind !== truth) {
        this.report('refund-reason', event, `anomaly on payment ${paymentId} recorded as ${kind}, but the order was ${before.status}${truth === null ? ' (no anomaly at all)' : `: ${truth}`}`);
      }
      if (!this.anomalies.has(paymentId)) this.anomalies.set(paymentId, { eventId: event.eventId, kind, truth });
    }
    const next = this.fold(event, () => orderDecider.evolve(before, known));
    if (next !== undefined && next.status !== 'none') {
      order.status = next.status;
      order.paidBy = next.paidBy === null ? null : (this.payments.get(next.paidBy)?.paymentId ?? next.paidBy);
      order.anomalies = next.anomalies.length === 0 ? NO_ANOMALIES : next.anomalies;
    }
  }

  private addPaymentEvent(paymentId: string, event: RecordedEvent, known: StoredEvent | null): void {
    let payment = this.payments.get(paymentId);
    if (payment === undefined) {
      payment = {
        status: 'none',
        refundState: null,
        lastRevision: -1,
        paymentId,
        order: null,
        successRevision: -1,
        successPosition: 0,
        capturedAmount: 0,
        capturedCurrency: '',
        successAt: 0,
        paidAt: '',
        refund: null,
        refundedAmount: 0,
        refundSucceeded: 0,
      };
      this.payments.set(paymentId, payment);
    }
    this.checkRevision(event, payment.lastRevision);
    payment.lastRevision = event.revision;
    if (known === null || !isEventOf(paymentDecider, known)) {
      this.report('unfoldable-event', event, `${event.type}: not a payment event`);
      return;
    }
    if (payment.order === null) payment.order = this.orderOfPayment(known.data.orderId, 'merchantId' in known.data ? known.data.merchantId : null);
    switch (known.type) {
      case 'PaymentSucceeded':
        if (payment.successRevision < 0) {
          payment.successRevision = event.revision;
          payment.successPosition = event.position;
          payment.capturedAmount = known.data.amount;
          payment.capturedCurrency = this.currency(known.data.currency);
          payment.successAt = Date.parse(event.metadata.occurredAt);
          payment.paidAt = known.data.paidAt;
        }
        break;
      case 'RefundRequested':
        this.checkRefundRequest(event, known.data, paymentId, payment);
        break;
      case 'RefundSucceeded':
        payment.refundSucceeded++;
        payment.refundedAmount += known.data.amount;
        if (payment.refundSucceeded > 1) this.report('refund-duplicated', event, `payment ${paymentId} refunded a ${ordinal(payment.refundSucceeded)} time: money given back twice`);
        this.checkWithinCapture(event, paymentId, payment, payment.refundedAmount, known.data.currency, 'refunds succeeded');
        break;
    }
    const before = paymentState(payment);
    const next = this.fold(event, () => paymentDecider.evolve(before, known));
    if (next !== undefined && next.status !== 'none') {
      payment.status = next.status;
      payment.refundState = next.refund;
    }
  }

  /**
   * The order a payment names: by its merchant and id (ids are scoped by merchant), or, for an
   * order placed with a merchant key before that, at its unscoped key, if the log holds it there.
   */
  private orderOfPayment(orderId: string, merchantId: string | null): OrderSummary {
    if (merchantId === null) return this.order(orderId);
    const scoped = orderKey(orderId, merchantId);
    return this.orders.has(scoped) || !this.orders.has(orderId) ? this.order(scoped) : this.order(orderId);
  }

  /** The summary of an order (by its key), created empty (status none) when first named. */
  private order(orderId: string): OrderSummary {
    let order = this.orders.get(orderId);
    if (order === undefined) {
      order = { orderId, status: 'none', paidBy: null, anomalies: NO_ANOMALIES, lastRevision: -1, expiresAt: '', amount: 0, currency: '' };
      this.orders.set(orderId, order);
    }
    return order;
  }

  /** One string per currency code, however many payments carry it. */
  private currency(code: string): string {
    let known = this.currencies.get(code);
    if (known === undefined) {
      known = code;
      this.currencies.set(code, code);
    }
    return known;
  }

  /**
   * The anomaly the decider makes of this payment's success on the order as it stands (null: the
   * order keeps it). Without a recorded capture (a log that lost it), the order's status alone decides.
   */
  private truthOf(order: OrderSummary, payment: PaymentSummary | undefined): AnomalyKind | null {
    if (order.status === 'none') return null;
    const captured = payment !== undefined && payment.successRevision >= 0;
    const success = captured
      ? { paidAt: payment.paidAt, amount: payment.capturedAmount, currency: payment.capturedCurrency }
      : { paidAt: order.expiresAt, amount: order.amount, currency: order.currency };
    return anomalyOf({ status: order.status, expiresAt: order.expiresAt, amount: order.amount, currency: order.currency }, success);
  }

  private checkRefundRequest(event: RecordedEvent, data: RefundRequested['data'], paymentId: string, payment: PaymentSummary): void {
    const at = { revision: event.revision, position: event.position };
    if (payment.refund !== null) {
      this.report('refund-duplicated', event, `payment ${paymentId} has a second refund request (the first at revision ${payment.refund.revision})`);
      return;
    }
    const anomaly = this.anomalies.get(paymentId);
    if (anomaly === undefined || event.metadata.causationId !== anomaly.eventId) {
      this.report(
        'refund-without-cause',
        event,
        anomaly === undefined
          ? `refund of payment ${paymentId} requested with no AnomalyDetected for it recorded before`
          : `refund of payment ${paymentId} names ${event.metadata.causationId ?? 'no event'} as its cause, not its AnomalyDetected ${anomaly.eventId}`,
      );
    }
    // With its anomaly known, the reason is checked now; without, against the order's final state.
    const truth = anomaly?.truth ?? null;
    const checkedReason = anomaly !== undefined;
    if (checkedReason && truth !== null && data.reason !== truth) {
      this.report('refund-reason', event, `refund of payment ${paymentId} says ${data.reason}; when the success arrived it was ${truth}`);
    }
    payment.refund = { ...at, reason: data.reason, checkedReason };
    this.checkWithinCapture(event, paymentId, payment, data.amount, data.currency, 'refund requested');
  }

  private checkWithinCapture(event: RecordedEvent, paymentId: string, payment: PaymentSummary, amount: number, currency: string, what: string): void {
    if (payment.successRevision < 0) {
      this.report('refund-exceeds-capture', event, `${what} on payment ${paymentId}, which never captured anything`);
    } else if (currency !== payment.capturedCurrency) {
      this.report('refund-exceeds-capture', event, `${what} in ${currency} on payment ${paymentId}, captured in ${payment.capturedCurrency}`);
    } else if (amount > payment.capturedAmount) {
      this.report('refund-exceeds-capture', event, `${what} ${amount} ${currency} on payment ${paymentId}, which captured ${payment.capturedAmount} ${currency}`);
    }
  }

  private checkRevision(event: RecordedEvent, lastRevision: number): void {
    if (event.revision !== lastRevision + 1) {
      this.report('revision-gap', event, `revision ${event.revision} follows ${lastRevision < 0 ? 'nothing (a stream starts at 0)' : lastRevision}`);
    }
  }

  private fold<S>(event: RecordedEvent, evolve: () => S): S | undefined {
    try {
      return evolve();
    } catch (error) {
      this.report('unfoldable-event', event, `${event.type}: ${(error as Error).message}`);
      return undefined;
    }
  }

  private report(invariant: Invariant, at: { readonly streamName: string } & At, detail: string): void {
    const violation: Violation = { invariant, streamName: at.streamName, revision: at.revision, position: at.position, detail };
    this.violationCount++;
    this.counts[invariant] = (this.counts[invariant] ?? 0) + 1;
    if (this.violations.length < this.keep) this.violations.push(violation);
    this.options.onViolation?.(violation);
  }
}

function ordinal(n: number): string {
  return n === 2 ? 'second' : n === 3 ? 'third' : `${n}th`;
}

