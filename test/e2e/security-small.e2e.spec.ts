/**
 * The smaller items of "Safe to deploy", over HTTP against the real service: currencies are
 * ISO 4217, Alipay's seller is checked, API keys are one per holder, a misconfigured sandbox
 * gateway is a 503 (not a 500), and every problem type resolves to a page the service serves.
 * Every refusal appends nothing to the log.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Server } from 'node:http';
import { PROBLEM_SLUGS, problem } from '../../src/infrastructure/http/problem.js';
import { PROBLEM_PAGES } from '../../src/infrastructure/http/problems.controller.js';
import { AlipayStandIn } from '../support/alipay-stand-in.js';
import { eventsOfPayment, logHead, readLog, typesOf } from '../support/audit-log.js';
import { startTestApp, type TestApp } from '../support/harness.js';
import { listenLocally } from '../support/local-server.js';

const PROBLEMS = 'https://payguard.dev/problems/';
const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };

describe('POST /orders takes active ISO 4217 currencies only', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it.each(['XYZ', 'ABC', 'HRK', 'XAU', 'cny', 'CNYY'])('refuses %p with 400 validation naming currency, and records nothing', async (currency) => {
    const before = await logHead(app);

    const answer = await app.request('POST', '/orders', { orderId: `cur-${currency}`, amount: 1999, currency });

    expect(answer.status).toBe(400);
    expect(answer.body.type).toBe(`${PROBLEMS}validation`);
    expect(answer.body.errors).toEqual([{ field: 'currency', message: expect.stringMatching(/ISO 4217/) }]);
    expect(await logHead(app)).toBe(before);
    expect((await app.request('GET', `/orders/cur-${currency}`)).status).toBe(404);
  });

  it.each([
    ['JPY', 1999],
    ['KWD', 1999],
    ['EUR', 1999],
  ])('places an order in %p, its amount in that currency minor units', async (currency, amount) => {
    const answer = await app.request('POST', '/orders', { orderId: `cur-ok-${currency}`, amount, currency });

    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ amount, currency });
  });
});

describe('ALIPAY_SELLER_ID: notifications and query answers of another seller', () => {
  const APP_ID = '2021000000000077';
  const SELLER = '2088000000000077';
  const OTHER_SELLER = '2088999999999999';
  const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let alipay: AlipayStandIn;
  let app: TestApp;

  beforeAll(async () => {
    alipay = await AlipayStandIn.start({ appId: APP_ID, appPublicKey: appKeys.publicKey, sellerId: SELLER });
    app = await startTestApp({
      ALIPAY_APP_ID: APP_ID,
      ALIPAY_PRIVATE_KEY: appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      ALIPAY_PUBLIC_KEY: alipay.alipayPublicKeyPem,
      ALIPAY_GATEWAY_URL: alipay.gatewayUrl,
      ALIPAY_SELLER_ID: SELLER,
    });
  });
  afterAll(async () => {
    await app.close();
    await alipay.close();
  });
  afterEach(() => {
    alipay.faults = {};
  });

  /** An alipay payment the payer has paid at Alipay; the stand-in's own notification is held back. */
  async function paidAtAlipay(orderId: string): Promise<string> {
    expect((await app.request('POST', '/orders', { orderId, amount: 1999, currency: 'CNY' })).status).toBe(201);
    const started = await app.request('POST', `/orders/${orderId}/payments`, { channel: 'alipay' });
    expect(started.status).toBe(201);
    alipay.faults = { dropNotifications: true };
    await alipay.payerPays(started.body.payUrl);
    return started.body.paymentId;
  }

  it('answers "fail" to a notification Alipay signed for another seller, and records nothing', async () => {
    const paymentId = await paidAtAlipay('seller-notify');
    const before = await logHead(app);

    const response = await fetch(`${app.url}/channels/alipay/notifications`, {
      method: 'POST',
      headers: FORM,
      body: alipay.notificationBody(paymentId, { seller_id: OTHER_SELLER }),
    });

    expect(response.status).toBe(400);
    expect(await response.text()).toBe('fail');
    expect(await logHead(app)).toBe(before);
    expect((await app.request('GET', `/payments/${paymentId}`)).body.status).toBe('pending');

    // The same notification from our own seller is recorded.
    const ours = await fetch(`${app.url}/channels/alipay/notifications`, { method: 'POST', headers: FORM, body: alipay.notificationBody(paymentId) });
    expect(await ours.text()).toBe('success');
    expect((await app.request('GET', `/payments/${paymentId}`)).body.status).toBe('succeeded');
  });

  it("answers a sync whose query names another seller with 503 channel-unavailable, and records nothing", async () => {
    const paymentId = await paidAtAlipay('seller-query');
    alipay.faults = { dropNotifications: true, foreignSellerId: OTHER_SELLER };
    const before = await logHead(app);

    const sync = await app.request('POST', `/payments/${paymentId}/sync`);

    expect(sync.status).toBe(503);
    expect(sync.body).toMatchObject({ type: `${PROBLEMS}channel-unavailable`, status: 503 });
    expect(await logHead(app)).toBe(before);
    expect(typesOf(eventsOfPayment(await readLog(app), paymentId))).not.toContain('PaymentSucceeded');

    alipay.faults = { dropNotifications: true };
    const synced = await app.request('POST', `/payments/${paymentId}/sync`);
    expect(synced.body).toMatchObject({ status: 'succeeded' });
  });
});

describe('API_KEYS: one key, one holder', () => {
  it.each([
    ['the same key twice', 'dup-secret-1:merchantA,dup-secret-1:merchantA'],
    ['the same key for two merchants', 'dup-secret-1:merchantA,dup-secret-1:merchantB'],
    ['the same key for a merchant and the operator', 'dup-secret-1:merchantA,dup-secret-1:*:operator'],
  ])('refuses to start with %s: a ConfigError naming the problem, never the key', async (_what, keys) => {
    const start = startTestApp({ API_KEYS: keys });

    await expect(start).rejects.toMatchObject({ name: 'ConfigError', message: expect.stringMatching(/API_KEYS entries 1 and 2 use the same key/) });
    await expect(start).rejects.toMatchObject({ message: expect.not.stringContaining('dup-secret-1') });
  });
});

describe('SANDBOX_GATEWAY_URL pointing at something that is not a sandbox gateway', () => {
  let mode: 'html-404' | 'json-404' | 'html-200' | 'json-401' = 'html-404';
  let server: Server;
  let app: TestApp;

  beforeAll(async () => {
    const listening = await listenLocally(() => async (_request, response) => {
      if (mode === 'html-404') return void response.writeHead(404, { 'content-type': 'text/html' }).end('<html><body><h1>Not Found</h1></body></html>');
      if (mode === 'html-200') return void response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Welcome to nginx!</body></html>');
      if (mode === 'json-401') return void response.writeHead(401, { 'content-type': 'application/problem+json' }).end(JSON.stringify(problem('unauthorized', 'key needed')));
      // Another service's (even another Payguard's) own 404: JSON, but no gateway here.
      response.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify(problem('not-found', 'no route POST /api/bank/trades')));
    });
    server = listening.server;
    // A very likely slip: the service's base URL, without /sandbox.
    app = await startTestApp({ SANDBOX_GATEWAY_URL: listening.origin });
  });
  afterAll(async () => {
    await app.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it.each(['html-404', 'json-404', 'html-200', 'json-401'] as const)('answers a payment start with 503 channel-unavailable (%s), not 500 internal', async (answer) => {
    mode = answer;
    const orderId = `misconfigured-${answer}`;
    expect((await app.request('POST', '/orders', { orderId, amount: 1999, currency: 'CNY' })).status).toBe(201);

    const started = await app.request('POST', `/orders/${orderId}/payments`, { channel: 'sandbox-bank' });

    expect(started.status).toBe(503);
    expect(started.body).toMatchObject({ type: `${PROBLEMS}channel-unavailable`, status: 503, detail: expect.stringMatching(/sandbox-bank/) });
    // As for any provider out of reach: the attempt stays recorded (payUrl null), and no trade is opened.
    const order = await app.request('GET', `/orders/${orderId}`);
    expect(order.body.payments).toEqual([expect.objectContaining({ channel: 'sandbox-bank', status: 'pending', payUrl: null })]);
    expect(typesOf(eventsOfPayment(await readLog(app), order.body.payments[0].paymentId))).not.toContain('PaymentTradeOpened');
  });

  it("does not take a host that isn't the gateway for a provider saying the trade does not exist", async () => {
    mode = 'json-404';
    const orderId = 'misconfigured-sync';
    expect((await app.request('POST', '/orders', { orderId, amount: 1999, currency: 'CNY' })).status).toBe(201);
    const started = await app.request('POST', `/orders/${orderId}/payments`, { channel: 'sandbox-wallet' });
    expect(started.status).toBe(503);
    const paymentId = (await app.request('GET', `/orders/${orderId}`)).body.payments[0].paymentId as string;
    const before = await logHead(app);

    const sync = await app.request('POST', `/payments/${paymentId}/sync`);

    expect(sync.status).toBe(503);
    expect(sync.body.type).toBe(`${PROBLEMS}channel-unavailable`);
    expect(await logHead(app)).toBe(before);
  });
});

describe('GET /problems/{slug}: the pages problem types name', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ API_KEYS: 'pages-key:merchantA' });
  });
  afterAll(() => app.close());

  it('has a page written for every slug of problem.ts', () => {
    expect(Object.keys(PROBLEM_PAGES).sort()).toEqual([...PROBLEM_SLUGS].sort());
  });

  it.each([...PROBLEM_SLUGS])('serves %s as JSON, without an API key', async (slug) => {
    const answer = await app.request('GET', `/problems/${slug}`);

    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    const { title, status } = problem(slug, '');
    expect(answer.body).toEqual({ type: `${PROBLEMS}${slug}`, slug, title, status, when: expect.any(String), whatToDo: expect.any(String) });
    expect(answer.body.when.length).toBeGreaterThan(20);
    expect(answer.body.whatToDo.length).toBeGreaterThan(10);
  });

  it.each([...PROBLEM_SLUGS])('serves %s as a small HTML page to a browser', async (slug) => {
    const response = await fetch(`${app.url}/problems/${slug}`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    const html = await response.text();

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const { title, status } = problem(slug, '');
    const escaped = title.replace(/'/g, '&#39;');
    expect(html).toContain(`<h1>${escaped}</h1>`);
    expect(html).toContain(`<strong data-status>${status}</strong>`);
    expect(html).toContain(`${PROBLEMS}${slug}`);
    expect(html).toMatch(/When it happens[\s\S]*What to do/);
  });

  it('resolves the type of a real problem answer to its page', async () => {
    const refused = await app.request('POST', '/orders', { amount: 1999, currency: 'XYZ' }, { authorization: 'Bearer pages-key' });
    expect(refused.status).toBe(400);

    const page = await app.request('GET', new URL(refused.body.type).pathname);

    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ type: refused.body.type, title: refused.body.title, status: 400 });
  });

  it('answers an unknown slug 404 not-found', async () => {
    const answer = await app.request('GET', '/problems/no-such-problem');

    expect(answer.status).toBe(404);
    expect(answer.body.type).toBe(`${PROBLEMS}not-found`);
  });

  it('still asks for a key everywhere else', async () => {
    expect((await app.request('GET', '/orders')).status).toBe(401);
    expect((await app.request('GET', '/problems/unauthorized')).status).toBe(200);
  });
});
