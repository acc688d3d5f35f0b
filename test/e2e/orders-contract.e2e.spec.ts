import { expectProblem, expectValidationProblem, ISO_UTC, logHead } from '../support/contract.js';
import { eventually, startTestApp, type Answer, type TestApp } from '../support/harness.js';

const SEVEN_DAYS_S = 7 * 24 * 3600;
const PAYMENT_ID = /^[A-Za-z0-9_-]{6,32}$/;
const CALLER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The request is answered as `expected` says and the log is exactly as long as before. */
async function expectNothingRecorded(app: TestApp, send: () => Promise<Answer>, expected: (answer: Answer) => void): Promise<void> {
  await app.settle();
  const before = await logHead(app);
  expected(await send());
  await app.settle();
  expect(await logHead(app)).toBe(before);
}

describe('the orders contract', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  describe('placing an order', () => {
    it('answers 201 with the order as documented', async () => {
      const placed = await app.request('POST', '/orders', { orderId: 'place-1', amount: 1999, currency: 'CNY', expiresInSeconds: 600 });

      expect(placed.status).toBe(201);
      expect(placed.headers.get('content-type')).toMatch(/^application\/json\b/);
      expect(placed.body).toMatchObject({ orderId: 'place-1', status: 'pending', amount: 1999, currency: 'CNY' });
      expect(placed.body.expiresAt).toMatch(ISO_UTC);
      expect(placed.body.createdAt).toMatch(ISO_UTC);
      expect(Date.parse(placed.body.expiresAt) - Date.parse(placed.body.createdAt)).toBe(600_000);
    });

    it('makes up an orderId when the caller gives none, a new one each time', async () => {
      const first = await app.request('POST', '/orders', { amount: 500, currency: 'EUR' });
      const second = await app.request('POST', '/orders', { amount: 500, currency: 'EUR' });

      expect([first.status, second.status]).toEqual([201, 201]);
      expect(first.body.orderId).toMatch(CALLER_ID);
      expect(second.body.orderId).toMatch(CALLER_ID);
      expect(second.body.orderId).not.toBe(first.body.orderId);
      expect((await app.request('GET', `/orders/${first.body.orderId}`)).body).toMatchObject({ orderId: first.body.orderId, status: 'pending' });
    });

    it('makes orderIds that start with their creation time, so a later one sorts after', async () => {
      const first = await app.request('POST', '/orders', { amount: 500, currency: 'EUR' });
      await new Promise((resolve) => setTimeout(resolve, 5));
      const second = await app.request('POST', '/orders', { amount: 500, currency: 'EUR' });

      for (const { body } of [first, second]) expect(body.orderId).toMatch(/^ord_[0-9a-z]{9}[A-Za-z0-9]{20}$/);
      expect(second.body.orderId.slice(0, 13) > first.body.orderId.slice(0, 13)).toBe(true);
      // The time part is when the id was made, in milliseconds, base 36: just before createdAt.
      const made = parseInt(first.body.orderId.slice(4, 13), 36);
      expect(Date.parse(first.body.createdAt) - made).toBeGreaterThanOrEqual(0);
      expect(Date.parse(first.body.createdAt) - made).toBeLessThan(1000);
    });

    it('gives an order 1800 s of validity by default', async () => {
      const placed = await app.request('POST', '/orders', { orderId: 'default-validity', amount: 100, currency: 'CNY' });

      expect(placed.status).toBe(201);
      expect(Date.parse(placed.body.expiresAt) - Date.parse(placed.body.createdAt)).toBe(1800 * 1000);
    });

    it('accepts the bounds of validity, 1 s and 7 days', async () => {
      const week = await app.request('POST', '/orders', { orderId: 'bound-week', amount: 100, currency: 'CNY', expiresInSeconds: SEVEN_DAYS_S });
      const second = await app.request('POST', '/orders', { orderId: 'bound-second', amount: 100, currency: 'CNY', expiresInSeconds: 1 });

      expect([week.status, second.status]).toEqual([201, 201]);
      expect(Date.parse(week.body.expiresAt) - Date.parse(week.body.createdAt)).toBe(SEVEN_DAYS_S * 1000);
      expect(Date.parse(second.body.expiresAt) - Date.parse(second.body.createdAt)).toBe(1000);
      // Wait for the short one to run out, so its expiry is not recorded during a later test.
      await eventually(() => app.request('GET', '/orders/bound-second'), (answer) => answer.body.status === 'expired', 10_000, 'bound-second expired');
    });

    it('takes an explicit expiresAt and answers it in UTC', async () => {
      const at = new Date(Math.floor(Date.now() / 1000) * 1000 + 3600_000);
      const placed = await app.request('POST', '/orders', { orderId: 'explicit-expiry', amount: 100, currency: 'CNY', expiresAt: at.toISOString() });
      // The same instant written with an offset is the same deadline, answered in UTC.
      const shifted = new Date(at.getTime() + 8 * 3600_000).toISOString().replace('Z', '+08:00');
      const withOffset = await app.request('POST', '/orders', { orderId: 'explicit-expiry-offset', amount: 100, currency: 'CNY', expiresAt: shifted });

      expect(placed.status).toBe(201);
      expect(placed.body.expiresAt).toBe(at.toISOString());
      expect(withOffset.status).toBe(201);
      expect(withOffset.body.expiresAt).toBe(at.toISOString());
    });

    it('answers the same request again with 200 and the same order, recording nothing', async () => {
      const body = { orderId: 'idem-1', amount: 2500, currency: 'USD', expiresInSeconds: 900, description: 'two mugs' };
      const first = await app.request('POST', '/orders', body);
      expect(first.status).toBe(201);

      await expectNothingRecorded(
        app,
        () => app.request('POST', '/orders', body),
        (again) => {
          expect(again.status).toBe(200);
          expect(again.body).toEqual(first.body);
        },
      );
    });

    it('places an order once when the same request arrives several times at once', async () => {
      const body = { orderId: 'idem-race', amount: 1200, currency: 'CNY' };
      const answers = await Promise.all(Array.from({ length: 6 }, () => app.request('POST', '/orders', body)));

      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
      for (const answer of answers) expect(answer.body).toEqual(answers[0].body);
      const stream = await app.request('GET', '/audit/streams/order-idem-race');
      expect(stream.body.events.map((event: { type: string }) => event.type)).toEqual(['OrderPlaced']);
    });

    it.each([
      ['another amount', { amount: 2600 }],
      ['another currency', { currency: 'EUR' }],
      ['another validity', { expiresInSeconds: 901 }],
      ['another description', { description: 'three mugs' }],
    ])('refuses the same orderId with %s as order-conflict, recording nothing', async (_, change) => {
      const body = { orderId: 'conflict-1', amount: 2500, currency: 'USD', expiresInSeconds: 900, description: 'two mugs' };
      const original = await app.request('POST', '/orders', body);
      expect([200, 201]).toContain(original.status);

      await expectNothingRecorded(
        app,
        () => app.request('POST', '/orders', { ...body, ...change }),
        (conflict) => expectProblem(conflict, 409, 'order-conflict'),
      );
      expect((await app.request('GET', '/orders/conflict-1')).body).toMatchObject({ amount: 2500, currency: 'USD', expiresAt: original.body.expiresAt });
    });
  });

  describe('a request with a bad body', () => {
    const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();
    const cases: [string, () => Record<string, unknown>, string][] = [
      ['a float amount', () => ({ orderId: 'bad-float', amount: 19.99, currency: 'CNY' }), 'amount'],
      ['an amount as a string', () => ({ orderId: 'bad-string-amount', amount: '1999', currency: 'CNY' }), 'amount'],
      ['a zero amount', () => ({ orderId: 'bad-zero', amount: 0, currency: 'CNY' }), 'amount'],
      ['no amount', () => ({ orderId: 'bad-no-amount', currency: 'CNY' }), 'amount'],
      ['a lower-case currency', () => ({ orderId: 'bad-currency', amount: 1999, currency: 'cny' }), 'currency'],
      ['a misspelt field', () => ({ orderId: 'bad-typo', amount: 1999, currency: 'CNY', expiresInSecond: 60 }), 'expiresInSecond'],
      ['an orderId with a space and a slash', () => ({ orderId: 'order 1/2', amount: 1999, currency: 'CNY' }), 'orderId'],
      ['an orderId of 65 characters', () => ({ orderId: 'a'.repeat(65), amount: 1999, currency: 'CNY' }), 'orderId'],
      ['an empty orderId', () => ({ orderId: '', amount: 1999, currency: 'CNY' }), 'orderId'],
      ['a validity of 0 s', () => ({ orderId: 'bad-zero-validity', amount: 1999, currency: 'CNY', expiresInSeconds: 0 }), 'expiresInSeconds'],
      ['a validity over 7 days', () => ({ orderId: 'bad-long-validity', amount: 1999, currency: 'CNY', expiresInSeconds: SEVEN_DAYS_S + 1 }), 'expiresInSeconds'],
      ['an expiresAt in the past', () => ({ orderId: 'bad-past', amount: 1999, currency: 'CNY', expiresAt: new Date(Date.now() - 60_000).toISOString() }), 'expiresAt'],
      ['an expiresAt over 7 days away', () => ({ orderId: 'bad-far', amount: 1999, currency: 'CNY', expiresAt: new Date(Date.now() + (SEVEN_DAYS_S + 60) * 1000).toISOString() }), 'expiresAt'],
      ['an expiresAt that is no time', () => ({ orderId: 'bad-time', amount: 1999, currency: 'CNY', expiresAt: 'tomorrow' }), 'expiresAt'],
    ];

    it.each(cases)('rejects %s as 400 validation naming the field, and records nothing', async (_, body, field) => {
      const sent = body();
      await expectNothingRecorded(
        app,
        () => app.request('POST', '/orders', sent),
        (answer) => expectValidationProblem(answer, field),
      );
      if (typeof sent.orderId === 'string' && CALLER_ID.test(sent.orderId)) {
        expectProblem(await app.request('GET', `/orders/${sent.orderId}`), 404, 'not-found');
      }
    });

    it('rejects both expiresInSeconds and expiresAt as 400 validation, and records nothing', async () => {
      const body = { orderId: 'bad-both', amount: 1999, currency: 'CNY', expiresInSeconds: 600, expiresAt: inAnHour() };
      await expectNothingRecorded(
        app,
        () => app.request('POST', '/orders', body),
        (answer) => {
          expectProblem(answer, 400, 'validation');
          const fields = (answer.body.errors as { field: string }[]).map((error) => error.field);
          expect(fields.some((field) => field === 'expiresAt' || field === 'expiresInSeconds')).toBe(true);
        },
      );
      expectProblem(await app.request('GET', '/orders/bad-both'), 404, 'not-found');
    });

    it.each([
      ['cut short', '{"orderId": "bad-json", "amount": 1999,'],
      ['not JSON at all', 'orderId=bad-json&amount=1999'],
    ])('rejects a JSON body that is %s as 400 validation, and records nothing', async (_, raw) => {
      await expectNothingRecorded(
        app,
        () => app.request('POST', '/orders', raw, { 'content-type': 'application/json' }),
        (answer) => {
          expectProblem(answer, 400, 'validation');
          expect(answer.body.errors).toEqual(expect.arrayContaining([{ field: expect.any(String), message: expect.any(String) }]));
        },
      );
    });

    it('rejects a body over 64 KiB with 413, and records nothing', async () => {
      const body = { orderId: 'too-large', amount: 1999, currency: 'CNY', description: 'x'.repeat(65 * 1024) };
      await expectNothingRecorded(
        app,
        () => app.request('POST', '/orders', body),
        (answer) => expectProblem(answer, 413, 'payload-too-large'),
      );
      expectProblem(await app.request('GET', '/orders/too-large'), 404, 'not-found');
    });
  });

  describe('reading an order', () => {
    it('answers an unknown orderId with 404 not-found', async () => {
      expectProblem(await app.request('GET', '/orders/never-placed'), 404, 'not-found');
    });

    it('reflects every command that returned before it (read-your-writes)', async () => {
      for (let round = 0; round < 5; round++) {
        const orderId = `ryw-${round}`;
        const placed = await app.request('POST', '/orders', { orderId, amount: 700 + round, currency: 'CNY' });
        expect(placed.status).toBe(201);
        const afterPlace = await app.request('GET', `/orders/${orderId}`);
        expect(afterPlace.status).toBe(200);
        expect(afterPlace.body).toMatchObject({ ...placed.body, payments: [], refunds: [], anomalies: [] });

        const payment = await app.request('POST', `/orders/${orderId}/payments`, { channel: 'sandbox-bank' });
        expect(payment.status).toBe(201);
        expect((await app.request('GET', `/orders/${orderId}`)).body.payments).toEqual([payment.body]);
        expect((await app.request('GET', `/payments/${payment.body.paymentId}`)).body).toEqual(payment.body);

        const closed = await app.request('POST', `/orders/${orderId}/close`, { reason: 'customer cancelled' });
        expect(closed.status).toBe(200);
        expect(closed.body.status).toBe('closed');
        const afterClose = await app.request('GET', `/orders/${orderId}`);
        expect(afterClose.body).toEqual(closed.body);
        // Closing the order closed its channel trade too, so it can't be paid any more.
        expect(afterClose.body.payments).toEqual([expect.objectContaining({ paymentId: payment.body.paymentId, status: 'closed' })]);
      }
    });
  });

  describe('syncing a payment', () => {
    it('records what the channel says, and the next read of the order reflects it', async () => {
      await app.request('POST', '/orders', { orderId: 'sync-1', amount: 650, currency: 'CNY' });
      const payment = await app.request('POST', '/orders/sync-1/payments', { channel: 'sandbox-bank' });
      await app.faults({ dropNotifications: true });
      try {
        expect((await app.pay(payment.body.paymentId)).status).toBe(200);
        // The notification is lost: only the sync can tell the service.
        expect((await app.request('GET', '/orders/sync-1')).body.status).toBe('pending');

        const synced = await app.request('POST', `/payments/${payment.body.paymentId}/sync`);
        expect(synced.status).toBe(200);
        expect(synced.body).toMatchObject({ paymentId: payment.body.paymentId, status: 'succeeded' });
        expect((await app.request('GET', '/orders/sync-1')).body).toMatchObject({ status: 'paid', paidBy: payment.body.paymentId });
        expect((await app.request('GET', `/payments/${payment.body.paymentId}`)).body).toEqual(synced.body);
      } finally {
        await app.faults({});
      }
    });

    it('answers an unknown paymentId with 404 not-found', async () => {
      expectProblem(await app.request('POST', '/payments/pay_doesnotexist/sync'), 404, 'not-found');
    });
  });

  describe('closing an order', () => {
    it('answers a second close with 200 and the order unchanged, recording nothing', async () => {
      await app.request('POST', '/orders', { orderId: 'close-twice', amount: 300, currency: 'CNY' });
      const first = await app.request('POST', '/orders/close-twice/close', {});
      expect(first.status).toBe(200);
      expect(first.body.status).toBe('closed');

      await expectNothingRecorded(
        app,
        () => app.request('POST', '/orders/close-twice/close', { reason: 'again' }),
        (again) => {
          expect(again.status).toBe(200);
          expect(again.body).toEqual(first.body);
        },
      );
    });

    it('refuses to close a paid order as order-not-closable', async () => {
      await app.request('POST', '/orders', { orderId: 'close-paid', amount: 300, currency: 'CNY' });
      const payment = await app.request('POST', '/orders/close-paid/payments', { channel: 'sandbox-wallet' });
      expect((await app.pay(payment.body.paymentId)).status).toBe(200);
      await eventually(() => app.request('GET', '/orders/close-paid'), (answer) => answer.body.status === 'paid', 10_000, 'order paid');

      await expectNothingRecorded(
        app,
        () => app.request('POST', '/orders/close-paid/close', {}),
        (answer) => expectProblem(answer, 409, 'order-not-closable'),
      );
      expect((await app.request('GET', '/orders/close-paid')).body).toMatchObject({ status: 'paid', paidBy: payment.body.paymentId });
    });

    it('answers an unknown orderId with 404 not-found', async () => {
      expectProblem(await app.request('POST', '/orders/never-placed/close', {}), 404, 'not-found');
    });
  });

  describe('starting a payment', () => {
    it('rejects an unknown channel as 400 validation, and records nothing', async () => {
      await app.request('POST', '/orders', { orderId: 'pay-unknown-channel', amount: 300, currency: 'CNY' });
      await expectNothingRecorded(
        app,
        () => app.request('POST', '/orders/pay-unknown-channel/payments', { channel: 'carrier-pigeon' }),
        (answer) => expectValidationProblem(answer, 'channel'),
      );
      expect((await app.request('GET', '/orders/pay-unknown-channel')).body.payments).toEqual([]);
    });

    it('rejects a body without a channel, or with a misspelt field, as 400 validation', async () => {
      await app.request('POST', '/orders', { orderId: 'pay-bad-body', amount: 300, currency: 'CNY' });
      expectValidationProblem(await app.request('POST', '/orders/pay-bad-body/payments', {}), 'channel');
      expectValidationProblem(await app.request('POST', '/orders/pay-bad-body/payments', { channel: 'sandbox-bank', returnURL: 'https://shop.example/' }), 'returnURL');
    });

    it('answers an unknown order with 404 not-found, and records nothing', async () => {
      await expectNothingRecorded(
        app,
        () => app.request('POST', '/orders/never-placed/payments', { channel: 'sandbox-bank' }),
        (answer) => expectProblem(answer, 404, 'not-found'),
      );
    });

    it('refuses a closed order as order-not-payable, naming its status', async () => {
      await app.request('POST', '/orders', { orderId: 'pay-closed', amount: 300, currency: 'CNY' });
      await app.request('POST', '/orders/pay-closed/close', {});
      const answer = await app.request('POST', '/orders/pay-closed/payments', { channel: 'sandbox-bank' });
      expectProblem(answer, 409, 'order-not-payable');
      expect(answer.body.orderStatus).toBe('closed');
    });

    it('opens one attempt when the same channel is asked for several times at once', async () => {
      await app.request('POST', '/orders', { orderId: 'pay-race', amount: 300, currency: 'CNY' });
      const answers = await Promise.all(Array.from({ length: 5 }, () => app.request('POST', '/orders/pay-race/payments', { channel: 'sandbox-wallet' })));

      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 201]);
      expect(new Set(answers.map((answer) => answer.body.paymentId)).size).toBe(1);
      const order = await app.request('GET', '/orders/pay-race');
      expect(order.body.payments).toEqual([answers[0].body]);
    });

    it('reuses the pending attempt on the same channel (200) and opens a new one on another (201)', async () => {
      await app.request('POST', '/orders', { orderId: 'pay-retry', amount: 300, currency: 'CNY' });
      const first = await app.request('POST', '/orders/pay-retry/payments', { channel: 'sandbox-bank' });
      const retry = await app.request('POST', '/orders/pay-retry/payments', { channel: 'sandbox-bank' });
      const other = await app.request('POST', '/orders/pay-retry/payments', { channel: 'sandbox-wallet' });

      expect([first.status, retry.status, other.status]).toEqual([201, 200, 201]);
      expect(retry.body).toEqual(first.body);
      expect(other.body.paymentId).not.toBe(first.body.paymentId);
    });
  });

  describe('a payment', () => {
    it('reads as documented, before and after it is paid', async () => {
      const order = await app.request('POST', '/orders', { orderId: 'shape-1', amount: 4200, currency: 'JPY' });
      const started = await app.request('POST', '/orders/shape-1/payments', { channel: 'sandbox-bank', returnUrl: 'https://shop.example/orders/shape-1' });
      expect(started.status).toBe(201);

      const pending = await app.request('GET', `/payments/${started.body.paymentId}`);
      expect(pending.status).toBe(200);
      expect(pending.body).toEqual(started.body);
      expect(pending.body).toMatchObject({ orderId: 'shape-1', channel: 'sandbox-bank', amount: 4200, currency: 'JPY', status: 'pending' });
      expect(pending.body.paymentId).toMatch(PAYMENT_ID);
      expect(pending.body.timeExpire).toMatch(ISO_UTC);
      expect(pending.body.createdAt).toMatch(ISO_UTC);
      expect(URL.canParse(pending.body.payUrl)).toBe(true);
      expect(Date.parse(pending.body.timeExpire)).toBeLessThanOrEqual(Date.parse(order.body.expiresAt));

      expect((await app.pay(started.body.paymentId)).status).toBe(200);
      const paid = await eventually(
        () => app.request('GET', `/payments/${started.body.paymentId}`),
        (answer) => answer.body.status === 'succeeded',
        10_000,
        'payment succeeded',
      );
      expect(paid.body).toMatchObject({ paymentId: started.body.paymentId, orderId: 'shape-1', amount: 4200, currency: 'JPY' });
      expect(paid.body.channelTradeNo).toEqual(expect.stringMatching(/\S/));
      expect(paid.body.paidAt).toMatch(ISO_UTC);
    });

    it('answers an unknown paymentId with 404 not-found', async () => {
      expectProblem(await app.request('GET', '/payments/pay_doesnotexist'), 404, 'not-found');
    });
  });
});

describe('the orders contract with the default channel margin and minimum validity', () => {
  let app: TestApp;
  beforeAll(async () => {
    // An empty value leaves the setting to the service's own default (30 s margin, 60 s minimum).
    app = await startTestApp({ CHANNEL_EXPIRY_MARGIN_SECONDS: '', PAYMENT_MIN_VALIDITY_SECONDS: '' });
  });
  afterAll(() => app.close());

  it('tells the channel a timeExpire at least 30 s before the order expires', async () => {
    expect(app.running.config.channelExpiryMarginSeconds).toBe(30);
    for (const [orderId, expiresInSeconds] of [['margin-long', 1800], ['margin-short', 95]] as const) {
      const order = await app.request('POST', '/orders', { orderId, amount: 1000, currency: 'CNY', expiresInSeconds });
      for (const channel of ['sandbox-bank', 'sandbox-wallet']) {
        const started = await app.request('POST', `/orders/${orderId}/payments`, { channel });
        expect(started.status).toBe(201);
        const payment = await app.request('GET', `/payments/${started.body.paymentId}`);
        expect(payment.body.timeExpire).toMatch(ISO_UTC);
        expect(Date.parse(payment.body.timeExpire)).toBeLessThanOrEqual(Date.parse(order.body.expiresAt) - 30_000);
      }
    }
  });

  it('refuses to start a payment with less than 60 s of validity left as validity-too-short, recording nothing', async () => {
    await app.request('POST', '/orders', { orderId: 'too-short', amount: 1000, currency: 'CNY', expiresInSeconds: 45 });
    await expectNothingRecorded(
      app,
      () => app.request('POST', '/orders/too-short/payments', { channel: 'sandbox-bank' }),
      (answer) => expectProblem(answer, 422, 'validity-too-short'),
    );
    expect((await app.request('GET', '/orders/too-short')).body).toMatchObject({ status: 'pending', payments: [] });
  });
});
