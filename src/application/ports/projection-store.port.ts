/**
 * The projection store port: where the reporting projections keep their rows and, beside them,
 * their checkpoints. Every adapter (memory, SQLite, PostgreSQL) applies a batch of changes and
 * moves the checkpoints of the projections it touches in ONE transaction, and only when the
 * stored checkpoint is where the caller says it is: a batch is applied exactly once, even when a
 * caller retries after losing the answer to a commit. Checked by test/int/projection-store.contract.ts.
 */
import type { AnomalyKind, OrderStatus } from '../../domain/order/order.events.js';
import type { RefundStatus } from '../../domain/payment/payment.events.js';

/**
 * A refund's status as the anomalies report shows it: the refund's own, or `resolved` once an
 * operator settled a failed one (refunded outside Payguard, or written off): no longer an open item.
 */
export type ReportedRefundStatus = RefundStatus | 'resolved';

/** The reporting projections, each with a checkpoint of its own. */
export type ProjectionName = 'orders' | 'anomalies' | 'settlement';
export const PROJECTION_NAMES: readonly ProjectionName[] = ['orders', 'anomalies', 'settlement'];

/**
 * What events do to a projection's rows (see reporting/report-changes.ts for which events). The
 * changes of one batch to one row are merged into one (reporting/report-changes.ts, mergeChanges),
 * so a batch costs a statement per row it touches, not per event.
 */
export type ReportChange = OrderChange | AnomalyChange | CapturedChange | RefundedChange;

/**
 * An order row: created by `placed` (ignored, like a repeated OrderPlaced, when the row exists),
 * counters added to, and ended (status, time, payer) when `ended` is given. Without `placed`, a
 * row that does not exist is left alone.
 */
export interface OrderChange {
  readonly kind: 'order';
  /** The row: the order's key (orderId, or merchantId.orderId: see orderKey). */
  readonly orderId: string;
  /**
   * For a change learned from a payment's event: the order as the payment names it, whose row is
   * the plain orderId when the order was placed with a merchant key before ids were scoped (the
   * row of that merchant's order only). Null: the row is `orderId` alone.
   */
  readonly legacy?: { readonly orderId: string; readonly merchantId: string } | null;
  readonly placed: {
    readonly merchantId: string | null;
    readonly amount: number;
    readonly currency: string;
    readonly createdAt: string;
    readonly expiresAt: string;
  } | null;
  readonly paymentsAdded: number;
  readonly anomaliesAdded: number;
  readonly refundedAdded: number;
  readonly ended: { readonly status: Exclude<OrderStatus, 'pending'>; readonly at: string; readonly paidBy: string | null } | null;
}

/** An anomaly row, created by `detected`; the refund's latest status and facts as they come. */
export interface AnomalyChange {
  readonly kind: 'anomaly';
  readonly paymentId: string;
  readonly detected: { readonly orderId: string; readonly anomalyKind: AnomalyKind; readonly detectedAt: string } | null;
  readonly refundStatus: ReportedRefundStatus | null;
  readonly refundRequested: { readonly at: string; readonly amount: number; readonly currency: string } | null;
  readonly refundFailuresAdded: number;
  readonly refundCompletedAt: string | null;
}

/** Money captured on a channel; counted once per payment. `day` is the day in the report time zone (YYYY-MM-DD). */
export interface CapturedChange {
  readonly kind: 'captured';
  readonly paymentId: string;
  readonly channel: string;
  readonly currency: string;
  readonly amount: number;
  readonly day: string;
}

/** Money given back; counted on the channel that captured the payment (`unknown` if none did). */
export interface RefundedChange {
  readonly kind: 'refunded';
  readonly paymentId: string;
  readonly currency: string;
  readonly amount: number;
  readonly day: string;
}

/** The changes one projection makes for events in (after, position]; position becomes its checkpoint. */
export interface ProjectionUpdate {
  readonly projection: ProjectionName;
  readonly after: number;
  readonly position: number;
  readonly changes: readonly ReportChange[];
}

export interface ProjectionCheckpoint {
  /** Last log position applied (0: nothing yet). */
  readonly position: number;
  /** Version of the projection's logic that built the rows (0: never built). */
  readonly version: number;
  /** The settings the rows were built under ('' for none; the settlement: its time zone), see projectionSettings. */
  readonly settings: string;
}

/** One order as the back office lists it. */
export interface OrderRow {
  readonly orderId: string;
  /** Its key (merchantId.orderId for an order placed with a merchant key): what an auditor names it by. */
  readonly orderKey: string;
  readonly merchantId: string | null;
  readonly status: OrderStatus;
  readonly amount: number;
  readonly currency: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly endedAt: string | null;
  readonly paidBy: string | null;
  readonly payments: number;
  readonly anomalies: number;
  readonly refundedAmount: number;
}

/** One detected anomaly and how its refund went. `refundStatus` is `none` until a refund is requested. */
export interface AnomalyRow {
  readonly paymentId: string;
  readonly orderId: string;
  readonly kind: AnomalyKind;
  readonly detectedAt: string;
  readonly refundStatus: 'none' | ReportedRefundStatus;
  readonly refundRequestedAt: string | null;
  readonly refundCompletedAt: string | null;
  readonly refundFailures: number;
  readonly amount: number | null;
  readonly currency: string | null;
}

/**
 * Money moved on one day (in the report time zone), on one channel, in one currency. The amounts are sums of many
 * payments, so they are exact decimal strings of minor units ("3998"), which may pass 2^53.
 */
export interface SettlementRow {
  readonly day: string;
  readonly channel: string;
  readonly currency: string;
  readonly capturedAmount: string;
  readonly capturedCount: number;
  readonly refundedAmount: string;
  readonly refundedCount: number;
}

/** Keyset paging: rows strictly after (`at`, `id`) in the listing's order (newest first). */
export interface PageAfter {
  readonly at: string;
  readonly id: string;
}

export interface OrdersQuery {
  readonly status?: OrderStatus;
  readonly merchantId?: string;
  /** createdAt >= from, < to (ISO 8601 UTC). */
  readonly from?: string;
  readonly to?: string;
  readonly after?: PageAfter;
  readonly limit: number;
}

export interface AnomaliesQuery {
  readonly kind?: AnomalyKind;
  /** detectedAt >= from, < to. */
  readonly from?: string;
  readonly to?: string;
  readonly after?: PageAfter;
  readonly limit: number;
}

export interface SettlementQuery {
  /** Inclusive days in the report time zone, YYYY-MM-DD. */
  readonly fromDay?: string;
  readonly toDay?: string;
}

/** Every table the projections keep, for comparing two stores row by row. */
export type ReportTable = 'orders' | 'anomalies' | 'settlement' | 'settlement-captures';
export const TABLES_OF: Readonly<Record<ProjectionName, readonly ReportTable[]>> = {
  orders: ['orders'],
  anomalies: ['anomalies'],
  settlement: ['settlement', 'settlement-captures'],
};

export interface KeyedRow {
  /** The row's primary key as one string; rows come in ascending code-point order of it. */
  readonly key: string;
  readonly row: Readonly<Record<string, unknown>>;
}

export interface ProjectionStore {
  checkpoints(): Promise<Record<ProjectionName, ProjectionCheckpoint>>;
  /**
   * In one transaction, for each update whose stored checkpoint is `after`: applies its changes and
   * sets the checkpoint to `position`. An update whose checkpoint is already at or past `position`
   * is skipped (applied before); any other stored position throws ProjectionOutOfStepError and
   * nothing of the call is applied. Resolves with every checkpoint after the call.
   */
  apply(updates: readonly ProjectionUpdate[]): Promise<Record<ProjectionName, ProjectionCheckpoint>>;
  /** Deletes the projection's rows and sets its checkpoint to 0 with `version` and `settings`, in one transaction. */
  reset(projection: ProjectionName, version: number, settings: string): Promise<void>;
  orders(query: OrdersQuery): Promise<OrderRow[]>;
  anomalies(query: AnomaliesQuery): Promise<AnomalyRow[]>;
  /** Sorted by day, channel, currency. */
  settlement(query: SettlementQuery): Promise<SettlementRow[]>;
  /** Up to `limit` rows of `table` with key > `afterKey`, by key. */
  rows(table: ReportTable, afterKey: string | null, limit: number): Promise<KeyedRow[]>;
  close(): Promise<void>;
}

export class ProjectionOutOfStepError extends Error {
  constructor(
    readonly projection: ProjectionName,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`projection ${projection}: expected checkpoint ${expected}, found ${actual} (reset or rebuilt by another process?)`);
    this.name = 'ProjectionOutOfStepError';
  }
}

export const PROJECTION_STORE = Symbol('ProjectionStore');
