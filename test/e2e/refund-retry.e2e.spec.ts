import { eventsOfPayment, readLog } from '../support/audit-log.js';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';

describe('a refund while the channel is down', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());
  afterEach(() => app.faults({}));

  it('is retried with backoff while the channel is down, and succeeds once it is back', async () => {
    expect((await app.request('POST', '/orders', { orderId: 'rr-dup', amount: 5000, currency: 'CNY', expiresInSeconds: 60 })).status).toBe(201);
    const bank = (await app.request('POST', '/orders/rr-dup/payments', { channel: 'sandbox-bank' })).body;
    const wallet = (await app.request('POST', '/orders/rr-dup/payments', { channel: 'sandbox-wallet' })).body;
    expect((await app.pay(bank.paymentId)).status).toBe(200);
    await eventually(() => app.request('GET', '/orders/rr-dup'), (answer) => answer.body.status === 'paid', 10_000, 'the first success');

    await app.faults({ apiDown: true });
    expect((await app.pay(wallet.paymentId)).status).toBe(200);

    // Two failed attempts: the first at once, the second when the first one's retry time came.
    const failures = (
      await eventually(
        () => readLog(app),
        (log) => eventsOfPayment(log, wallet.paymentId, 'RefundFailed').length >= 2,
        10_000,
        'two failed refund attempts',
      )
    ).filter((event) => event.type === 'RefundFailed' && event.data.paymentId === wallet.paymentId);
    expect(failures.slice(0, 2).map((event) => event.data)).toMatchObject([
      { refundId: `refund-${wallet.paymentId}`, attempt: 1 },
      { refundId: `refund-${wallet.paymentId}`, attempt: 2 },
    ]);
    // Backoff: each retry is scheduled twice as far out as the one before (1 s, then 2 s).
    const waits = failures.slice(0, 2).map((event) => Date.parse(event.data.retryAt) - Date.parse(event.data.failedAt));
    expect(waits).toEqual([1000, 2000]);
    const failing = await app.request('GET', '/orders/rr-dup');
    // Failed for now, not for good: the refund stays requested, with its error and the next attempt's time.
    expect(failing.body.refunds).toMatchObject([{ paymentId: wallet.paymentId, reason: 'duplicate-payment', status: 'requested', lastError: expect.stringContaining('503') }]);
    expect(failures.slice(0, 2).map((event) => event.data.final)).toEqual([false, false]);

    await app.faults({});
    const refunded = await eventually(
      () => app.request('GET', '/orders/rr-dup'),
      (answer) => answer.body.refunds[0]?.status === 'succeeded',
      10_000,
      'the retried refund',
    );
    expect(refunded.body).toMatchObject({
      status: 'paid',
      paidBy: bank.paymentId,
      anomalies: [{ kind: 'duplicate-payment', paymentId: wallet.paymentId }],
      refunds: [{ refundId: `refund-${wallet.paymentId}`, paymentId: wallet.paymentId, amount: 5000, currency: 'CNY', reason: 'duplicate-payment', status: 'succeeded' }],
    });

    await app.settle();
    const log = await readLog(app);
    expect(eventsOfPayment(log, wallet.paymentId, 'RefundRequested')).toHaveLength(1);
    expect(eventsOfPayment(log, wallet.paymentId, 'RefundSucceeded')).toHaveLength(1);
    const attempts = eventsOfPayment(log, wallet.paymentId, 'RefundFailed').map((event) => event.data.attempt);
    expect(attempts).toEqual(attempts.map((_, index) => index + 1));
    expect(eventsOfPayment(log, bank.paymentId).filter((event) => event.type.startsWith('Refund'))).toEqual([]);

    const walletTrade = await app.request('GET', `/sandbox/api/wallet/trades/${wallet.paymentId}`);
    expect(walletTrade.status).toBe(200);
    expect(walletTrade.body).toMatchObject({ status: 'PAID', refundedAmount: 5000 });
    expect(walletTrade.body.refunds).toMatchObject([{ outRequestNo: `refund-${wallet.paymentId}`, amount: 5000 }]);
    const bankTrade = await app.request('GET', `/sandbox/api/bank/trades/${bank.paymentId}`);
    expect(bankTrade.body).toMatchObject({ status: 'PAID', refundedAmount: 0, refunds: [] });
  });
});
