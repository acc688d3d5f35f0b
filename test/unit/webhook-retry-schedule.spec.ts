import type { Delivery } from '../../src/application/ports/webhook-store.port.js';
import { RETRY_WINDOW_MS, acknowledges, afterAttempt } from '../../src/application/webhooks/retry-schedule.js';

const T0 = Date.parse('2026-11-30T10:00:00.000Z');
const fresh: Delivery = {
  endpointId: 'we_a',
  eventId: 'event-1',
  type: 'order.paid',
  position: 1,
  status: 'pending',
  attempts: 0,
  history: [],
  nextAttemptAt: new Date(T0).toISOString(),
  retriesSince: null,
  createdAt: new Date(T0).toISOString(),
};
const failedTry = (at: number) => ({ at: new Date(at).toISOString(), statusCode: 500, error: null });

/** Follows a receiver that never acknowledges: the times of every try until the delivery is given up. */
function triesUntilGivenUp(): { tries: number[]; last: ReturnType<typeof afterAttempt> } {
  let delivery = fresh;
  let at = T0;
  const tries: number[] = [];
  for (;;) {
    tries.push(at);
    const outcome = afterAttempt(delivery, failedTry(at), false, new Date(at));
    if (outcome.nextAttemptAt === null) return { tries, last: outcome };
    delivery = { ...delivery, status: outcome.status, retriesSince: outcome.retriesSince, nextAttemptAt: outcome.nextAttemptAt };
    at = Date.parse(outcome.nextAttemptAt);
  }
}

describe('a webhook delivery the receiver does not acknowledge', () => {
  it('is retried first within seconds, then with gaps that grow to at most an hour', () => {
    const { tries } = triesUntilGivenUp();
    const gaps = tries.slice(1).map((at, i) => at - tries[i]);
    expect(gaps.slice(0, 6)).toEqual([1000, 1000, 2000, 4000, 8000, 16_000]);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThanOrEqual(gaps[i - 1]);
    expect(Math.max(...gaps)).toBe(3600 * 1000);
  });

  it('is given up as failed only once 24 hours of retries have passed', () => {
    const { tries, last } = triesUntilGivenUp();
    expect(last.status).toBe('failed');
    expect(tries[tries.length - 1] - T0).toBeGreaterThanOrEqual(RETRY_WINDOW_MS);
    expect(tries[tries.length - 2] - T0).toBeLessThan(RETRY_WINDOW_MS);
  });

  it('starts its retries over after a resend (retriesSince cleared)', () => {
    const later = T0 + 2 * RETRY_WINDOW_MS;
    const resent: Delivery = { ...fresh, status: 'pending', retriesSince: null, attempts: 30 };
    expect(afterAttempt(resent, failedTry(later), false, new Date(later))).toMatchObject({ status: 'pending', nextAttemptAt: new Date(later + 1000).toISOString() });
  });
});

describe('an answer', () => {
  it('acknowledges with any 2xx and nothing else (a redirect is not followed)', () => {
    expect([200, 201, 202, 204, 299].every(acknowledges)).toBe(true);
    expect([199, 301, 302, 400, 404, 500, 503].some(acknowledges)).toBe(false);
    const outcome = afterAttempt(fresh, { at: new Date(T0).toISOString(), statusCode: 204, error: null }, true, new Date(T0));
    expect(outcome).toMatchObject({ status: 'succeeded', nextAttemptAt: null });
  });
});
