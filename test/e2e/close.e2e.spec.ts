import { eventsOfOrder, eventsOfPayment, logHead, readLog, readStream, typesOf } from '../support/audit-log.js';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';

const PROBLEMS = 'https://payguard.dev/problems/';

describe('closing an order', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());
  afterEach(() => app.faults({}));

  /** A pending order (valid for a minute) with one attempt open on `channel`. */
  async function orderWithAttempt(orderId: string, channel = 'sandbox-bank') {
    const order = await app.request('POST', '/orders', { orderId, amount: 4200, currency: 'USD', expiresInSeconds: 60 });
    expect(order.status).toBe(201);
    const payment = await app.request('POST', `/orders/${orderId}/payments`, { channel });
    expect(payment.status).toBe(201);
    return payment.body as { paymentId: string };
  }

  describe('a pending order', () => {
    it('is closed together with its open trade, so the payer can no longer pay it', async () => {
      const payment = await orderWithAttempt('close-open');
      const closed = await app.request('POST', '/orders/close-open/close', { reason: 'customer cancelled' });
      expect(closed.status).toBe(200);
      expect(closed.body).toMatchObject({ orderId: 'close-open', status: 'closed', payments: [{ paymentId: payment.paymentId, status: 'closed' }] });

      const refused = await app.pay(payment.paymentId);
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('TRADE_NOT_PAYABLE');
      const [event] = eventsOfOrder(await readLog(app), 'close-open', 'OrderClosed');
      expect(event.data).toMatchObject({ orderId: 'close-open', reason: 'customer cancelled' });
      expect(typesOf(await readStream(app, `payment-${payment.paymentId}`))).toEqual(['PaymentInitiated', 'PaymentTradeOpened', 'PaymentClosed']);
    });

    it('is settled instead when its channel reports the trade already paid, and the close is refused', async () => {
      const payment = await orderWithAttempt('close-found-paid', 'sandbox-wallet');
      await app.faults({ dropNotifications: true });
      expect((await app.pay(payment.paymentId)).status).toBe(200);

      const refused = await app.request('POST', '/orders/close-found-paid/close', {});
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ type: `${PROBLEMS}order-not-closable`, status: 409 });
      const order = await app.request('GET', '/orders/close-found-paid');
      expect(order.body).toMatchObject({ status: 'paid', paidBy: payment.paymentId, anomalies: [], refunds: [] });
      await app.settle();
      const log = await readLog(app);
      expect(eventsOfPayment(log, payment.paymentId, 'PaymentSucceeded').map((event) => event.data.source)).toEqual(['close']);
      expect(eventsOfOrder(log, 'close-found-paid', 'OrderClosed')).toEqual([]);
    });
  });

  describe('a closed order', () => {
    it('refunds a success that arrives after the close once as paid-after-close', async () => {
      const payment = await orderWithAttempt('close-late-success');
      await app.faults({ apiDown: true });
      const closed = await app.request('POST', '/orders/close-late-success/close', {});
      expect(closed.status).toBe(200);
      expect(closed.body.status).toBe('closed');
      // The trade could not be closed at the channel: it is still open there.
      expect(closed.body.payments).toMatchObject([{ paymentId: payment.paymentId, status: 'pending' }]);

      await app.faults({ ignoreTimeExpire: true });
      const paid = await app.pay(payment.paymentId);
      expect(paid.status).toBe(200);
      expect(paid.body.status).toBe('PAID');

      const refunded = await eventually(
        () => app.request('GET', '/orders/close-late-success'),
        (answer) => answer.body.refunds.length === 1 && answer.body.refunds[0].status === 'succeeded',
        10_000,
        'refund of the success after close',
      );
      expect(refunded.body).toMatchObject({
        status: 'closed',
        anomalies: [{ kind: 'paid-after-close', paymentId: payment.paymentId }],
        payments: [{ paymentId: payment.paymentId, status: 'succeeded' }],
        refunds: [{ refundId: `refund-${payment.paymentId}`, amount: 4200, currency: 'USD', reason: 'paid-after-close', status: 'succeeded' }],
      });
      expect(refunded.body.paidBy).toBeUndefined();

      await app.settle();
      const log = await readLog(app);
      expect(eventsOfPayment(log, payment.paymentId, 'RefundRequested').map((event) => event.data.reason)).toEqual(['paid-after-close']);
      expect(eventsOfPayment(log, payment.paymentId, 'RefundSucceeded')).toHaveLength(1);
      expect(eventsOfOrder(log, 'close-late-success', 'OrderPaid')).toEqual([]);
      const trade = await app.request('GET', `/sandbox/api/bank/trades/${payment.paymentId}`);
      expect(trade.body.refunds).toHaveLength(1);
      expect(trade.body.refundedAmount).toBe(4200);
    });

    it('answers a second close with 200 and the order unchanged', async () => {
      await orderWithAttempt('close-twice');
      const first = await app.request('POST', '/orders/close-twice/close', { reason: 'first' });
      expect(first.status).toBe(200);
      await app.settle();
      const head = await logHead(app);

      const second = await app.request('POST', '/orders/close-twice/close', { reason: 'second' });
      expect(second.status).toBe(200);
      expect(second.body).toEqual(first.body);
      expect(await logHead(app)).toBe(head);
      expect(eventsOfOrder(await readLog(app), 'close-twice', 'OrderClosed').map((event) => event.data.reason)).toEqual(['first']);
    });

    it('can no longer be paid, and checkout shows the result', async () => {
      await app.request('POST', '/orders', { orderId: 'close-unpayable', amount: 100, currency: 'USD' });
      expect((await app.request('POST', '/orders/close-unpayable/close', {})).status).toBe(200);

      const refused = await app.request('POST', '/orders/close-unpayable/payments', { channel: 'sandbox-bank' });
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ type: `${PROBLEMS}order-not-payable`, orderStatus: 'closed' });
      const checkout = await app.request('GET', '/orders/close-unpayable/checkout');
      expect(checkout.body).toMatchObject({ status: 'closed', action: 'show-result' });
    });
  });

  describe('an expired order', () => {
    it('answers a close with 200 and stays expired', async () => {
      await app.request('POST', '/orders', { orderId: 'close-expired', amount: 100, currency: 'USD', expiresInSeconds: 1 });
      await eventually(
        () => app.request('GET', '/orders/close-expired'),
        (answer) => answer.body.status === 'expired',
        10_000,
        'expiry',
      );
      await app.settle();
      const head = await logHead(app);

      const closed = await app.request('POST', '/orders/close-expired/close', {});
      expect(closed.status).toBe(200);
      expect(closed.body.status).toBe('expired');
      expect(await logHead(app)).toBe(head);
    });
  });

  describe('a paid order', () => {
    it('cannot be closed: 409 order-not-closable, nothing recorded', async () => {
      const payment = await orderWithAttempt('close-paid');
      expect((await app.pay(payment.paymentId)).status).toBe(200);
      await eventually(
        () => app.request('GET', '/orders/close-paid'),
        (answer) => answer.body.status === 'paid',
        10_000,
        'the notified success',
      );
      await app.settle();
      const head = await logHead(app);

      const refused = await app.request('POST', '/orders/close-paid/close', { reason: 'too late' });
      expect(refused.status).toBe(409);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.body).toMatchObject({ type: `${PROBLEMS}order-not-closable`, status: 409, orderStatus: 'paid' });
      expect(await logHead(app)).toBe(head);
      expect((await app.request('GET', '/orders/close-paid')).body).toMatchObject({ status: 'paid', paidBy: payment.paymentId });
    });
  });
});
