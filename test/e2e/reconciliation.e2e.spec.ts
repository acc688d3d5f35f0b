import { eventsOfPayment, logHead, readLog } from '../support/audit-log.js';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';

/** A pending order (valid for a minute) with one attempt open on sandbox-bank. */
async function orderWithAttempt(app: TestApp, orderId: string, returnUrl?: string) {
  const order = await app.request('POST', '/orders', { orderId, amount: 3100, currency: 'CNY', expiresInSeconds: 60 });
  expect(order.status).toBe(201);
  const payment = await app.request('POST', `/orders/${orderId}/payments`, { channel: 'sandbox-bank', ...(returnUrl && { returnUrl }) });
  expect(payment.status).toBe(201);
  return payment.body as { paymentId: string };
}

describe('a payment whose notification never came', () => {
  describe('with the reconciliation sweep running every second', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startTestApp({ RECONCILE_INTERVAL_SECONDS: '1' });
    });
    afterAll(() => app.close());

    it('is found by the sweep, which asks the channel', async () => {
      const payment = await orderWithAttempt(app, 'rec-sweep');
      await app.faults({ dropNotifications: true });
      const paid = await app.pay(payment.paymentId);
      expect(paid.status).toBe(200);

      const settled = await eventually(
        () => app.request('GET', '/orders/rec-sweep'),
        (answer) => answer.body.status !== 'pending',
        10_000,
        'the sweep finding the payment',
      );
      expect(settled.body).toMatchObject({
        status: 'paid',
        paidBy: payment.paymentId,
        anomalies: [],
        refunds: [],
        payments: [{ paymentId: payment.paymentId, status: 'succeeded', channelTradeNo: paid.body.tradeNo }],
      });
      await app.settle();
      const succeeded = eventsOfPayment(await readLog(app), payment.paymentId, 'PaymentSucceeded');
      expect(succeeded.map((event) => event.data.source)).toEqual(['query']);
      // Recorded by the sweep, not by a caller's request.
      expect(succeeded[0].metadata.causationId).toBeNull();
    });
  });

  // The sweep runs only every minute here, so what is recorded is the caller's doing.
  describe('when someone asks', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startTestApp();
      await app.faults({ dropNotifications: true });
    });
    afterAll(() => app.close());

    it('is recorded at once by POST /payments/{id}/sync', async () => {
      const payment = await orderWithAttempt(app, 'rec-sync');
      expect((await app.pay(payment.paymentId)).status).toBe(200);
      expect((await app.request('GET', `/payments/${payment.paymentId}`)).body.status).toBe('pending');

      const synced = await app.request('POST', `/payments/${payment.paymentId}/sync`, undefined, { 'x-correlation-id': 'sync-rec-sync' });
      expect(synced.status).toBe(200);
      expect(synced.body).toMatchObject({ paymentId: payment.paymentId, orderId: 'rec-sync', status: 'succeeded', amount: 3100, currency: 'CNY' });
      expect(synced.body.paidAt).toEqual(expect.any(String));
      // Read-your-writes: the order is paid as soon as the sync has answered.
      expect((await app.request('GET', '/orders/rec-sync')).body).toMatchObject({ status: 'paid', paidBy: payment.paymentId });

      const [succeeded] = eventsOfPayment(await readLog(app), payment.paymentId, 'PaymentSucceeded');
      expect(succeeded.data.source).toBe('query');
      expect(succeeded.metadata.correlationId).toBe('sync-rec-sync');
    });

    it('is synced by the return page, which shows the result', async () => {
      const payment = await orderWithAttempt(app, 'rec-return-page');
      expect((await app.pay(payment.paymentId)).status).toBe(200);

      const page = await app.request('GET', `/channels/sandbox-bank/return?paymentId=${payment.paymentId}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.body).toContain('<strong data-order-status>paid</strong>');
      expect(page.body).toContain('<strong data-payment-status>succeeded</strong>');
      expect((await app.request('GET', '/orders/rec-return-page')).body).toMatchObject({ status: 'paid', paidBy: payment.paymentId });
    });

    it("is synced by the return page, which sends the payer on to the payment's returnUrl", async () => {
      const payment = await orderWithAttempt(app, 'rec-return-url', 'https://shop.example/orders/1001?lang=en');
      expect((await app.pay(payment.paymentId)).status).toBe(200);

      const page = await app.request('GET', `/channels/sandbox-bank/return?paymentId=${payment.paymentId}`);
      expect(page.status).toBe(302);
      const target = new URL(page.headers.get('location')!);
      expect(`${target.origin}${target.pathname}`).toBe('https://shop.example/orders/1001');
      expect(Object.fromEntries(target.searchParams)).toEqual({
        lang: 'en',
        orderId: 'rec-return-url',
        paymentId: payment.paymentId,
        status: 'paid',
      });
      expect((await app.request('GET', '/orders/rec-return-url')).body.status).toBe('paid');
    });
  });
});

describe('a payer returning without having paid', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('is shown that the payment is awaited, and nothing is marked paid', async () => {
    const payment = await orderWithAttempt(app, 'rec-unpaid');
    await app.settle();
    const head = await logHead(app);

    const page = await app.request('GET', `/channels/sandbox-bank/return?paymentId=${payment.paymentId}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<strong data-order-status>pending</strong>');
    expect(page.body).toContain('<strong data-payment-status>pending</strong>');
    expect(await logHead(app)).toBe(head);
    expect((await app.request('GET', '/orders/rec-unpaid')).body).toMatchObject({
      status: 'pending',
      payments: [{ paymentId: payment.paymentId, status: 'pending' }],
    });
  });

  it("is sent on to the payment's returnUrl with the order still pending", async () => {
    const payment = await orderWithAttempt(app, 'rec-unpaid-url', 'https://shop.example/back');
    await app.settle();
    const head = await logHead(app);

    const page = await app.request('GET', `/channels/sandbox-bank/return?paymentId=${payment.paymentId}`);
    expect(page.status).toBe(302);
    const target = new URL(page.headers.get('location')!);
    expect(Object.fromEntries(target.searchParams)).toEqual({ orderId: 'rec-unpaid-url', paymentId: payment.paymentId, status: 'pending' });
    expect(await logHead(app)).toBe(head);
  });
});
