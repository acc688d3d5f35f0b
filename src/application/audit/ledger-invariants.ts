/** What `payguard verify` checks and reports: the invariants' codes and the report's shape. */

/** The invariants `payguard verify` checks, each a stable code. */
export type Invariant =
  /** An order keeps at most one successful payment: it records one OrderPaid, and every other success is refunded. */
  | 'single-retained-success'
  /** A success on an expired or closed order (or one the order recorded as paid after it ended) is refunded. */
  | 'refund-missing'
  /** A refund's reason is the anomaly the order was in when the success arrived; an anomaly's kind matches that too. */
  | 'refund-reason'
  /** A payment is refunded at most once: one RefundRequested, one RefundSucceeded. */
  | 'refund-duplicated'
  /** A refund gives back no more than was captured, in the same currency, and only on a captured payment. */
  | 'refund-exceeds-capture'
  /** Every RefundRequested is caused by (metadata.causationId) the AnomalyDetected of its payment, recorded before it. */
  | 'refund-without-cause'
  /** The success an order kept (its paidBy) is never refunded. */
  | 'retained-success-refunded'
  /** A success the order never heard of: the process manager did not apply it. */
  | 'success-not-applied'
  /** Each stream's revisions run 0, 1, 2, ... without gaps. */
  | 'revision-gap'
  /** The global log's positions run 1, 2, 3, ... without gaps (only increase, on a store whose positions have gaps). */
  | 'position-gap'
  /** The domain's evolve refused the event (an unknown type, an event before its aggregate began). */
  | 'unfoldable-event';

export interface Violation {
  readonly invariant: Invariant;
  readonly streamName: string;
  readonly revision: number;
  readonly position: number;
  readonly detail: string;
}

export interface VerifyOptions {
  /**
   * Seconds a repair may take: a success younger than this (against the last event of the log)
   * with no refund yet is reported as open work, not as a violation. 0 for a log at rest.
   */
  readonly graceSeconds?: number;
  /** Called with each violation as it is found (the report keeps the first `keep` of them). */
  readonly onViolation?: (violation: Violation) => void;
  readonly keep?: number;
  /**
   * What the store promises of positions: `gap-free` (SQLite, PostgreSQL, memory: 1, 2, 3, ...)
   * or `increasing` (EventStoreDB's commit positions). Default gap-free.
   */
  readonly positions?: 'gap-free' | 'increasing';
}

export interface VerifyReport {
  readonly events: number;
  readonly lastPosition: number;
  readonly orders: number;
  readonly payments: number;
  readonly violationCount: number;
  readonly byInvariant: Partial<Record<Invariant, number>>;
  /** The first violations (all of them unless there are more than `keep`). */
  readonly violations: readonly Violation[];
  /** Repairs under way, within the grace period: successes awaiting their refund request or their order. */
  readonly open: { readonly awaitingRefund: number; readonly awaitingOrder: number; readonly refundsNotSucceeded: number };
}
