/**
 * Signed webhooks and the merchant events feed, driven over HTTP as merchants would, with real
 * receivers: every event type once per fact, retries with the same id, merchants kept apart.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { eventually, startTestApp, type Answer, type TestApp } from '../support/harness.js';
import { startReceiver, type Receiver } from './webhooks-receiver.js';

const ALL_TYPES = ['order.paid', 'order.expired', 'order.closed', 'payment.succeeded', 'anomaly.detected', 'refund.succeeded', 'refund.failed', 'refund.resolved'];
const A = { authorization: 'Bearer key-a' };
const B = { authorization: 'Bearer key-b' };
const AUDITOR = { authorization: 'Bearer key-audit' };
const OPERATOR = { authorization: 'Bearer key-op' };

describe('webhooks and the events feed, with merchant keys', () => {
  let app: TestApp;
  const receivers: Receiver[] = [];
  const as = (who: Record<string, string>) => (method: string, path: string, body?: unknown): Promise<Answer> => app.request(method, path, body, who);
  const a = () => as(A);
  const b = () => as(B);

  beforeAll(async () => {
    app = await startTestApp({
      API_KEYS: 'key-a:merchant-a,key-b:merchant-b,key-audit:*:auditor,key-op:*:operator',
      SANDBOX_ENABLED: 'true',
      SANDBOX_SECRET: 'webhooks-e2e-sandbox-secret',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      // One failed refund attempt is final: refund.failed without waiting for retries.
      REFUND_MAX_ATTEMPTS: '1',
    });
  });
  afterAll(async () => {
    await app.close();
    for (const receiver of receivers) await receiver.close();
  });

  async function receiverFor(who: Record<string, string>, events: string[], answer?: Parameters<typeof startReceiver>[0]) {
    const receiver = await startReceiver(answer);
    receivers.push(receiver);
    const created = await as(who)('POST', '/webhook-endpoints', { url: receiver.url, events });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.stringMatching(/^we_/), url: receiver.url, events, createdAt: expect.any(String), secret: expect.stringMatching(/^whsec_/) });
    receiver.setSecret(created.body.secret);
    return { receiver, endpoint: created.body as { id: string; secret: string } };
  }

  const faults = async (set: Record<string, unknown>) => expect((await app.request('PUT', '/sandbox/faults', set, OPERATOR)).status).toBe(200);
  const place = async (who: Record<string, string>, orderId: string, extra: Record<string, unknown> = {}) =>
    expect((await as(who)('POST', '/orders', { orderId, amount: 1999, currency: 'CNY', ...extra })).status).toBe(201);
  const startPayment = async (who: Record<string, string>, orderId: string, channel: string): Promise<string> => {
    const answer = await as(who)('POST', `/orders/${orderId}/payments`, { channel });
    expect(answer.status).toBe(201);
    return answer.body.paymentId;
  };
  const order = (who: Record<string, string>, orderId: string, accept: (body: any) => boolean, what: string) =>
    eventually(() => as(who)('GET', `/orders/${orderId}`), (answer) => answer.status === 200 && accept(answer.body), 15_000, what);

  it('delivers every event type once per fact, signed, to the merchant that subscribed, and nothing to another merchant', async () => {
    const { receiver, endpoint } = await receiverFor(A, ALL_TYPES);
    const { receiver: other } = await receiverFor(B, ALL_TYPES);

    // A duplicate payment: order.paid, two payment.succeeded, anomaly.detected, refund.succeeded.
    await place(A, 'wh-dup');
    const bank = await startPayment(A, 'wh-dup', 'sandbox-bank');
    const wallet = await startPayment(A, 'wh-dup', 'sandbox-wallet');
    expect((await app.pay(bank)).status).toBe(200);
    await order(A, 'wh-dup', (body) => body.status === 'paid', 'wh-dup paid');
    expect((await app.pay(wallet)).status).toBe(200);
    await order(A, 'wh-dup', (body) => body.refunds[0]?.status === 'succeeded', 'wh-dup refunded');

    // A refund that fails for good (the provider is down, one attempt allowed), then resolved by an operator.
    await place(A, 'wh-fail');
    const bank2 = await startPayment(A, 'wh-fail', 'sandbox-bank');
    const wallet2 = await startPayment(A, 'wh-fail', 'sandbox-wallet');
    expect((await app.pay(bank2)).status).toBe(200);
    await order(A, 'wh-fail', (body) => body.status === 'paid', 'wh-fail paid');
    await faults({ apiDown: true });
    expect((await app.pay(wallet2)).status).toBe(200);
    await order(A, 'wh-fail', (body) => body.refunds[0]?.status === 'failed', 'wh-fail refund failed');
    await faults({});
    const resolved = await app.request('POST', `/refunds/refund-${wallet2}/resolve`, { resolution: 'refunded-outside', note: 'paid back by bank transfer' }, OPERATOR);
    expect(resolved.status).toBe(200);

    // An order that expires, one that is closed.
    await place(A, 'wh-exp', { expiresInSeconds: 1 });
    await order(A, 'wh-exp', (body) => body.status === 'expired', 'wh-exp expired');
    await place(A, 'wh-close');
    expect((await a()('POST', '/orders/wh-close/close', { reason: 'customer cancelled' })).status).toBe(200);

    // Merchant B's own order, paid.
    await place(B, 'wh-b');
    expect((await app.pay(await startPayment(B, 'wh-b', 'sandbox-bank'))).status).toBe(200);
    await order(B, 'wh-b', (body) => body.status === 'paid', 'wh-b paid');

    const expected = { 'order.paid': 2, 'payment.succeeded': 4, 'anomaly.detected': 2, 'refund.succeeded': 1, 'refund.failed': 1, 'refund.resolved': 1, 'order.expired': 1, 'order.closed': 1 };
    const total = Object.values(expected).reduce((sum, n) => sum + n, 0);
    await eventually(async () => receiver.acknowledged().length, (n) => n >= total, 15_000, 'every event delivered');
    await app.settle();
    // Every delivery recorded as acknowledged: nothing is still due that could come again.
    await eventually(() => a()('GET', `/webhook-endpoints/${endpoint.id}/deliveries`), (answer) => answer.body.deliveries.every((d: any) => d.status === 'succeeded'), 10_000, 'deliveries settled');

    const got = receiver.received;
    expect(got).toHaveLength(total);
    expect(new Set(got.map((r) => r.id)).size).toBe(total);
    const counts: Record<string, number> = {};
    for (const r of got) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toEqual(expected);
    expect(got.every((r) => r.signed && r.eventIdHeader === r.id)).toBe(true);
    expect(got.every((r) => ['wh-dup', 'wh-fail', 'wh-exp', 'wh-close'].includes(r.data.orderId))).toBe(true);

    const byType = (type: string) => got.filter((r) => r.type === type);
    expect(byType('refund.succeeded')[0].data).toEqual({
      refundId: `refund-${wallet}`, paymentId: wallet, orderId: 'wh-dup', amount: 1999, requestedAmount: 1999, currency: 'CNY', completedAt: expect.any(String),
    });
    expect(byType('refund.failed')[0].data).toMatchObject({ refundId: `refund-${wallet2}`, paymentId: wallet2, orderId: 'wh-fail', attempt: 1 });
    expect(byType('refund.resolved')[0].data).toEqual({ refundId: `refund-${wallet2}`, paymentId: wallet2, orderId: 'wh-fail', resolution: 'refunded-outside', resolvedAt: expect.any(String) });
    expect(byType('order.paid').map((r) => r.data)).toEqual(
      expect.arrayContaining([{ orderId: 'wh-dup', paymentId: bank, amount: 1999, currency: 'CNY', paidAt: expect.any(String) }]),
    );
    expect(byType('anomaly.detected').map((r) => r.data.kind)).toEqual(['duplicate-payment', 'duplicate-payment']);
    // No internals: the provider's raw notification is not passed on.
    expect(byType('payment.succeeded').every((r) => r.data.raw === undefined && r.data.amount === 1999 && r.data.currency === 'CNY')).toBe(true);

    // Merchant B got its own order's events only.
    await eventually(async () => other.acknowledged().length, (n) => n >= 2, 10_000, "merchant B's events");
    expect(other.received.map((r) => r.type).sort()).toEqual(['order.paid', 'payment.succeeded']);
    expect(other.received.every((r) => r.data.orderId === 'wh-b' && r.signed)).toBe(true);

    // The feed holds the same objects the webhooks delivered, paged, and only the merchant's own.
    const pages: any[] = [];
    let after = 0;
    for (;;) {
      const page = await a()('GET', `/events?after=${after}&limit=3`);
      expect(page.status).toBe(200);
      if (page.body.events.length === 0) break;
      expect(page.body.events.length).toBeLessThanOrEqual(3);
      pages.push(...page.body.events);
      after = page.body.next;
    }
    const delivered = new Map(got.map(({ id, type, createdAt, data }) => [id, { id, type, createdAt, data }]));
    expect(pages).toHaveLength(total);
    for (const event of pages) expect(event).toEqual(delivered.get(event.id));
    const refunds = await a()('GET', '/events?type=refund.failed,refund.resolved');
    expect(refunds.body.events.map((e: any) => e.type)).toEqual(['refund.failed', 'refund.resolved']);
    const ofB = await b()('GET', '/events');
    expect(ofB.body.events.map((e: any) => e.data.orderId)).toEqual(['wh-b', 'wh-b']);
    const audited = await app.request('GET', '/events?limit=1000', undefined, AUDITOR);
    expect(audited.body.events).toHaveLength(total + 2);

    // The endpoint's secret is nowhere in the event log auditors read.
    const log = await app.request('GET', '/audit/events?limit=1000', undefined, AUDITOR);
    expect(JSON.stringify(log.body)).not.toContain(endpoint.secret);

    // A resend sends the same event again, with the same id.
    const first = got[0];
    const resent = await a()('POST', `/webhook-endpoints/${endpoint.id}/deliveries/${first.id}/resend`);
    expect(resent.status).toBe(202);
    await eventually(async () => receiver.received.filter((r) => r.id === first.id).length, (n) => n === 2, 10_000, 'the resend');
    const twice = receiver.received.filter((r) => r.id === first.id);
    expect(twice[1]).toEqual({ ...first, answered: 200 });
  });

  it('retries a receiver that answers 500 until it acknowledges, with the same event id, and shows the attempts', async () => {
    const { receiver, endpoint } = await receiverFor(A, ['order.paid'], (_, count) => (count <= 3 ? 500 : 200));
    await place(A, 'wh-retry');
    expect((await app.pay(await startPayment(A, 'wh-retry', 'sandbox-bank'))).status).toBe(200);
    await eventually(async () => receiver.acknowledged().length, (n) => n === 1, 20_000, 'the delivery after three 500s');

    expect(receiver.received.map((r) => r.answered)).toEqual([500, 500, 500, 200]);
    expect(new Set(receiver.received.map((r) => r.id)).size).toBe(1);
    expect(receiver.received.every((r) => r.signed && r.type === 'order.paid' && r.data.orderId === 'wh-retry')).toBe(true);
    const deliveries = await eventually(
      () => a()('GET', `/webhook-endpoints/${endpoint.id}/deliveries`),
      (answer) => answer.body.deliveries[0]?.status === 'succeeded',
      10_000,
      'the delivery recorded',
    );
    expect(deliveries.body.deliveries).toEqual([
      {
        eventId: receiver.received[0].id,
        type: 'order.paid',
        status: 'succeeded',
        attemptCount: 4,
        attempts: [500, 500, 500, 200].map((statusCode) => ({ at: expect.any(String), statusCode, error: null })),
        nextAttemptAt: null,
        createdAt: expect.any(String),
      },
    ]);
    // Every try is counted by outcome; the three 500s are this app's only retries.
    const metrics = await app.request('GET', '/metrics', undefined, AUDITOR);
    expect(metrics.body).toMatch(/^payguard_webhook_deliveries_total\{outcome="retry"\} 3$/m);
    expect(metrics.body).toMatch(/^payguard_webhook_deliveries_total\{outcome="failed"\} 0$/m);
  });

  it("keeps each merchant's endpoints to itself", async () => {
    const { endpoint } = await receiverFor(A, ['order.closed']);
    expect((await b()('GET', `/webhook-endpoints/${endpoint.id}/deliveries`)).status).toBe(404);
    expect((await b()('DELETE', `/webhook-endpoints/${endpoint.id}`)).status).toBe(404);
    expect((await b()('GET', '/webhook-endpoints')).body.endpoints.map((e: any) => e.id)).not.toContain(endpoint.id);
    const listed = await a()('GET', '/webhook-endpoints');
    expect(listed.body.endpoints).toContainEqual({ id: endpoint.id, url: expect.any(String), events: ['order.closed'], createdAt: expect.any(String) });
    expect(JSON.stringify(listed.body)).not.toContain('whsec_');
    expect((await app.request('GET', '/webhook-endpoints', undefined, AUDITOR)).status).toBe(403);
    expect((await app.request('POST', '/webhook-endpoints', { url: 'https://example.com/h', events: ['order.paid'] }, OPERATOR)).status).toBe(403);
    expect((await a()('DELETE', `/webhook-endpoints/${endpoint.id}`)).status).toBe(204);
    expect((await a()('GET', `/webhook-endpoints/${endpoint.id}/deliveries`)).status).toBe(404);
  });

  it('answers what /openapi.json documents, field for field', async () => {
    const doc = (await app.request('GET', '/openapi.json')).body;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    // Closed: an object schema that names its properties refuses any other, so an undocumented field fails.
    const closed = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(closed);
      if (node === null || typeof node !== 'object') return node;
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) out[key] = key === '$ref' ? `doc${value as string}` : key === 'properties' ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, closed(v)])) : closed(value);
      if ('properties' in out && !('additionalProperties' in out)) out.additionalProperties = false;
      return out;
    };
    ajv.addSchema({ $id: 'doc', components: closed(doc.components) });
    const check = (method: string, path: string, answer: Answer) => {
      const response = doc.paths[path][method].responses[String(answer.status)];
      expect({ path, status: answer.status, documented: response !== undefined }).toEqual({ path, status: answer.status, documented: true });
      const validate = ajv.compile(closed(response.content['application/json'].schema) as object);
      expect({ path, errors: validate(answer.body) ? null : ajv.errorsText(validate.errors) }).toEqual({ path, errors: null });
    };
    const { receiver, endpoint } = await receiverFor(A, ['order.paid', 'order.closed']);
    await place(A, 'wh-doc');
    expect((await a()('POST', '/orders/wh-doc/close', {})).status).toBe(200);
    await eventually(async () => receiver.acknowledged().length, (n) => n === 1, 10_000, 'the close delivered');
    check('post', '/webhook-endpoints', await a()('POST', '/webhook-endpoints', { url: receiver.url, events: ['refund.failed'] }));
    check('get', '/webhook-endpoints', await a()('GET', '/webhook-endpoints'));
    const deliveries = await eventually(() => a()('GET', `/webhook-endpoints/${endpoint.id}/deliveries`), (answer) => answer.body.deliveries[0]?.status === 'succeeded', 10_000, 'recorded');
    check('get', '/webhook-endpoints/{id}/deliveries', deliveries);
    check('post', '/webhook-endpoints/{id}/deliveries/{eventId}/resend', await a()('POST', `/webhook-endpoints/${endpoint.id}/deliveries/${receiver.received[0].id}/resend`));
    check('get', '/events', await a()('GET', '/events?type=order.closed'));
  });

  it('refuses bad endpoints and bad feed queries with validation problems', async () => {
    const bad = async (body: unknown, field: string) => {
      const answer = await a()('POST', '/webhook-endpoints', body);
      expect(answer.status).toBe(400);
      expect(answer.headers.get('content-type')).toContain('application/problem+json');
      expect(answer.body.type).toBe('https://payguard.dev/problems/validation');
      expect(answer.body.errors.map((e: any) => e.field)).toContain(field);
    };
    await bad({ url: 'https://example.com/h', events: ['order.shipped'] }, 'events');
    await bad({ url: 'https://example.com/h', events: [] }, 'events');
    await bad({ url: 'https://example.com/h' }, 'events');
    await bad({ url: 'ftp://example.com/h', events: ['order.paid'] }, 'url');
    await bad({ url: 'https://user:pw@example.com/h', events: ['order.paid'] }, 'url');
    await bad({ url: `${app.url}/orders`, events: ['order.paid'] }, 'url');
    await bad({ url: 'https://example.com/h', events: ['order.paid'], secret: 'mine' }, 'secret');
    for (const query of ['limit=0', 'limit=1001', 'after=-1', 'after=x', 'type=order.shipped', 'merchant=x']) {
      const answer = await a()('GET', `/events?${query}`);
      expect([query, answer.status, answer.body.type]).toEqual([query, 400, 'https://payguard.dev/problems/validation']);
    }
  });
});

describe('webhook URLs without WEBHOOK_ALLOW_PRIVATE', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ EVENT_STORE: 'memory' });
  });
  afterAll(() => app.close());

  it.each(['http://127.0.0.1:9/hook', 'http://localhost:9/hook', 'http://10.1.2.3/hook', 'http://169.254.169.254/latest', 'http://[::1]:9/hook', 'http://[::ffff:192.168.1.1]/hook'])(
    'refuses %s: a private, loopback or link-local address',
    async (url) => {
      const answer = await app.request('POST', '/webhook-endpoints', { url, events: ['order.paid'] });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ type: 'https://payguard.dev/problems/validation', errors: [{ field: 'url', message: expect.stringContaining('WEBHOOK_ALLOW_PRIVATE') }] });
      expect((await app.request('GET', '/webhook-endpoints')).body.endpoints).toEqual([]);
    },
  );
});
