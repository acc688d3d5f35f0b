/**
 * The provider holds the money: each way the service once lost track of money at the provider,
 * replayed over HTTP with the sandbox's faults, and checked at the provider (its trade and its
 * refunds), not only in our log.
 */
import { eventsOfPayment, readLog } from '../support/audit-log.js';
import { eventually, startTestApp, type Answer, type TestApp } from '../support/harness.js';

const PROBLEMS = 'https://payguard.dev/problems/';

interface ProviderTrade {
  outTradeNo: string;
  status: 'WAIT_PAY' | 'PAID' | 'CLOSED' | 'FAILED';
  amount: number;
  capturedAmount?: number;
  refundedAmount: number;
  refunds: { outRequestNo: string; amount: number }[];
}

const providerOf = (channel: string) => (channel === 'sandbox-wallet' ? 'wallet' : 'bank');

/** The trade as the provider holds it (from its listing, which answers while its merchant API is down). */
async function providerTrade(app: TestApp, paymentId: string, channel = 'sandbox-bank'): Promise<ProviderTrade> {
  const answer = await app.request<{ trades: ProviderTrade[] }>('GET', `/sandbox/api/${providerOf(channel)}/trades`);
  expect(answer.status).toBe(200);
  const trade = answer.body.trades.find((candidate) => candidate.outTradeNo === paymentId);
  if (trade === undefined) throw new Error(`the provider holds no trade ${paymentId}`);
  return trade;
}

async function placeOrder(app: TestApp, orderId: string, expiresInSeconds: number, amount = 2500): Promise<{ expiresAt: string }> {
  const order = await app.request('POST', '/orders', { orderId, amount, currency: 'CNY', expiresInSeconds });
  expect(order.status).toBe(201);
  return order.body;
}

async function startPayment(app: TestApp, orderId: string, channel = 'sandbox-bank'): Promise<{ paymentId: string }> {
  const payment = await app.request('POST', `/orders/${orderId}/payments`, { channel });
  expect(payment.status).toBe(201);
  return payment.body;
}

/** The merchant feed's refund events of one refund, once the feed holds `type`. */
async function refundEventsInFeed(app: TestApp, refundId: string, type: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
  const answer = await eventually(
    () => app.request('GET', '/events?type=refund.succeeded,refund.failed&limit=1000'),
    (page) => page.body.events.some((event: any) => event.type === type && event.data.refundId === refundId),
    10_000,
    `${type} of ${refundId} in the merchant feed`,
  );
  return answer.body.events.filter((event: any) => event.data.refundId === refundId);
}

const orderOnceItIs = (app: TestApp, orderId: string, accept: (body: any) => boolean, what: string, timeoutMs = 15_000): Promise<Answer> =>
  eventually(() => app.request('GET', `/orders/${orderId}`), (answer) => accept(answer.body), timeoutMs, what);

/** Until the wall clock has passed `ms` (a deadline in the provider's world, not a sleep for luck). */
const untilPast = (ms: number) => eventually(async () => Date.now(), (now) => now > ms, 20_000, `time past ${new Date(ms).toISOString()}`);

describe('the provider holds the money', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ RECONCILE_INTERVAL_SECONDS: '1', TRADE_WATCH_SECONDS: '60', REFUND_MAX_ATTEMPTS: '3', SANDBOX_TIMEOUT_MS: '300' });
  });
  afterAll(() => app.close());
  afterEach(() => app.faults({}));

  it('1. finds a trade recorded closed that the provider captured later, and refunds it once as paid-after-expiry', async () => {
    const { expiresAt } = await placeOrder(app, 'truth-closed-captured', 2);
    const { paymentId } = await startPayment(app, 'truth-closed-captured');
    await orderOnceItIs(app, 'truth-closed-captured', (body) => body.status === 'expired' && body.payments[0].status === 'closed', 'expiry closing the trade');
    expect((await providerTrade(app, paymentId)).status).toBe('CLOSED');

    // The provider takes the money on the closed trade anyway, and tells nobody.
    await app.faults({ ignoreTimeExpire: true, dropNotifications: true });
    expect((await app.pay(paymentId)).body.status).toBe('PAID');
    await untilPast(Date.parse(expiresAt));

    const refunded = await orderOnceItIs(app, 'truth-closed-captured', (body) => body.refunds[0]?.status === 'succeeded', 'the watch finding the capture');
    expect(refunded.body).toMatchObject({
      status: 'expired',
      anomalies: [{ kind: 'paid-after-expiry', paymentId }],
      refunds: [{ paymentId, reason: 'paid-after-expiry', amount: 2500, status: 'succeeded', refundedAmount: 2500 }],
    });
    expect(await providerTrade(app, paymentId)).toMatchObject({ status: 'PAID', refundedAmount: 2500, refunds: [{ amount: 2500 }] });
  });

  it('2. retries a close that could not reach the provider, until the trade is closed there', async () => {
    await placeOrder(app, 'truth-close-retried', 600);
    const { paymentId } = await startPayment(app, 'truth-close-retried');
    await app.faults({ apiDown: true });
    const closed = await app.request('POST', '/orders/truth-close-retried/close', {});
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ status: 'closed', payments: [{ paymentId, status: 'pending' }] });
    expect((await providerTrade(app, paymentId)).status).toBe('WAIT_PAY');

    await app.faults({});
    await orderOnceItIs(app, 'truth-close-retried', (body) => body.payments[0].status === 'closed', 'the sweep closing the trade');
    expect((await providerTrade(app, paymentId)).status).toBe('CLOSED');
    const refused = await app.pay(paymentId);
    expect([refused.status, refused.body.code]).toEqual([409, 'TRADE_NOT_PAYABLE']);
    expect(await providerTrade(app, paymentId)).toMatchObject({ status: 'CLOSED', refundedAmount: 0, refunds: [] });
  });

  it('3. leaves no trade payable when a close and a payment start race', async () => {
    const orders = Array.from({ length: 12 }, (_, index) => `truth-race-${index}`);
    for (const orderId of orders) await placeOrder(app, orderId, 600);
    const answers = await Promise.all(
      orders.map((orderId) =>
        Promise.all([
          app.request('POST', `/orders/${orderId}/close`, {}),
          app.request('POST', `/orders/${orderId}/payments`, { channel: 'sandbox-bank' }),
        ]),
      ),
    );
    for (const [close, payment] of answers) {
      expect(close.status).toBe(200);
      // Either refused as not payable, or started (and then closed with its order).
      if (payment.status !== 201) expect([payment.status, payment.body.type]).toEqual([409, `${PROBLEMS}order-not-payable`]);
    }
    // After the next sweep every trade of these closed orders is closed at the provider.
    const views = await Promise.all(
      orders.map((orderId) =>
        orderOnceItIs(app, orderId, (body) => body.status === 'closed' && body.payments.every((payment: any) => payment.status === 'closed'), `${orderId} closed with its trades`),
      ),
    );
    const paymentIds = views.flatMap((view) => view.body.payments.map((payment: any) => payment.paymentId as string));
    for (const paymentId of paymentIds) {
      expect((await providerTrade(app, paymentId)).status).toBe('CLOSED');
      expect((await app.pay(paymentId)).status).toBe(409);
    }
  });

  it('4. knows a trade the provider created while the caller timed out, and keeps its payment', async () => {
    await placeOrder(app, 'truth-orphan', 600);
    await app.faults({ createStallMs: 1500, dropNotifications: true });
    const stalled = await app.request('POST', '/orders/truth-orphan/payments', { channel: 'sandbox-bank' });
    expect([stalled.status, stalled.body.type]).toEqual([503, `${PROBLEMS}channel-unavailable`]);
    // The payment was recorded before the trade was asked for: the order names it.
    const view = await app.request('GET', '/orders/truth-orphan');
    expect(view.body.payments).toMatchObject([{ status: 'pending', payUrl: null }]);
    const { paymentId } = view.body.payments[0];
    await eventually(() => providerTrade(app, paymentId).catch(() => null), (trade) => trade !== null, 5000, 'the stalled trade');

    // The payer reaches the provider's page some other way and pays; no notification comes.
    expect((await app.pay(paymentId)).body.status).toBe('PAID');
    const paid = await orderOnceItIs(app, 'truth-orphan', (body) => body.status === 'paid', 'the sweep finding the payment');
    expect(paid.body).toMatchObject({ paidBy: paymentId, refunds: [], anomalies: [] });
    expect(await providerTrade(app, paymentId)).toMatchObject({ status: 'PAID', refundedAmount: 0 });
  });

  it('6. records a capture of another amount, expires the order on time and refunds the captured amount once', async () => {
    const { expiresAt } = await placeOrder(app, 'truth-mismatch', 3);
    const { paymentId } = await startPayment(app, 'truth-mismatch');
    await app.faults({ captureAmountDelta: 100 });
    expect((await app.pay(paymentId)).body).toMatchObject({ status: 'PAID', capturedAmount: 2600 });

    const refunded = await orderOnceItIs(
      app,
      'truth-mismatch',
      (body) => body.status !== 'pending' && body.refunds[0]?.status === 'succeeded',
      'the mismatched capture refunded and the order expired',
    );
    expect(refunded.body).toMatchObject({
      status: 'expired',
      anomalies: [{ kind: 'amount-mismatch', paymentId }],
      payments: [{ paymentId, status: 'succeeded', captured: { amount: 2600, currency: 'CNY' } }],
      refunds: [{ paymentId, reason: 'amount-mismatch', amount: 2600, refundedAmount: 2600, status: 'succeeded' }],
    });
    expect(refunded.body.paidBy).toBeUndefined();
    const [expiry] = (await readLog(app)).filter((event) => event.type === 'OrderExpired' && event.data.orderId === 'truth-mismatch');
    expect(Date.parse(expiry.metadata.occurredAt) - Date.parse(expiresAt)).toBeLessThan(3000);
    expect(await providerTrade(app, paymentId)).toMatchObject({ status: 'PAID', capturedAmount: 2600, refundedAmount: 2600, refunds: [{ amount: 2600 }] });
  });

  describe('7. refunds have an end', () => {
    // An instance of their own whose sweep does not run while they do: each case pays the wallet
    // trade after its order is paid by the bank, and a sweep in between (every second above) would
    // close that trade first, as it should for a paid order, or record it before the case's faults.
    // Refund retries are the deadline timer's, not the sweep's.
    let app: TestApp;
    beforeAll(async () => {
      app = await startTestApp({ RECONCILE_INTERVAL_SECONDS: '3600', TRADE_WATCH_SECONDS: '60', REFUND_MAX_ATTEMPTS: '3', SANDBOX_TIMEOUT_MS: '300' });
    });
    afterAll(() => app.close());
    afterEach(() => app.faults({}));

    /** An order paid on the bank, and then on the wallet too: the wallet payment is a duplicate, refunded. */
    async function duplicate(orderId: string, beforeSecond: () => Promise<void> = async () => undefined) {
      await placeOrder(app, orderId, 600);
      const bank = await startPayment(app, orderId, 'sandbox-bank');
      const wallet = await startPayment(app, orderId, 'sandbox-wallet');
      expect((await app.pay(bank.paymentId)).status).toBe(200);
      await orderOnceItIs(app, orderId, (body) => body.status === 'paid', 'paid by the bank');
      await beforeSecond();
      expect((await app.pay(wallet.paymentId)).status).toBe(200);
      return { bank: bank.paymentId, wallet: wallet.paymentId };
    }

    it('ends as failed when the provider refuses for good, retries no more, and is resolved by an operator', async () => {
      const { wallet } = await duplicate('truth-refused', () => app.faults({ dropNotifications: true }));
      // The merchant already gave the money back by hand, at the provider.
      const manual = await app.request('POST', `/sandbox/api/wallet/trades/${wallet}/refunds`, { outRequestNo: 'by-hand-1', amount: 2500, currency: 'CNY' });
      expect(manual.status).toBe(200);
      await app.faults({});
      expect((await app.request('POST', `/payments/${wallet}/sync`)).status).toBe(200);

      const failed = await orderOnceItIs(app, 'truth-refused', (body) => body.refunds[0]?.status === 'failed', 'the refund refused for good');
      expect(failed.body.refunds).toEqual([
        expect.objectContaining({ paymentId: wallet, status: 'failed', attempts: 1, lastError: 'REFUND_AMOUNT_EXCEEDED' }),
      ]);
      expect(failed.body.refunds[0].nextAttemptAt).toBeUndefined();
      // The report is a projection of the log: it shows the open item once it has caught up.
      await eventually(
        () => app.request('GET', '/reports/anomalies'),
        (answer) => answer.body.anomalies.some((row: any) => row.paymentId === wallet && row.refundStatus === 'failed'),
        10_000,
        'the failed refund as an open item in /reports/anomalies',
      );
      const metrics = await app.request('GET', '/metrics');
      expect(metrics.body).toMatch(/payguard_open_items\{kind="failed_refunds"\} [1-9]/);

      const resolved = await app.request('POST', `/refunds/refund-${wallet}/resolve`, { resolution: 'refunded-outside', note: 'refunded by hand, ticket 7' });
      expect(resolved.status).toBe(200);
      expect(resolved.body).toMatchObject({ refundId: `refund-${wallet}`, status: 'failed', resolution: 'refunded-outside' });
      expect((await app.request('POST', `/refunds/refund-${wallet}/resolve`, { resolution: 'written-off', note: 'x' })).status).toBe(409);
      await app.settle();
      expect((await app.request('GET', '/metrics')).body).toMatch(/payguard_open_items\{kind="failed_refunds"\} 0/);
      // At the provider: the hand-made refund only, never a second one.
      expect(await providerTrade(app, wallet, 'sandbox-wallet')).toMatchObject({ status: 'PAID', refundedAmount: 2500, refunds: [{ outRequestNo: 'by-hand-1' }] });
      expect(eventsOfPayment(await readLog(app), wallet, 'RefundFailed')).toHaveLength(1);
    });

    it('gives up after REFUND_MAX_ATTEMPTS transient failures, and runs again when an operator says retry', async () => {
      const { wallet } = await duplicate('truth-attempts', () => app.faults({ apiDown: true }));
      const failed = await orderOnceItIs(app, 'truth-attempts', (body) => body.refunds[0]?.status === 'failed', 'three failed attempts', 20_000);
      expect(failed.body.refunds[0]).toMatchObject({ attempts: 3, lastError: expect.stringContaining('503') });
      expect((await providerTrade(app, wallet, 'sandbox-wallet')).refunds).toEqual([]);
      // The merchant hears of the open item, in the provider's words but without the address Payguard calls it at.
      const [told] = await refundEventsInFeed(app, `refund-${wallet}`, 'refund.failed');
      expect(told).toMatchObject({ type: 'refund.failed', data: { attempt: 3, error: expect.stringContaining('503') } });
      expect(told.data.error).not.toMatch(/https?:|127\.0\.0\.1/);

      await app.faults({});
      const retried = await app.request('POST', `/refunds/refund-${wallet}/resolve`, { resolution: 'retry', note: 'provider is back' });
      expect(retried.status).toBe(200);
      const refunded = await orderOnceItIs(app, 'truth-attempts', (body) => body.refunds[0]?.status === 'succeeded', 'the retried refund');
      expect(refunded.body.refunds[0]).toMatchObject({ refundedAmount: 2500, resolution: 'retry' });
      expect(await providerTrade(app, wallet, 'sandbox-wallet')).toMatchObject({ refundedAmount: 2500, refunds: [{ amount: 2500 }] });
    });

    it('8. records a refund for less than asked as what it was, and keeps it open', async () => {
      const { wallet } = await duplicate('truth-partial', () => app.faults({ refundShortfall: 500 }));
      const partial = await orderOnceItIs(app, 'truth-partial', (body) => body.refunds[0]?.completedAt !== undefined, 'the partial refund');
      expect(partial.body.refunds[0]).toMatchObject({ amount: 2500, refundedAmount: 2000, status: 'failed', lastError: 'the provider refunded 2000 of 2500 CNY' });
      expect(await providerTrade(app, wallet, 'sandbox-wallet')).toMatchObject({ refundedAmount: 2000, refunds: [{ amount: 2000 }] });
      const [succeeded] = eventsOfPayment(await readLog(app), wallet, 'RefundSucceeded');
      expect(succeeded.data).toMatchObject({ amount: 2000, requestedAmount: 2500 });
      // The merchant hears it as the open item it is, never as a refund that succeeded.
      expect(await refundEventsInFeed(app, `refund-${wallet}`, 'refund.failed')).toEqual([
        expect.objectContaining({
          type: 'refund.failed',
          data: expect.objectContaining({ attempt: null, amount: 2000, requestedAmount: 2500, currency: 'CNY', error: 'the provider refunded 2000 of 2500 CNY' }),
        }),
      ]);
      // The same refund can't pay out the rest: only an operator's word closes the item.
      expect((await app.request('POST', `/refunds/refund-${wallet}/resolve`, { resolution: 'retry', note: 'again' })).status).toBe(409);
      expect((await app.request('POST', `/refunds/refund-${wallet}/resolve`, { resolution: 'written-off', note: '5.00 written off' })).status).toBe(200);
    });
  });

  it('9. refunds a payment made in time but confirmed only after an expiry that could not reach the provider as paid-unconfirmed-at-expiry', async () => {
    await placeOrder(app, 'truth-unconfirmed', 3);
    const { paymentId } = await startPayment(app, 'truth-unconfirmed');
    await app.faults({ apiDown: true, dropNotifications: true });
    expect((await app.pay(paymentId)).body.status).toBe('PAID');
    await orderOnceItIs(app, 'truth-unconfirmed', (body) => body.status === 'expired', 'expiry without the provider');
    await app.faults({});
    const refunded = await orderOnceItIs(app, 'truth-unconfirmed', (body) => body.refunds[0]?.status === 'succeeded', 'the capture found and refunded');
    expect(refunded.body).toMatchObject({
      status: 'expired',
      anomalies: [{ kind: 'paid-unconfirmed-at-expiry', paymentId }],
      refunds: [{ reason: 'paid-unconfirmed-at-expiry', refundedAmount: 2500 }],
    });
    expect(await providerTrade(app, paymentId)).toMatchObject({ status: 'PAID', refundedAmount: 2500 });
  });

  it('rejects a resolution that is not one of the three, changing nothing', async () => {
    const answer = await app.request('POST', '/refunds/refund-pay_nothing123/resolve', { resolution: 'forgotten', note: 'x' });
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await app.request('POST', '/refunds/refund-pay_nothing123/resolve', { resolution: 'written-off', note: 'x' })).status).toBe(404);
  });
});

describe('a trade whose watch window has passed', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ RECONCILE_INTERVAL_SECONDS: '1', TRADE_WATCH_SECONDS: '2' });
  });
  afterAll(() => app.close());

  it('is final once the provider confirms it unpaid, and no longer asked about', async () => {
    await placeOrder(app, 'watch-ends', 2);
    const { paymentId } = await startPayment(app, 'watch-ends');
    await orderOnceItIs(app, 'watch-ends', (body) => body.status === 'expired', 'expiry');
    const ended = await eventually(
      () => readLog(app),
      (log) => eventsOfPayment(log, paymentId, 'PaymentWatchEnded').length === 1,
      15_000,
      'the watch ending',
    );
    expect(eventsOfPayment(ended, paymentId, 'PaymentWatchEnded')[0].data).toMatchObject({ paymentId, orderId: 'watch-ends', lastState: 'closed' });
    expect((await providerTrade(app, paymentId)).status).toBe('CLOSED');
    const metrics = await app.request('GET', '/metrics');
    expect(metrics.body).toMatch(/payguard_open_items\{kind="watched_trades"\} 0/);
  });
});
