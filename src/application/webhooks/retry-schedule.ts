import type { AttemptOutcome, Delivery, DeliveryAttempt } from '../ports/webhook-store.port.js';

/** Retries go on for at least this long after the first try (or the last resend), then the delivery is `failed`. */
export const RETRY_WINDOW_MS = 24 * 3600 * 1000;
const FIRST_GAP_MS = 1_000;
const LONGEST_GAP_MS = 3600 * 1000;

/**
 * What a try of `delivery` made at `at` leads to. Each gap is as long as the time already spent
 * retrying (1 s at first, so tries come at about 0, 1, 2, 4, 8 s...), at most an hour: a receiver
 * that hiccuped gets the event within seconds, one that is down for a day is not hammered.
 */
export function afterAttempt(delivery: Delivery, attempt: DeliveryAttempt, acknowledged: boolean, at: Date): AttemptOutcome {
  const retriesSince = delivery.retriesSince ?? at.toISOString();
  if (acknowledged) return { attempt, status: 'succeeded', nextAttemptAt: null, retriesSince };
  const elapsed = at.getTime() - Date.parse(retriesSince);
  if (elapsed >= RETRY_WINDOW_MS) return { attempt, status: 'failed', nextAttemptAt: null, retriesSince };
  const gap = Math.min(Math.max(elapsed, FIRST_GAP_MS), LONGEST_GAP_MS);
  return { attempt, status: 'pending', nextAttemptAt: new Date(at.getTime() + gap).toISOString(), retriesSince };
}

/** Any 2xx acknowledges a delivery; a redirect does not (it is not followed). */
export const acknowledges = (statusCode: number): boolean => statusCode >= 200 && statusCode < 300;
