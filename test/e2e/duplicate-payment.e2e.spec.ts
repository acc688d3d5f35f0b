import { eventually, startTestApp, type TestApp } from '../support/harness.js';

describe('a duplicate payment across two channels', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('keeps the first success and refunds the second exactly once', async () => {
    const order = await app.request('POST', '/orders', { orderId: 'dup-1', amount: 1999, currency: 'CNY' });
    expect(order.status).toBe(201);
    const bank = await app.request('POST', '/orders/dup-1/payments', { channel: 'sandbox-bank' });
    const wallet = await app.request('POST', '/orders/dup-1/payments', { channel: 'sandbox-wallet' });
    expect([bank.status, wallet.status]).toEqual([201, 201]);

    expect((await app.pay(bank.body.paymentId)).status).toBe(200);
    expect((await app.pay(wallet.body.paymentId)).status).toBe(200);

    const settled = await eventually(
      () => app.request('GET', '/orders/dup-1'),
      (answer) => answer.body.refunds.length === 1 && answer.body.refunds[0].status === 'succeeded',
      10_000,
      'refund of the duplicate',
    );
    expect(settled.body).toMatchObject({
      status: 'paid',
      paidBy: bank.body.paymentId,
      anomalies: [{ kind: 'duplicate-payment', paymentId: wallet.body.paymentId }],
      refunds: [{ refundId: `refund-${wallet.body.paymentId}`, paymentId: wallet.body.paymentId, amount: 1999, currency: 'CNY', reason: 'duplicate-payment' }],
    });
    await app.settle();
    const log = await app.request('GET', '/audit/events?limit=1000');
    const refundEvents = log.body.events.filter((event: { type: string }) => event.type.startsWith('Refund'));
    expect(refundEvents.map((event: { type: string }) => event.type)).toEqual(['RefundRequested', 'RefundSucceeded']);
  });
});
