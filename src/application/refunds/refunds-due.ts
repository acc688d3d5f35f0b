import type { OpenRefund } from '../open-work/open-work.js';

/**
 * Which open refunds are due for another attempt, decided here only (the deadline timer and the
 * reconciliation sweep ask; the refund runner executes). A refund failed for good is never due:
 * it waits for an operator's resolution.
 */

/** Refunds whose failed attempt has reached its retryAt. */
export function refundsToRetry(openRefunds: Readonly<Record<string, OpenRefund>>, now: Date): string[] {
  return Object.entries(openRefunds)
    .filter(([, refund]) => !refund.failed && refund.retryAt !== null && Date.parse(refund.retryAt) <= now.getTime())
    .map(([paymentId]) => paymentId);
}

/**
 * Refunds requested before `staleBefore` (ms) that no attempt has followed: the runner missed
 * them (a crash between the request and its call), so the sweep has them executed.
 */
export function refundsNeverAttempted(openRefunds: Readonly<Record<string, OpenRefund>>, staleBefore: number): string[] {
  return Object.entries(openRefunds)
    .filter(([, refund]) => !refund.failed && refund.retryAt === null && Date.parse(refund.requestedAt) <= staleBefore)
    .map(([paymentId]) => paymentId);
}
