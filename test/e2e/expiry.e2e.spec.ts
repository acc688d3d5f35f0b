import { eventsOfOrder, eventsOfPayment, logHead, readLog, readStream, typesOf } from '../support/audit-log.js';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';

const PROBLEMS = 'https://payguard.dev/problems/';

describe('order expiry', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());
  afterEach(() => app.faults({}));

  /** A pending order that expires in a few seconds, with one attempt open on `channel`. */
  async function shortOrderWithAttempt(orderId: string, channel = 'sandbox-bank', expiresInSeconds = 2) {
    const order = await app.request('POST', '/orders', { orderId, amount: 2500, currency: 'CNY', expiresInSeconds });
    expect(order.status).toBe(201);
    const payment = await app.request('POST', `/orders/${orderId}/payments`, { channel });
    expect(payment.status).toBe(201);
    return { order: order.body, payment: payment.body };
  }

  const untilEnded = (orderId: string) =>
    eventually(
      () => app.request('GET', `/orders/${orderId}`),
      (answer) => answer.body.status !== 'pending',
      10_000,
      `order ${orderId} ended`,
    );

  describe('a payment in flight at expiry', () => {
    it('is settled, not refunded: the close at expiry learns it was paid', async () => {
      // Three seconds: the channel's deadline is rounded down to a whole second, and the payer needs time to pay.
      const { payment } = await shortOrderWithAttempt('exp-in-flight', 'sandbox-bank', 3);
      await app.faults({ dropNotifications: true });
      const paid = await app.pay(payment.paymentId);
      expect(paid.status).toBe(200);
      expect(paid.body.status).toBe('PAID');
      // The notification was lost: nothing tells the service yet.
      expect((await app.request('GET', '/orders/exp-in-flight')).body.status).toBe('pending');

      const ended = await untilEnded('exp-in-flight');
      expect(ended.body).toMatchObject({
        status: 'paid',
        paidBy: payment.paymentId,
        anomalies: [],
        refunds: [],
        payments: [{ paymentId: payment.paymentId, status: 'succeeded', channelTradeNo: paid.body.tradeNo }],
      });

      await app.settle();
      const log = await readLog(app);
      expect(eventsOfPayment(log, payment.paymentId, 'PaymentSucceeded').map((event) => event.data.source)).toEqual(['close']);
      expect(typesOf(eventsOfOrder(log, 'exp-in-flight'))).toEqual(
        expect.arrayContaining(['OrderPlaced', 'PaymentAttemptStarted', 'PaymentInitiated', 'PaymentSucceeded', 'OrderPaid']),
      );
      expect(typesOf(eventsOfOrder(log, 'exp-in-flight')).filter((type) => /^(OrderExpired|AnomalyDetected|Refund)/.test(type))).toEqual([]);
    });
  });

  describe('an order whose channel cannot be reached at expiry', () => {
    it('expires on time and refunds a late success once as paid-after-expiry', async () => {
      const { order, payment } = await shortOrderWithAttempt('exp-late-success');
      await app.faults({ ignoreTimeExpire: true, apiDown: true });

      const expired = await untilEnded('exp-late-success');
      expect(expired.body.status).toBe('expired');
      const [expiry] = eventsOfOrder(await readLog(app), 'exp-late-success', 'OrderExpired');
      const lateByMs = Date.parse(expiry.metadata.occurredAt) - Date.parse(order.expiresAt);
      expect(lateByMs).toBeGreaterThanOrEqual(0);
      expect(lateByMs).toBeLessThanOrEqual(1500);

      // The channel is back, and its payer pays the trade it never managed to close.
      await app.faults({ ignoreTimeExpire: true });
      const paid = await app.pay(payment.paymentId);
      expect(paid.status).toBe(200);
      expect(paid.body.status).toBe('PAID');

      const refunded = await eventually(
        () => app.request('GET', '/orders/exp-late-success'),
        (answer) => answer.body.refunds.length === 1 && answer.body.refunds[0].status === 'succeeded',
        10_000,
        'refund of the late success',
      );
      expect(refunded.body).toMatchObject({
        status: 'expired',
        anomalies: [{ kind: 'paid-after-expiry', paymentId: payment.paymentId }],
        payments: [{ paymentId: payment.paymentId, status: 'succeeded' }],
        refunds: [
          {
            refundId: `refund-${payment.paymentId}`,
            paymentId: payment.paymentId,
            amount: 2500,
            currency: 'CNY',
            reason: 'paid-after-expiry',
            status: 'succeeded',
          },
        ],
      });
      expect(refunded.body.paidBy).toBeUndefined();

      await app.settle();
      const log = await readLog(app);
      const requested = eventsOfPayment(log, payment.paymentId, 'RefundRequested');
      expect(requested.map((event) => event.data.reason)).toEqual(['paid-after-expiry']);
      expect(eventsOfPayment(log, payment.paymentId, 'RefundSucceeded')).toHaveLength(1);
      expect(eventsOfOrder(log, 'exp-late-success', 'OrderPaid')).toEqual([]);

      const trade = await app.request('GET', `/sandbox/api/bank/trades/${payment.paymentId}`);
      expect(trade.body).toMatchObject({ status: 'PAID', refundedAmount: 2500 });
      expect(trade.body.refunds).toHaveLength(1);
    });
  });

  describe('an expired order', () => {
    let attempt: { paymentId: string };
    beforeAll(async () => {
      ({ payment: attempt } = await shortOrderWithAttempt('exp-over', 'sandbox-wallet'));
      await untilEnded('exp-over');
      await app.settle();
    });

    it('has closed its open trade, so the payer can no longer pay it', async () => {
      expect((await app.request('GET', '/orders/exp-over')).body).toMatchObject({
        status: 'expired',
        payments: [{ paymentId: attempt.paymentId, status: 'closed' }],
      });
      const refused = await app.pay(attempt.paymentId);
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('TRADE_NOT_PAYABLE');
      await app.settle();
      expect(typesOf(await readStream(app, `payment-${attempt.paymentId}`))).toEqual(['PaymentInitiated', 'PaymentTradeOpened', 'PaymentClosed']);
    });

    it('answers checkout with show-result', async () => {
      const checkout = await app.request('GET', '/orders/exp-over/checkout');
      expect(checkout.status).toBe(200);
      expect(checkout.body).toEqual({ orderId: 'exp-over', status: 'expired', remainingSeconds: 0, action: 'show-result' });
    });

    it('refuses a new payment with order-not-payable and records nothing', async () => {
      const head = await logHead(app);
      for (const channel of ['sandbox-bank', 'sandbox-wallet']) {
        const refused = await app.request('POST', '/orders/exp-over/payments', { channel });
        expect(refused.status).toBe(409);
        expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(refused.body).toMatchObject({ type: `${PROBLEMS}order-not-payable`, status: 409, orderStatus: 'expired' });
      }
      expect(await logHead(app)).toBe(head);
      expect((await app.request('GET', '/orders/exp-over')).body.payments).toHaveLength(1);
    });
  });
});
