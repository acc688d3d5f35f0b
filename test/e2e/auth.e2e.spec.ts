import { createHmac, randomUUID } from 'node:crypto';
import { expectProblem, logHead, readWholeLog } from '../support/contract.js';
import { eventually, startTestApp, type Answer, type TestApp } from '../support/harness.js';

const SANDBOX_SECRET = 'auth-e2e-sandbox-secret';
const merchantA = { authorization: 'Bearer keyA' };
const merchantB = { authorization: 'Bearer keyB' };
const auditor = { authorization: 'Bearer keyC' };

/** A notification as the sandbox provider signs it (API.md, Channels). */
function signedNotification(body: Record<string, unknown>, secret = SANDBOX_SECRET): { raw: string; headers: Record<string, string> } {
  const raw = JSON.stringify(body);
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac('sha256', secret).update(`${t}.${raw}`).digest('hex');
  return { raw, headers: { 'content-type': 'application/json', 'sandbox-signature': `t=${t},v1=${v1}` } };
}

describe('with API keys', () => {
  let app: TestApp;
  /** Runs `send` and checks the log did not grow (read with the auditor's key). */
  const recordsNothing = async (send: () => Promise<Answer>): Promise<Answer> => {
    await app.settle();
    const before = await logHead(app, auditor);
    const answer = await send();
    await app.settle();
    expect(await logHead(app, auditor)).toBe(before);
    return answer;
  };

  beforeAll(async () => {
    // The sandbox is off by default with API keys: this suite turns it on, with a secret of its own.
    app = await startTestApp({ API_KEYS: 'keyA:merchantA,keyB:merchantB,keyC:*:auditor', SANDBOX_ENABLED: 'true', SANDBOX_SECRET });
  });
  afterAll(() => app.close());

  describe('a caller without a valid key', () => {
    it.each([
      ['no Authorization header', {}],
      ['an unknown key', { authorization: 'Bearer not-a-key' }],
      ['a key without the Bearer scheme', { authorization: 'keyA' }],
      ['another scheme', { authorization: `Basic ${Buffer.from('keyA:').toString('base64')}` }],
      ['an empty bearer', { authorization: 'Bearer ' }],
    ])('is refused with 401 unauthorized when it sends %s', async (_, headers: Record<string, string>) => {
      for (const [method, path] of [
        ['GET', '/orders/anything'],
        ['GET', '/payments/pay_anything'],
        ['GET', '/audit/events'],
        ['GET', '/metrics'],
      ]) {
        expectProblem(await app.request(method, path, undefined, headers), 401, 'unauthorized');
      }
      const placing = await recordsNothing(() => app.request('POST', '/orders', { orderId: 'no-key-order', amount: 100, currency: 'CNY' }, headers));
      expectProblem(placing, 401, 'unauthorized');
      expectProblem(await app.request('GET', '/orders/no-key-order', undefined, merchantA), 404, 'not-found');
    });
  });

  describe('merchants', () => {
    let paymentOfA: string;
    beforeAll(async () => {
      expect((await app.request('POST', '/orders', { orderId: 'order-of-a', amount: 1500, currency: 'CNY' }, merchantA)).status).toBe(201);
      const payment = await app.request('POST', '/orders/order-of-a/payments', { channel: 'sandbox-bank' }, merchantA);
      expect(payment.status).toBe(201);
      paymentOfA = payment.body.paymentId;
      expect((await app.request('POST', '/orders', { orderId: 'order-of-b', amount: 900, currency: 'EUR' }, merchantB)).status).toBe(201);
    });

    it('see their own orders and payments', async () => {
      expect((await app.request('GET', '/orders/order-of-a', undefined, merchantA)).body).toMatchObject({ orderId: 'order-of-a', status: 'pending' });
      expect((await app.request('GET', `/payments/${paymentOfA}`, undefined, merchantA)).body).toMatchObject({ paymentId: paymentOfA, orderId: 'order-of-a' });
      expect((await app.request('GET', '/orders/order-of-b', undefined, merchantB)).body).toMatchObject({ orderId: 'order-of-b', status: 'pending' });
    });

    it("can't see another merchant's order or payment: it answers 404 like a missing one", async () => {
      const missing = await app.request('GET', '/orders/no-such-order', undefined, merchantB);
      const others = await app.request('GET', '/orders/order-of-a', undefined, merchantB);
      expectProblem(others, 404, 'not-found');
      expect({ type: others.body.type, title: others.body.title, status: others.body.status }).toEqual({
        type: missing.body.type,
        title: missing.body.title,
        status: missing.body.status,
      });
      expectProblem(await app.request('GET', `/payments/${paymentOfA}`, undefined, merchantB), 404, 'not-found');
      expectProblem(await app.request('GET', '/orders/order-of-a/checkout', undefined, merchantB), 404, 'not-found');
      expectProblem(await app.request('GET', '/orders/order-of-b', undefined, merchantA), 404, 'not-found');
    });

    it("can't close, pay or sync another merchant's order (404), and nothing changes", async () => {
      expectProblem(await recordsNothing(() => app.request('POST', '/orders/order-of-a/close', {}, merchantB)), 404, 'not-found');
      expectProblem(await recordsNothing(() => app.request('POST', '/orders/order-of-a/payments', { channel: 'sandbox-wallet' }, merchantB)), 404, 'not-found');
      expectProblem(await recordsNothing(() => app.request('POST', `/payments/${paymentOfA}/sync`, undefined, merchantB)), 404, 'not-found');

      const order = await app.request('GET', '/orders/order-of-a', undefined, merchantA);
      expect(order.body).toMatchObject({ status: 'pending', payments: [expect.objectContaining({ paymentId: paymentOfA, status: 'pending' })] });
      expect(order.body.payments).toHaveLength(1);
    });

    it("place their own order under an id another merchant uses: two orders, neither learning of the other", async () => {
      const placed = await app.request('POST', '/orders', { orderId: 'order-of-a', amount: 700, currency: 'EUR' }, merchantB);
      expect(placed.status).toBe(201);
      expect(placed.body).toMatchObject({ orderId: 'order-of-a', amount: 700, currency: 'EUR', status: 'pending' });
      expect(JSON.stringify(placed.body)).not.toContain(paymentOfA);
      // The same request again is the same order of B's; A's order is untouched.
      expect((await app.request('POST', '/orders', { orderId: 'order-of-a', amount: 700, currency: 'EUR' }, merchantB)).status).toBe(200);
      expect((await app.request('GET', '/orders/order-of-a', undefined, merchantB)).body).toMatchObject({ amount: 700, payments: [] });
      expect((await app.request('GET', '/orders/order-of-a', undefined, merchantA)).body).toMatchObject({ amount: 1500, payments: [{ paymentId: paymentOfA }] });
      // Each lives in a stream of its own merchant's.
      const streams = await Promise.all(['merchantA', 'merchantB'].map((merchant) => app.request('GET', `/audit/streams/order-${merchant}.order-of-a`, undefined, auditor)));
      expect(streams.map((stream) => stream.body.events[0].data)).toEqual([
        expect.objectContaining({ orderId: 'order-of-a', merchantId: 'merchantA', amount: 1500 }),
        expect.objectContaining({ orderId: 'order-of-a', merchantId: 'merchantB', amount: 700 }),
      ]);
    });

    it('are refused the audit log with 403 forbidden, however the path is spelt', async () => {
      const paths = ['/audit/events', '/audit/streams/order-order-of-a', '/AUDIT/events', '/Audit/streams/order-order-of-a', '/audit/events/'];
      for (const headers of [merchantA, merchantB]) {
        for (const path of paths) {
          const answer = await app.request('GET', path, undefined, headers);
          expect({ path, status: answer.status }).toEqual({ path, status: 403 });
          expectProblem(answer, 403, 'forbidden');
        }
      }
    });
  });

  describe('an auditor', () => {
    let paymentOfB: string;
    beforeAll(async () => {
      expect((await app.request('POST', '/orders', { orderId: 'audited-b', amount: 4000, currency: 'USD' }, merchantB)).status).toBe(201);
      const payment = await app.request('POST', '/orders/audited-b/payments', { channel: 'sandbox-wallet' }, merchantB);
      expect(payment.status).toBe(201);
      paymentOfB = payment.body.paymentId;
    });

    it("reads any merchant's orders and payments", async () => {
      const asOwner = await app.request('GET', '/orders/audited-b', undefined, merchantB);
      // Order ids are the merchant's own: an auditor names the merchant too.
      const asAuditor = await app.request('GET', '/orders/merchantB.audited-b', undefined, auditor);
      expect(asAuditor.status).toBe(200);
      expect(asAuditor.body).toEqual(asOwner.body);
      expect((await app.request('GET', `/payments/${paymentOfB}`, undefined, auditor)).body).toMatchObject({ paymentId: paymentOfB, orderId: 'audited-b' });
    });

    it("reads the whole log and every merchant's streams", async () => {
      const log = await readWholeLog(app, auditor);
      const orders = new Set(log.filter((event) => event.type === 'OrderPlaced').map((event) => event.data.orderId));
      expect([...orders]).toEqual(expect.arrayContaining(['order-of-a', 'order-of-b', 'audited-b']));
      const stream = await app.request('GET', '/audit/streams/order-merchantB.audited-b', undefined, auditor);
      expect(stream.status).toBe(200);
      expect(stream.body.events.map((event: { type: string }) => event.type)).toEqual(['OrderPlaced', 'PaymentAttemptStarted']);
    });

    it('changes nothing: every POST is 403 forbidden', async () => {
      const attempts: [string, unknown][] = [
        ['/orders', { orderId: 'auditor-order', amount: 100, currency: 'CNY' }],
        ['/orders/audited-b/close', {}],
        ['/orders/audited-b/payments', { channel: 'sandbox-bank' }],
        [`/payments/${paymentOfB}/sync`, undefined],
      ];
      for (const [path, body] of attempts) {
        expectProblem(await recordsNothing(() => app.request('POST', path, body, auditor)), 403, 'forbidden');
      }
      const order = await app.request('GET', '/orders/merchantB.audited-b', undefined, auditor);
      expect(order.body).toMatchObject({ status: 'pending', payments: [expect.objectContaining({ paymentId: paymentOfB, status: 'pending' })] });
      expectProblem(await app.request('GET', '/orders/auditor-order', undefined, auditor), 404, 'not-found');
    });
  });

  describe('what works without a key', () => {
    it('health and docs', async () => {
      expect((await app.request('GET', '/health/live')).status).toBe(200);
      expect((await app.request('GET', '/health/ready')).body).toMatchObject({ status: 'ok' });
      const docs = await app.request('GET', '/docs');
      expect(docs.status).toBe(200);
      expect(docs.headers.get('content-type')).toMatch(/^text\/html\b/);
      const openapi = await app.request('GET', '/openapi.json');
      expect(openapi.status).toBe(200);
      expect(Object.keys(openapi.body.paths)).toContain('/orders');
    });

    it("the sandbox provider's API, payer page and fault switches, and its notifications to the service", async () => {
      await app.request('POST', '/orders', { orderId: 'public-sandbox', amount: 1234, currency: 'CNY' }, merchantA);
      const payment = await app.request('POST', '/orders/public-sandbox/payments', { channel: 'sandbox-bank' }, merchantA);

      const trade = await app.request('GET', `/sandbox/api/bank/trades/${payment.body.paymentId}`);
      expect(trade.status).toBe(200);
      expect(trade.body).toMatchObject({ outTradeNo: payment.body.paymentId, amount: 1234, currency: 'CNY' });
      const page = await app.request('GET', `/sandbox/pay/${payment.body.paymentId}`, undefined, { accept: 'text/html' });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html\b/);
      // The faults read without a key; setting them needs an operator key (test/e2e/security-sandbox.e2e.spec.ts).
      expect((await app.request('GET', '/sandbox/faults')).status).toBe(200);

      // The payer pays on the provider's page; the provider's notification carries no API key.
      expect((await app.pay(payment.body.paymentId)).status).toBe(200);
      const paid = await eventually(
        () => app.request('GET', '/orders/public-sandbox', undefined, merchantA),
        (answer) => answer.body.status === 'paid',
        10_000,
        'order paid by the notification',
      );
      expect(paid.body.paidBy).toBe(payment.body.paymentId);
    });

    it("a channel's signed notification, and a bad signature is refused as bad-signature, not unauthorized", async () => {
      await app.request('POST', '/orders', { orderId: 'public-notify', amount: 880, currency: 'CNY' }, merchantB);
      const payment = await app.request('POST', '/orders/public-notify/payments', { channel: 'sandbox-wallet' }, merchantB);
      const body = {
        notificationId: randomUUID(),
        paymentId: payment.body.paymentId,
        status: 'succeeded',
        amount: 880,
        currency: 'CNY',
        channelTradeNo: `T${Date.now()}`,
        occurredAt: new Date().toISOString(),
      };

      const forged = signedNotification(body, 'not-the-secret');
      expectProblem(await recordsNothing(() => app.request('POST', '/channels/sandbox-wallet/notifications', forged.raw, forged.headers)), 401, 'bad-signature');

      const genuine = signedNotification(body);
      const answer = await app.request('POST', '/channels/sandbox-wallet/notifications', genuine.raw, genuine.headers);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ received: true });
      expect((await app.request('GET', '/orders/public-notify', undefined, merchantB)).body).toMatchObject({ status: 'paid', paidBy: payment.body.paymentId });
    });

    it("the channel's return page, shown or redirected to the merchant's returnUrl", async () => {
      await app.request('POST', '/orders', { orderId: 'public-return', amount: 500, currency: 'CNY' }, merchantA);
      const plain = await app.request('POST', '/orders/public-return/payments', { channel: 'sandbox-bank' }, merchantA);
      const redirected = await app.request(
        'POST',
        '/orders/public-return/payments',
        { channel: 'sandbox-wallet', returnUrl: 'https://shop.example/orders/public-return' },
        merchantA,
      );

      const page = await app.request('GET', `/channels/sandbox-bank/return?paymentId=${plain.body.paymentId}`, undefined, { accept: 'text/html' });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html\b/);
      expect(page.body).toContain('public-return');

      const back = await app.request('GET', `/channels/sandbox-wallet/return?paymentId=${redirected.body.paymentId}`, undefined, { accept: 'text/html' });
      expect(back.status).toBe(302);
      const location = new URL(back.headers.get('location') ?? '');
      expect(`${location.origin}${location.pathname}`).toBe('https://shop.example/orders/public-return');
      expect(location.searchParams.get('paymentId')).toBe(redirected.body.paymentId);
      // A return alone never marks anything paid.
      expect((await app.request('GET', '/orders/public-return', undefined, merchantA)).body.status).toBe('pending');
    });
  });
});

describe('without API keys', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('runs open: every endpoint answers without a key', async () => {
    const placed = await app.request('POST', '/orders', { orderId: 'open-1', amount: 100, currency: 'CNY' });
    expect(placed.status).toBe(201);
    const payment = await app.request('POST', '/orders/open-1/payments', { channel: 'sandbox-bank' });
    expect(payment.status).toBe(201);
    expect((await app.request('GET', '/orders/open-1')).status).toBe(200);
    expect((await app.request('GET', `/payments/${payment.body.paymentId}`)).status).toBe(200);
    expect((await app.request('POST', `/payments/${payment.body.paymentId}/sync`)).status).toBe(200);
    expect((await app.request('GET', '/audit/events')).status).toBe(200);
    expect((await app.request('GET', '/audit/streams/order-open-1')).status).toBe(200);
    expect((await app.request('GET', '/metrics')).status).toBe(200);
    expect((await app.request('POST', '/orders/open-1/close', {})).body.status).toBe('closed');
  });
});
