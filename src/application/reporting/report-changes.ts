/**
 * What each event means for the reporting projections, as a pure function of the (upcast) event,
 * and how the changes of a batch merge. A projection's rows are a fold of these changes over the
 * log, so they can be rebuilt from zero at any time and give the same rows, whatever the batches.
 */
import { orderKey, orderKeyOf } from '../../domain/shared/stream-names.js';
import type { StoredEvent } from '../event-sourcing/upcaster.js';
import type { ReportDays } from './report-days.js';
import type { AnomalyChange, OrderChange, ProjectionName, ReportChange } from '../ports/projection-store.port.js';

/**
 * Bump a projection's version when what it makes of the log changes: on start, a projection whose
 * rows were built by another version is reset and rebuilt from the log.
 */
// anomalies 2: a transient refund failure leaves the refund requested; final failures, partial refunds and resolutions.
// settlement 2: sums stored as exact decimals (SQLite TEXT, PostgreSQL numeric), so they never round past 2^53.
// orders 2: rows keyed by the order's key (merchantId.orderId for a merchant's order), so merchants' orders of one id are two rows.
// settlement 3: days in REPORT_TIMEZONE (the providers' statement day), not UTC.
export const PROJECTION_VERSIONS: Readonly<Record<ProjectionName, number>> = { orders: 2, anomalies: 2, settlement: 3 };

/**
 * The settings a projection's rows depend on besides its logic, stored with its checkpoint: rows
 * built under other settings are reset and rebuilt, like rows of another version. The settlement's
 * days depend on the report time zone.
 */
export function projectionSettings(projection: ProjectionName, days: ReportDays): string {
  return projection === 'settlement' ? `timeZone=${days.timeZone}` : '';
}

/** `days`: the report time zone's days, which the settlement's rows are by. */
export function changesFor(projection: ProjectionName, event: StoredEvent, days: ReportDays): ReportChange[] {
  switch (projection) {
    case 'orders':
      return orderChanges(event);
    case 'anomalies':
      return anomalyChanges(event);
    case 'settlement':
      return settlementChanges(event, days);
  }
}

const orderChange = (orderId: string, change: Partial<Omit<OrderChange, 'kind' | 'orderId'>>): OrderChange[] => [
  { kind: 'order', orderId, legacy: null, placed: null, paymentsAdded: 0, anomaliesAdded: 0, refundedAdded: 0, ended: null, ...change },
];

function orderChanges(event: StoredEvent): ReportChange[] {
  // An order's own events name its row by their stream: merchants' orders of one id are two rows.
  const key = orderKeyOf(event.streamName) ?? event.data.orderId;
  switch (event.type) {
    case 'OrderPlaced': {
      const { merchantId, amount, currency, createdAt, expiresAt } = event.data;
      return orderChange(key, { placed: { merchantId, amount, currency, createdAt, expiresAt } });
    }
    case 'PaymentAttemptStarted':
      return orderChange(key, { paymentsAdded: 1 });
    case 'OrderPaid': {
      const { paymentId, paidAt } = event.data;
      return orderChange(key, { ended: { status: 'paid', at: paidAt, paidBy: paymentId } });
    }
    case 'OrderExpired':
      return orderChange(key, { ended: { status: 'expired', at: event.data.expiredAt, paidBy: null } });
    case 'OrderClosed':
      return orderChange(key, { ended: { status: 'closed', at: event.data.closedAt, paidBy: null } });
    case 'AnomalyDetected':
      return orderChange(key, { anomaliesAdded: 1 });
    case 'RefundSucceeded': {
      // A payment's event: its order by merchant and id, or that merchant's order from before ids were scoped.
      const { orderId, merchantId, amount } = event.data;
      return orderChange(orderKey(orderId, merchantId), { refundedAdded: amount, legacy: merchantId === null ? null : { orderId, merchantId } });
    }
    default:
      return [];
  }
}

const anomalyChange = (paymentId: string, change: Partial<Omit<AnomalyChange, 'kind' | 'paymentId'>>): AnomalyChange[] => [
  { kind: 'anomaly', paymentId, detected: null, refundStatus: null, refundRequested: null, refundFailuresAdded: 0, refundCompletedAt: null, ...change },
];

function anomalyChanges(event: StoredEvent): ReportChange[] {
  switch (event.type) {
    case 'AnomalyDetected': {
      const { paymentId, orderId, kind, detectedAt } = event.data;
      return anomalyChange(paymentId, { detected: { orderId, anomalyKind: kind, detectedAt } });
    }
    case 'RefundRequested': {
      const { paymentId, requestedAt, amount, currency } = event.data;
      return anomalyChange(paymentId, { refundStatus: 'requested', refundRequested: { at: requestedAt, amount, currency } });
    }
    case 'RefundFailed': {
      const { paymentId, final } = event.data;
      return anomalyChange(paymentId, { refundStatus: final ? 'failed' : 'requested', refundFailuresAdded: 1 });
    }
    case 'RefundSucceeded': {
      const { paymentId, completedAt, amount, requestedAmount } = event.data;
      // Less than asked stays an open item (failed) until an operator resolves it.
      return anomalyChange(paymentId, { refundStatus: amount < requestedAmount ? 'failed' : 'succeeded', refundCompletedAt: completedAt });
    }
    case 'RefundResolved': {
      const { paymentId, resolution } = event.data;
      return anomalyChange(paymentId, { refundStatus: resolution === 'retry' ? 'requested' : 'resolved' });
    }
    default:
      return [];
  }
}

/**
 * Captures count on the channel's day of payment, refunds on the day the refund completed, days in
 * the report time zone; the service's own record time when the channel's time can't be read.
 */
function settlementChanges(event: StoredEvent, days: ReportDays): ReportChange[] {
  const { occurredAt } = event.metadata;
  switch (event.type) {
    case 'PaymentSucceeded': {
      const { paymentId, channel, currency, amount, paidAt } = event.data;
      return [{ kind: 'captured', paymentId, channel, currency, amount, day: days.dayOfTime(paidAt, occurredAt) }];
    }
    case 'RefundSucceeded': {
      const { paymentId, currency, amount, completedAt } = event.data;
      return [{ kind: 'refunded', paymentId, currency, amount, day: days.dayOfTime(completedAt, occurredAt) }];
    }
    default:
      return [];
  }
}

/**
 * Merges a batch's changes to the same order or anomaly row into one change that has the same
 * effect as applying them one by one: counters add up, the latest end or refund fact wins, the
 * first creation counts. A creation after updates of the same row starts a new change, because
 * those updates may have found no row to update. Captures and refunds pass through (the store
 * sums captures per settlement row itself, once it knows which are new).
 */
export function mergeChanges(changes: readonly ReportChange[]): ReportChange[] {
  const merged: ReportChange[] = [];
  const latest = new Map<string, number>();
  for (const change of changes) {
    if (change.kind !== 'order' && change.kind !== 'anomaly') {
      merged.push(change);
      continue;
    }
    const key = change.kind === 'order' ? `o|${change.orderId}` : `a|${change.paymentId}`;
    const at = latest.get(key);
    if (at === undefined || (isCreation(change) && !isCreation(merged[at]))) {
      latest.set(key, merged.length);
      merged.push(change);
    } else {
      merged[at] = change.kind === 'order' ? mergeOrder(merged[at] as OrderChange, change) : mergeAnomaly(merged[at] as AnomalyChange, change);
    }
  }
  return merged;
}

function isCreation(change: ReportChange): boolean {
  return change.kind === 'order' ? change.placed !== null : change.kind === 'anomaly' && change.detected !== null;
}

function mergeOrder(first: OrderChange, next: OrderChange): OrderChange {
  return {
    kind: 'order',
    orderId: first.orderId,
    legacy: first.legacy ?? next.legacy ?? null,
    placed: first.placed ?? next.placed,
    paymentsAdded: first.paymentsAdded + next.paymentsAdded,
    anomaliesAdded: first.anomaliesAdded + next.anomaliesAdded,
    refundedAdded: first.refundedAdded + next.refundedAdded,
    ended: next.ended ?? first.ended,
  };
}

function mergeAnomaly(first: AnomalyChange, next: AnomalyChange): AnomalyChange {
  return {
    kind: 'anomaly',
    paymentId: first.paymentId,
    detected: first.detected ?? next.detected,
    refundStatus: next.refundStatus ?? first.refundStatus,
    refundRequested: next.refundRequested ?? first.refundRequested,
    refundFailuresAdded: first.refundFailuresAdded + next.refundFailuresAdded,
    refundCompletedAt: next.refundCompletedAt ?? first.refundCompletedAt,
  };
}
