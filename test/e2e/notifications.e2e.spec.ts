import { signSandboxBody } from '../../src/infrastructure/sandbox/sandbox-signature.js';
import { eventsOfOrder, eventsOfPayment, logHead, readLog } from '../support/audit-log.js';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';

const SECRET = 'sandbox-dev-secret';
const PROBLEMS = 'https://payguard.dev/problems/';

describe('channel notifications', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());
  afterEach(() => app.faults({}));

  /** A pending order with one attempt on sandbox-bank, and the provider's trade number for it. */
  async function orderWithAttempt(orderId: string) {
    expect((await app.request('POST', '/orders', { orderId, amount: 1288, currency: 'CNY', expiresInSeconds: 60 })).status).toBe(201);
    const payment = await app.request('POST', `/orders/${orderId}/payments`, { channel: 'sandbox-bank' });
    expect(payment.status).toBe(201);
    const trade = await app.request('GET', `/sandbox/api/bank/trades/${payment.body.paymentId}`);
    return { paymentId: payment.body.paymentId as string, channelTradeNo: trade.body.tradeNo as string };
  }

  /** A sandbox notification body, exactly as it will be sent (the signature covers these bytes). */
  function notificationBody(fields: { paymentId: string; channelTradeNo: string } & Record<string, unknown>): string {
    return JSON.stringify({
      notificationId: `ntf-${fields.paymentId}`,
      status: 'succeeded',
      amount: 1288,
      currency: 'CNY',
      occurredAt: new Date().toISOString(),
      ...fields,
    });
  }

  const post = (body: string, headers: Record<string, string> = {}, channel = 'sandbox-bank') =>
    app.request('POST', `/channels/${channel}/notifications`, body, headers);
  const signed = (body: string, secret = SECRET, at = new Date()) => ({ 'Sandbox-Signature': signSandboxBody(secret, body, at) });

  /** How many notifications the service has answered with 200 so far, from its Prometheus metrics. */
  async function notificationsAnswered200(): Promise<number> {
    const metrics = await app.request('GET', '/metrics');
    const line = /^payguard_http_requests_total\{([^}]*)\} (\d+)$/;
    return String(metrics.body)
      .split('\n')
      .map((text) => line.exec(text))
      .filter((match): match is RegExpExecArray => match !== null)
      .filter(([, labels]) => labels.includes('route="/channels/:channel/notifications"') && labels.includes('status="200"'))
      .reduce((sum, [, , count]) => sum + Number(count), 0);
  }

  describe('a notification storm', () => {
    it('is recorded once: one success, one paid order, nothing to refund', async () => {
      const { paymentId, channelTradeNo } = await orderWithAttempt('ntf-storm');
      const answeredBefore = await notificationsAnswered200();
      await app.faults({ duplicateNotifications: 20 });

      // The provider sends 21 copies of its notification while a replayer posts one signed copy 20 times at once.
      const body = notificationBody({ paymentId, channelTradeNo, notificationId: 'ntf-storm-replayed' });
      const headers = signed(body);
      const [paid, ...replays] = await Promise.all([app.pay(paymentId), ...Array.from({ length: 20 }, () => post(body, headers))]);
      expect(paid.status).toBe(200);
      expect(replays.map((answer) => answer.status)).toEqual(Array(20).fill(200));
      for (const replay of replays) expect(replay.body).toEqual({ received: true });

      // Every copy the provider sent has been answered 200 (it re-sends until it gets a 2xx).
      await eventually(notificationsAnswered200, (count) => count >= answeredBefore + 41, 10_000, 'all 41 notifications answered');
      await app.settle();

      const log = await readLog(app);
      expect(eventsOfPayment(log, paymentId, 'PaymentSucceeded')).toHaveLength(1);
      expect(eventsOfOrder(log, 'ntf-storm', 'OrderPaid')).toHaveLength(1);
      expect(eventsOfOrder(log, 'ntf-storm', 'AnomalyDetected')).toEqual([]);
      expect(eventsOfPayment(log, paymentId).filter((event) => event.type.startsWith('Refund'))).toEqual([]);
      expect((await app.request('GET', '/orders/ntf-storm')).body).toMatchObject({
        status: 'paid',
        paidBy: paymentId,
        anomalies: [],
        refunds: [],
        payments: [{ paymentId, status: 'succeeded', channelTradeNo }],
      });
    });
  });

  describe('a notification without a valid signature', () => {
    let attempt: { paymentId: string; channelTradeNo: string };
    beforeAll(async () => {
      attempt = await orderWithAttempt('ntf-bad-signature');
    });

    const cases: [string, (body: string) => Record<string, string>][] = [
      ['a forged signature', (body) => ({ 'Sandbox-Signature': signSandboxBody(SECRET, `${body} `, new Date()) })],
      ['a signature made with another secret', (body) => signed(body, 'someone-elses-secret')],
      ['a stale timestamp (more than 300 s old)', (body) => signed(body, SECRET, new Date(Date.now() - 301_000 - 5_000))],
      ['a timestamp from the future (more than 300 s ahead)', (body) => signed(body, SECRET, new Date(Date.now() + 301_000 + 5_000))],
      ['no signature header', () => ({})],
      ['a malformed header', () => ({ 'Sandbox-Signature': 'v1=not-hex' })],
    ];

    it.each(cases)('is refused with 401 bad-signature and records nothing: %s', async (_, headersFor) => {
      await app.settle();
      const head = await logHead(app);
      const body = notificationBody(attempt);

      const refused = await post(body, headersFor(body));
      expect(refused.status).toBe(401);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.body).toMatchObject({ type: `${PROBLEMS}bad-signature`, status: 401 });
      expect(await logHead(app)).toBe(head);
      expect((await app.request('GET', `/payments/${attempt.paymentId}`)).body.status).toBe('pending');
    });
  });

  describe('a notification whose money does not match the payment', () => {
    let attempt: { paymentId: string; channelTradeNo: string };
    beforeAll(async () => {
      attempt = await orderWithAttempt('ntf-mismatch');
    });

    it.each([
      ['another amount', { amount: 1289 }],
      ['another currency', { currency: 'USD' }],
    ])('is refused with 422 amount-mismatch and records nothing as paid: %s', async (_, change) => {
      await app.settle();
      const head = await logHead(app);
      const body = notificationBody({ ...attempt, ...change });

      const refused = await post(body, signed(body));
      expect(refused.status).toBe(422);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.body).toMatchObject({ type: `${PROBLEMS}amount-mismatch`, status: 422 });
      // The money on each side, and nothing else of the payment (the sender learns no merchant or return URL).
      expect(refused.body.expected).toEqual({ amount: 1288, currency: 'CNY' });
      expect(refused.body.reported).toEqual({ amount: 1288, currency: 'CNY', ...change });
      expect(await logHead(app)).toBe(head);
      expect((await app.request('GET', '/orders/ntf-mismatch')).body).toMatchObject({
        status: 'pending',
        payments: [{ paymentId: attempt.paymentId, status: 'pending' }],
      });
    });
  });

  describe('a signed notification that is not the sandbox format', () => {
    it.each([
      ['a field the format does not have', { extra: 1 }, ['extra']],
      ['a status it does not know', { status: 'bogus' }, ['status']],
      ['an amount as text', { amount: '1288' }, ['amount']],
    ])('is refused with 400 validation naming the field, and records nothing: %s', async (_, change, fields) => {
      const attempt = await orderWithAttempt(`ntf-shape-${fields[0]}`);
      await app.settle();
      const head = await logHead(app);
      const body = notificationBody({ ...attempt, ...change });

      const refused = await post(body, signed(body));
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ type: `${PROBLEMS}validation`, status: 400 });
      expect(refused.body.errors.map((error: { field: string }) => error.field)).toEqual(fields);
      expect(await logHead(app)).toBe(head);
      expect((await app.request('GET', `/payments/${attempt.paymentId}`)).body.status).toBe('pending');
    });
  });

  describe('a notification for a payment the service does not know', () => {
    it('is answered 404 and records nothing', async () => {
      await app.settle();
      const head = await logHead(app);
      const body = notificationBody({ paymentId: 'pay_nobody_knows_this', channelTradeNo: 'BANK0000' });

      const refused = await post(body, signed(body));
      expect(refused.status).toBe(404);
      expect(refused.body).toMatchObject({ type: `${PROBLEMS}not-found`, status: 404 });
      expect(await logHead(app)).toBe(head);
    });

    it("is answered 404 when it names another channel's payment", async () => {
      const attempt = await orderWithAttempt('ntf-other-channel');
      await app.settle();
      const head = await logHead(app);
      const body = notificationBody(attempt);

      const refused = await post(body, signed(body), 'sandbox-wallet');
      expect(refused.status).toBe(404);
      expect(await logHead(app)).toBe(head);
      expect((await app.request('GET', `/payments/${attempt.paymentId}`)).body.status).toBe('pending');
    });
  });
});
