/**
 * Edges of the contract that an outside audit found loose: actions that take no body refuse
 * unknown fields like every other endpoint, the audit log's query is checked like the others, and
 * a validation message names the rule the value broke first.
 */
import { logHead } from '../support/audit-log.js';
import { startTestApp, type Answer, type TestApp } from '../support/harness.js';

const PROBLEMS = 'https://payguard.dev/problems/';

function expectValidation(answer: Answer, field: string, message?: string): void {
  expect(answer.status).toBe(400);
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(answer.body).toMatchObject({ type: `${PROBLEMS}validation`, status: 400 });
  expect(answer.body.errors).toEqual([{ field, message: message ?? expect.any(String) }]);
}

describe('edges of the contract', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  describe('an action that takes no body', () => {
    let paymentId: string;
    let checkoutToken: string;
    let endpointId: string;
    beforeAll(async () => {
      expect((await app.request('POST', '/orders', { orderId: 'edge-1', amount: 1999, currency: 'CNY' })).status).toBe(201);
      paymentId = (await app.request('POST', '/orders/edge-1/payments', { channel: 'sandbox-bank' })).body.paymentId;
      const session = await app.request('POST', '/orders/edge-1/checkout-sessions', {});
      expect(session.status).toBe(201);
      checkoutToken = new URL(session.body.url).pathname.split('/').at(-1) as string;
      const endpoint = await app.request('POST', '/webhook-endpoints', { url: 'http://127.0.0.1:9/hook', events: ['order.paid'] });
      endpointId = endpoint.body.id;
    });

    it.each([
      ['POST /payments/{id}/sync', () => `/payments/${paymentId}/sync`],
      ['POST /checkout/{token}/confirm', () => `/checkout/${checkoutToken}/confirm`],
      ['POST /webhook-endpoints/{id}/deliveries/{eventId}/resend', () => `/webhook-endpoints/${endpointId}/deliveries/evt-1/resend`],
    ])('%s refuses an unknown field with 400 validation and records nothing', async (_, path) => {
      await app.settle();
      const head = await logHead(app);
      expectValidation(await app.request('POST', path(), { x: 1 }), 'x');
      expect(await logHead(app)).toBe(head);
    });

    it('POST /payments/{id}/sync still takes no body, or {}', async () => {
      expect((await app.request('POST', `/payments/${paymentId}/sync`)).status).toBe(200);
      expect((await app.request('POST', `/payments/${paymentId}/sync`, {})).status).toBe(200);
    });
  });

  describe('the audit log', () => {
    it.each([
      ['/audit/events?foo=1&limit=1', 'foo'],
      ['/audit/events?limit=abc', 'limit'],
      ['/audit/streams/order-edge-1?foo=1', 'foo'],
    ])('refuses a query parameter it does not take: %s', async (path, field) => {
      expectValidation(await app.request('GET', path), field);
    });

    it('still reads with the parameters it takes', async () => {
      const page = await app.request('GET', '/audit/events?after=0&limit=1');
      expect(page.status).toBe(200);
      expect(page.body.events).toHaveLength(1);
    });
  });

  it("the sandbox's validation problems read as the service's own", async () => {
    const refused = await app.request('PUT', '/sandbox/faults', { bogus: 1 });
    expectValidation(refused, 'bogus');
    expect(refused.body).toMatchObject({ title: 'The request is not valid', detail: 'bogus: is not a known field' });
  });

  describe('a validation message', () => {
    it.each([
      [{ amount: '100', currency: 'CNY' }, 'amount', 'amount must be an integer number of minor units'],
      [{ currency: 'CNY' }, 'amount', 'amount is required'],
      [{ amount: 100, currency: 'CNY', expiresInSeconds: '60' }, 'expiresInSeconds', 'expiresInSeconds must be an integer number'],
      [{ amount: 100, currency: 'CNY', expiresInSeconds: 0 }, 'expiresInSeconds', 'expiresInSeconds must not be less than 1'],
    ])('names the first rule the value breaks: %j', async (body, field, message) => {
      expectValidation(await app.request('POST', '/orders', body), field, message);
    });
  });
});
