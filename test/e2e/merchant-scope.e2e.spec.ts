/**
 * Order ids are scoped by merchant: the same orderId under two merchants is two orders, in two
 * streams (`order-{merchantId}.{orderId}`). A store written before that, where a merchant's order
 * lives at `order-{orderId}`, still reads, pays and repairs the same as before.
 */
import { randomUUID } from 'node:crypto';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';

const merchantA = { authorization: 'Bearer scope-key-a' };
const merchantB = { authorization: 'Bearer scope-key-b' };
const auditor = { authorization: 'Bearer scope-key-audit' };

describe('merchant-scoped order ids', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      API_KEYS: 'scope-key-a:shopA,scope-key-b:shopB,scope-key-audit:*:auditor',
      SANDBOX_ENABLED: 'true',
      SANDBOX_SECRET: 'merchant-scope-sandbox-secret',
      RECONCILE_INTERVAL_SECONDS: '1',
    });
  });
  afterAll(() => app.close());

  it('keeps each merchant its own order, payments and refunds under one orderId', async () => {
    for (const [headers, amount] of [[merchantA, 1000], [merchantB, 2000]] as const) {
      expect((await app.request('POST', '/orders', { orderId: 'same-id', amount, currency: 'CNY' }, headers)).status).toBe(201);
    }
    // A pays twice on its order (a duplicate), B once on its own.
    const payA1 = (await app.request('POST', '/orders/same-id/payments', { channel: 'sandbox-bank' }, merchantA)).body.paymentId;
    const payA2 = (await app.request('POST', '/orders/same-id/payments', { channel: 'sandbox-wallet' }, merchantA)).body.paymentId;
    const payB = (await app.request('POST', '/orders/same-id/payments', { channel: 'sandbox-bank' }, merchantB)).body.paymentId;
    for (const paymentId of [payA1, payA2, payB]) expect((await app.pay(paymentId)).status).toBe(200);

    const a = await eventually(
      () => app.request('GET', '/orders/same-id', undefined, merchantA),
      (answer) => answer.body.refunds[0]?.status === 'succeeded',
      10_000,
      "A's duplicate refunded",
    );
    expect(a.body).toMatchObject({ amount: 1000, status: 'paid', paidBy: payA1, anomalies: [{ kind: 'duplicate-payment', paymentId: payA2 }] });
    const b = await app.request('GET', '/orders/same-id', undefined, merchantB);
    expect(b.body).toMatchObject({ amount: 2000, status: 'paid', paidBy: payB, anomalies: [], refunds: [] });
    // A payment of A's is not B's to see.
    expect((await app.request('GET', `/payments/${payA1}`, undefined, merchantB)).status).toBe(404);
    expect((await app.request('GET', `/payments/${payB}`, undefined, merchantB)).status).toBe(200);
    expect((await app.request('GET', '/audit/streams/order-shopA.same-id', undefined, merchantB)).status).toBe(403);
    const streamA = await app.request('GET', '/audit/streams/order-shopA.same-id', undefined, auditor);
    expect(streamA.body.events.map((event: { type: string }) => event.type)).toEqual(
      expect.arrayContaining(['OrderPlaced', 'PaymentAttemptStarted', 'OrderPaid', 'AnomalyDetected']),
    );
    const payment = await app.request('GET', `/audit/streams/payment-${payA1}`, undefined, auditor);
    expect(payment.body.events[0].data).toMatchObject({ orderId: 'same-id', merchantId: 'shopA' });

    // The back office lists them as two orders (the list is a projection: it catches up).
    const listed = await eventually(
      () => app.request('GET', '/orders?limit=1000', undefined, auditor),
      // The refund of A's duplicate reaches the list after the order's payment does: wait for both.
      (answer) =>
        answer.body.orders.filter((row: any) => row.orderId === 'same-id' && row.status === 'paid').length === 2 &&
        answer.body.orders.some((row: any) => row.orderKey === 'shopA.same-id' && row.refundedAmount === 1000),
      10_000,
      'both orders in the list, with the refund of A\'s duplicate',
    );
    const rows = listed.body.orders.filter((row: any) => row.orderId === 'same-id');
    expect(rows.map((row: any) => [row.orderKey, row.merchantId, row.amount, row.refundedAmount]).sort()).toEqual([
      ['shopA.same-id', 'shopA', 1000, 1000],
      ['shopB.same-id', 'shopB', 2000, 0],
    ]);
    const ofB = await app.request('GET', '/orders?limit=1000', undefined, merchantB);
    expect(ofB.body.orders.filter((row: any) => row.orderId === 'same-id').map((row: any) => row.merchantId)).toEqual(['shopB']);
  });

  describe('an order placed with a merchant key before ids were scoped', () => {
    const legacyOrderId = `legacy-${randomUUID().slice(0, 8)}`;
    beforeAll(async () => {
      // As a release before scoped ids wrote it: at order-{orderId}, naming its merchant, schema version 1.
      const now = new Date();
      await app.running.store.append(
        `order-${legacyOrderId}`,
        [
          {
            eventId: randomUUID(),
            type: 'OrderPlaced',
            data: {
              orderId: legacyOrderId,
              merchantId: 'shopA',
              amount: 3000,
              currency: 'CNY',
              expiresAt: new Date(now.getTime() + 600_000).toISOString(),
              requestedExpiry: { expiresInSeconds: 600 },
              description: null,
              createdAt: now.toISOString(),
            },
            metadata: { occurredAt: now.toISOString(), correlationId: 'legacy', causationId: null, schemaVersion: 1 },
          },
        ],
        'no-stream',
      );
      await app.settle();
    });

    it('is read, placed again and paid by its merchant where it is', async () => {
      expect((await app.request('GET', `/orders/${legacyOrderId}`, undefined, merchantA)).body).toMatchObject({ orderId: legacyOrderId, amount: 3000 });
      const again = await app.request('POST', '/orders', { orderId: legacyOrderId, amount: 3000, currency: 'CNY', expiresInSeconds: 600 }, merchantA);
      expect(again.status).toBe(200);
      const { paymentId } = (await app.request('POST', `/orders/${legacyOrderId}/payments`, { channel: 'sandbox-bank' }, merchantA)).body;
      expect((await app.pay(paymentId)).status).toBe(200);
      const paid = await eventually(
        () => app.request('GET', `/orders/${legacyOrderId}`, undefined, merchantA),
        (answer) => answer.body.status === 'paid',
        10_000,
        'the legacy order paid',
      );
      expect(paid.body.paidBy).toBe(paymentId);
      // Still one stream: nothing was written under the scoped name.
      const scoped = await app.request('GET', `/audit/streams/order-shopA.${legacyOrderId}`, undefined, auditor);
      expect(scoped.body.events).toEqual([]);
    });

    it("is still not another merchant's, who places its own order under that id", async () => {
      expect((await app.request('GET', `/orders/${legacyOrderId}`, undefined, merchantB)).status).toBe(404);
      expect((await app.request('POST', '/orders', { orderId: legacyOrderId, amount: 10, currency: 'CNY' }, merchantB)).status).toBe(201);
      expect((await app.request('GET', `/orders/${legacyOrderId}`, undefined, merchantB)).body).toMatchObject({ amount: 10 });
    });
  });
});
