/**
 * What the application tells the operators' metrics about, in business terms; the Prometheus
 * registry behind it lives in infrastructure (src/infrastructure/http/metrics.ts). With
 * METRICS_ENABLED=false it is a port that keeps nothing, and `enabled` says so.
 */
export interface OperationsMetrics {
  readonly enabled: boolean;
  /** An AnomalyDetected in the log. */
  anomalyDetected(kind: string): void;
  /** A refund fact in the log: requested, an attempt failed (retried), failed for good, succeeded, resolved by an operator. */
  refundRecorded(outcome: RefundOutcome): void;
  /** An order fact in the log. */
  orderRecorded(outcome: OrderOutcome): void;
  /** An OrderExpired in the log: seconds from the order's expiresAt to when its expiry was recorded. */
  expiryRecorded(lagSeconds: number): void;
  /** One reconciliation sweep: what it found and did, or null when it failed. */
  sweepRan<T extends Record<keyof T, number>>(findings: T | null): void;
}

export type RefundOutcome = 'requested' | 'attempt_failed' | 'failed' | 'succeeded' | 'resolved';
export type OrderOutcome = 'placed' | 'paid' | 'expired' | 'closed';

export const OPERATIONS_METRICS = Symbol('OperationsMetrics');

/** The port when metrics are off: every call does nothing. */
export const NO_METRICS: OperationsMetrics = {
  enabled: false,
  anomalyDetected: () => undefined,
  refundRecorded: () => undefined,
  orderRecorded: () => undefined,
  expiryRecorded: () => undefined,
  sweepRan: () => undefined,
};
