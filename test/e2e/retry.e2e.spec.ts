import { eventsOfOrder, logHead, readLog } from '../support/audit-log.js';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';

const PROBLEMS = 'https://payguard.dev/problems/';

// A payment needs a minute of validity left here, so "too little" needs no race with the clock.
describe('paying an order again', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ PAYMENT_MIN_VALIDITY_SECONDS: '60' });
  });
  afterAll(() => app.close());

  async function placeOrder(orderId: string, extra: Record<string, unknown> = {}) {
    const order = await app.request('POST', '/orders', { orderId, amount: 990, currency: 'JPY', ...extra });
    expect(order.status).toBe(201);
    return order.body;
  }

  describe('a retry on the same channel', () => {
    it('reuses the open trade: 200 with the same paymentId and payUrl', async () => {
      await placeOrder('retry-same');
      const first = await app.request('POST', '/orders/retry-same/payments', { channel: 'sandbox-bank' });
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ orderId: 'retry-same', channel: 'sandbox-bank', status: 'pending', amount: 990, currency: 'JPY' });

      const again = await app.request('POST', '/orders/retry-same/payments', { channel: 'sandbox-bank' });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
      expect(again.body.payUrl).toBe(first.body.payUrl);

      const log = await readLog(app);
      expect(eventsOfOrder(log, 'retry-same', 'PaymentInitiated')).toHaveLength(1);
      expect(eventsOfOrder(log, 'retry-same', 'PaymentAttemptStarted')).toHaveLength(1);
    });

    it('reuses one trade for 10 concurrent requests', async () => {
      await placeOrder('retry-concurrent');
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => app.request('POST', '/orders/retry-concurrent/payments', { channel: 'sandbox-wallet' })),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual([...Array(9).fill(200), 201]);
      expect(new Set(answers.map((answer) => answer.body.paymentId)).size).toBe(1);
      expect(new Set(answers.map((answer) => answer.body.payUrl)).size).toBe(1);

      await app.settle();
      const log = await readLog(app);
      expect(eventsOfOrder(log, 'retry-concurrent', 'PaymentInitiated')).toHaveLength(1);
      expect(eventsOfOrder(log, 'retry-concurrent', 'PaymentAttemptStarted')).toHaveLength(1);
      expect((await app.request('GET', '/orders/retry-concurrent')).body.payments).toHaveLength(1);
    });

    it('opens a new attempt once the previous one failed', async () => {
      await placeOrder('retry-after-failure');
      const failed = await app.request('POST', '/orders/retry-after-failure/payments', { channel: 'sandbox-bank' });
      const declined = await app.request('POST', `/sandbox/pay/${failed.body.paymentId}`, { outcome: 'fail' });
      expect(declined.body.status).toBe('FAILED');
      await eventually(
        () => app.request('GET', `/payments/${failed.body.paymentId}`),
        (answer) => answer.body.status === 'failed',
        10_000,
        'the notified failure',
      );

      const retry = await app.request('POST', '/orders/retry-after-failure/payments', { channel: 'sandbox-bank' });
      expect(retry.status).toBe(201);
      expect(retry.body.paymentId).not.toBe(failed.body.paymentId);
      expect(retry.body.status).toBe('pending');
      expect((await app.pay(retry.body.paymentId)).status).toBe(200);
      const paid = await eventually(
        () => app.request('GET', '/orders/retry-after-failure'),
        (answer) => answer.body.status === 'paid',
        10_000,
        'the retried payment',
      );
      expect(paid.body).toMatchObject({ paidBy: retry.body.paymentId, anomalies: [], refunds: [] });
    });
  });

  describe('a payment on another channel', () => {
    it('opens a new attempt (201)', async () => {
      await placeOrder('retry-other-channel');
      const bank = await app.request('POST', '/orders/retry-other-channel/payments', { channel: 'sandbox-bank' });
      const wallet = await app.request('POST', '/orders/retry-other-channel/payments', { channel: 'sandbox-wallet' });
      expect([bank.status, wallet.status]).toEqual([201, 201]);
      expect(wallet.body.paymentId).not.toBe(bank.body.paymentId);
      expect(wallet.body.payUrl).not.toBe(bank.body.payUrl);
      expect(wallet.body).toMatchObject({ channel: 'sandbox-wallet', status: 'pending' });

      const order = await app.request('GET', '/orders/retry-other-channel');
      expect(order.body.payments.map((payment: { paymentId: string }) => payment.paymentId)).toEqual([bank.body.paymentId, wallet.body.paymentId]);
    });
  });

  describe('the payment page check (checkout)', () => {
    it('says pay, then confirm-previous-attempt with the attempt, then show-result once paid', async () => {
      await placeOrder('retry-checkout');
      const fresh = await app.request('GET', '/orders/retry-checkout/checkout');
      expect(fresh.status).toBe(200);
      expect(fresh.body).toMatchObject({ orderId: 'retry-checkout', status: 'pending', action: 'pay' });
      expect(fresh.body.remainingSeconds).toBeGreaterThan(60);
      expect(fresh.body.payment).toBeUndefined();

      const attempt = await app.request('POST', '/orders/retry-checkout/payments', { channel: 'sandbox-bank' });
      const inFlight = await app.request('GET', '/orders/retry-checkout/checkout');
      expect(inFlight.body).toMatchObject({ status: 'pending', action: 'confirm-previous-attempt', payment: attempt.body });

      expect((await app.pay(attempt.body.paymentId)).status).toBe(200);
      const done = await eventually(
        () => app.request('GET', '/orders/retry-checkout/checkout'),
        (answer) => answer.body.action !== 'confirm-previous-attempt',
        10_000,
        'checkout after the payment',
      );
      expect(done.body).toMatchObject({
        status: 'paid',
        action: 'show-result',
        payment: { paymentId: attempt.body.paymentId, status: 'succeeded' },
      });
    });
  });

  describe('an order with too little validity left', () => {
    it('refuses a payment with 422 validity-too-short and records nothing', async () => {
      await placeOrder('retry-too-short', { expiresInSeconds: 30 });
      await app.settle();
      const head = await logHead(app);

      const refused = await app.request('POST', '/orders/retry-too-short/payments', { channel: 'sandbox-bank' });
      expect(refused.status).toBe(422);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.body).toMatchObject({ type: `${PROBLEMS}validity-too-short`, status: 422, minimumSeconds: 60 });
      expect(refused.body.remainingSeconds).toBeLessThanOrEqual(30);
      expect(await logHead(app)).toBe(head);
      expect((await app.request('GET', '/orders/retry-too-short')).body).toMatchObject({ status: 'pending', payments: [] });
    });
  });
});
