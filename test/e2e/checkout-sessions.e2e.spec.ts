/**
 * The hosted checkout over HTTP, as a shop and a payer's browser call it: sessions opened with a
 * merchant key, the page and its JSON endpoints reached with the session's token alone. The
 * journeys in a real browser are in test/browser/checkout.spec.ts.
 */
import { eventually, startTestApp, type Answer, type TestApp } from '../support/harness.js';

const PROBLEMS = 'https://payguard.dev/problems/';
const merchantA = { authorization: 'Bearer checkout-key-a' };
const merchantB = { authorization: 'Bearer checkout-key-b' };
const auditor = { authorization: 'Bearer checkout-key-audit' };
const operator = { authorization: 'Bearer checkout-key-operator' };
const html = { accept: 'text/html' };

/** The path of a session's page (its URL is on PUBLIC_BASE_URL). */
const pathOf = (url: string): string => new URL(url).pathname;

function expectValidation(answer: Answer, field: string): void {
  expect(answer.status).toBe(400);
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(answer.body.type).toBe(`${PROBLEMS}validation`);
  expect(answer.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
}

/** A payer's page: HTML with a viewport, its own stylesheet and icon, and no inline script or style. */
function expectPayerPage(answer: Answer, status: number, lang: string): string {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
  const body = answer.body as string;
  expect(body).toMatch(/^<!doctype html>/);
  expect(body).toContain(`<html lang="${lang}">`);
  expect(body).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
  expect(body).toMatch(/<link rel="stylesheet" href="[^"]+\.css">/);
  // It names its (empty) icon, so the browser does not ask for /favicon.ico and log a 404.
  expect(body).toContain('<link rel="icon" href="data:,">');
  expect(body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
  expect(body).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  expect(body).not.toMatch(/https?:\/\/(?!127\.0\.0\.1|shop\.example)/);
  return body;
}

describe('hosted checkout sessions (API keys)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      API_KEYS: 'checkout-key-a:shopA,checkout-key-b:shopB,checkout-key-audit:*:auditor,checkout-key-operator:*:operator',
      SANDBOX_ENABLED: 'true',
      SANDBOX_SECRET: 'checkout-e2e-sandbox-secret',
      CHECKOUT_SECRET: 'checkout-e2e-secret-of-at-least-32-characters',
      RETURN_URL_ORIGINS: 'https://shop.example',
    });
  });
  afterAll(() => app.close());
  afterEach(() => faults({}));

  /** A payment's events, as an auditor reads them. */
  async function eventsOf(paymentId: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
    const answer = await app.request('GET', `/audit/streams/payment-${paymentId}`, undefined, auditor);
    expect(answer.status).toBe(200);
    return answer.body.events;
  }

  /** The sandbox's fault switches are an operator's. */
  async function faults(set: Record<string, unknown>): Promise<void> {
    expect((await app.request('PUT', '/sandbox/faults', set, operator)).status).toBe(200);
  }

  async function sessionOn(orderId: string, body: Record<string, unknown> = { returnUrl: `https://shop.example/orders/${orderId}` }): Promise<{ url: string; expiresAt: string }> {
    const placed = await app.request('POST', '/orders', { orderId, amount: 1999, currency: 'CNY', expiresInSeconds: 600 }, merchantA);
    expect(placed.status).toBe(201);
    const answer = await app.request('POST', `/orders/${orderId}/checkout-sessions`, body, merchantA);
    expect(answer.status).toBe(201);
    return answer.body;
  }

  describe('POST /orders/{orderId}/checkout-sessions', () => {
    it('answers the page URL on PUBLIC_BASE_URL with an unguessable token, valid until the order ends plus the grace', async () => {
      const session = await sessionOn('co-open');
      const order = (await app.request('GET', '/orders/co-open', undefined, merchantA)).body;
      const token = pathOf(session.url).split('/').at(-1) ?? '';
      expect(session.url).toBe(`${app.url}/checkout/${token}`);
      // The token's MAC alone is 256 bits (43 base64url characters).
      expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
      const grace = 1800;
      expect(Date.parse(session.expiresAt)).toBe(Math.floor((Date.parse(order.expiresAt) + grace * 1000) / 1000) * 1000);
      // Two sessions on one order never share a token.
      const again = await app.request('POST', '/orders/co-open/checkout-sessions', {}, merchantA);
      expect(again.status).toBe(201);
      expect(again.body.url).not.toBe(session.url);
    });

    it('refuses what it cannot use with a problem, and opens nothing on another merchant\'s order', async () => {
      await app.request('POST', '/orders', { orderId: 'co-refuse', amount: 500, currency: 'CNY' }, merchantA);
      expectValidation(await app.request('POST', '/orders/co-refuse/checkout-sessions', { colour: 'red' }, merchantA), 'colour');
      expectValidation(await app.request('POST', '/orders/co-refuse/checkout-sessions', { locale: 'fr' }, merchantA), 'locale');
      expectValidation(await app.request('POST', '/orders/co-refuse/checkout-sessions', { returnUrl: 'javascript:alert(1)' }, merchantA), 'returnUrl');
      // The same origin rule as a payment's returnUrl: never an open redirect.
      for (const returnUrl of ['https://evil.example/phish', 'https://shop.example@evil.example/', 'http://shop.example/orders/1']) {
        expectValidation(await app.request('POST', '/orders/co-refuse/checkout-sessions', { returnUrl }, merchantA), 'returnUrl');
      }
      expectValidation(await app.request('POST', '/orders/bad%20id/checkout-sessions', {}, merchantA), 'orderId');

      const unknown = await app.request('POST', '/orders/co-nobody/checkout-sessions', {}, merchantA);
      expect(unknown.status).toBe(404);
      expect(unknown.body.type).toBe(`${PROBLEMS}not-found`);
      expect((await app.request('POST', '/orders/co-refuse/checkout-sessions', {}, merchantB)).status).toBe(404);
      expect((await app.request('POST', '/orders/co-refuse/checkout-sessions', {}, auditor)).status).toBe(403);
      expect((await app.request('POST', '/orders/co-refuse/checkout-sessions', {})).status).toBe(401);
    });

    it('opens a session on an order that just ended: it shows the result, never a payment', async () => {
      await sessionOn('co-closed');
      expect((await app.request('POST', '/orders/co-closed/close', {}, merchantA)).status).toBe(200);
      const session = await app.request('POST', '/orders/co-closed/checkout-sessions', {}, merchantA);
      expect(session.status).toBe(201);
      const state = await app.request('GET', `${pathOf(session.body.url)}/state`);
      expect(state.body).toMatchObject({ action: 'show-result', status: 'closed' });
    });
  });

  describe('the page and its endpoints, with the token alone', () => {
    it('serves the page without an API key, as HTML under a strict CSP, small, with no button in it', async () => {
      const session = await sessionOn('co-page');
      const page = await app.request('GET', pathOf(session.url), undefined, { ...html, 'accept-language': 'en-GB,en;q=0.9' });
      const body = expectPayerPage(page, 200, 'en');
      expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'.*style-src 'self'.*frame-ancestors 'none'/);
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      // The buttons come from the script, once the service said the order may be paid.
      expect(body).not.toContain('<button type="button" data-channel');
      expect(body).toContain('<script src="assets/checkout.js" defer></script>');

      const script = await app.request('GET', '/checkout/assets/checkout.js');
      const styles = await app.request('GET', '/checkout/assets/checkout.css');
      expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(styles.headers.get('content-type')).toMatch(/^text\/css/);
      const weight = [page, script, styles].reduce((sum, answer) => sum + Buffer.byteLength(answer.body as string), 0);
      expect(weight).toBeLessThan(50 * 1024);
    });

    it('speaks Chinese or English: ?lang= first, then the session\'s locale, then Accept-Language', async () => {
      const zhSession = await sessionOn('co-lang', { locale: 'zh-CN' });
      const path = pathOf(zhSession.url);
      expect(expectPayerPage(await app.request('GET', path, undefined, { ...html, 'accept-language': 'en' }), 200, 'zh-CN')).toContain('支付订单');
      expect(expectPayerPage(await app.request('GET', `${path}?lang=en`, undefined, html), 200, 'en')).toContain('Pay for your order');
      const plain = await app.request('POST', '/orders/co-lang/checkout-sessions', {}, merchantA);
      const browserChoice = await app.request('GET', pathOf(plain.body.url), undefined, { ...html, 'accept-language': 'fr;q=1, zh-TW;q=0.8, en;q=0.5' });
      expect(expectPayerPage(browserChoice, 200, 'zh-CN')).toContain('¥19.99');
    });

    it('answers a forged, altered or unknown token with 404 (a page, or a problem for the JSON endpoints)', async () => {
      const session = await sessionOn('co-forged');
      const token = pathOf(session.url).split('/').at(-1) ?? '';
      const [payload, mac] = token.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const otherOrder = Buffer.from(JSON.stringify({ ...claims, k: 'shopB.co-forged', m: 'shopB' })).toString('base64url');
      for (const forged of [`${otherOrder}.${mac}`, `${payload}.${'A'.repeat(43)}`, 'nothing-here']) {
        const state = await app.request('GET', `/checkout/${forged}/state`);
        expect(state.status).toBe(404);
        expect(state.body.type).toBe(`${PROBLEMS}not-found`);
        expect((await app.request('POST', `/checkout/${forged}/payments`, { channel: 'sandbox-bank' })).status).toBe(404);
        const page = await app.request('GET', `/checkout/${forged}`, undefined, html);
        expect(expectPayerPage(page, 404, 'en')).toContain('This payment link is not valid');
      }
      expect((await app.request('GET', '/orders/co-forged', undefined, merchantA)).body.payments).toEqual([]);
    });

    it("starts the merchant's payment, coming back to the checkout page although RETURN_URL_ORIGINS lists only the shop", async () => {
      const session = await sessionOn('co-pay');
      const path = pathOf(session.url);
      const started = await app.request('POST', `${path}/payments`, { channel: 'sandbox-bank' });
      expect(started.status).toBe(201);
      expect(started.headers.get('access-control-allow-origin')).toBe('*');
      expect(started.body).toMatchObject({ channel: 'sandbox-bank', status: 'pending', created: true, payUrl: `${app.url}/sandbox/pay/${started.body.paymentId}` });
      expect((await app.request('GET', '/orders/co-pay', undefined, merchantA)).body.payments).toMatchObject([{ paymentId: started.body.paymentId }]);
      expect((await app.request('GET', '/orders/co-pay', undefined, merchantB)).status).toBe(404);

      // A retry on the channel reuses the open trade.
      const retried = await app.request('POST', `${path}/payments`, { channel: 'sandbox-bank' });
      expect(retried.status).toBe(201);
      expect(retried.body).toMatchObject({ paymentId: started.body.paymentId, created: false });

      expect((await app.pay(started.body.paymentId)).status).toBe(200);
      const back = await app.request('GET', `/channels/sandbox-bank/return?paymentId=${started.body.paymentId}`, undefined, html);
      expect(back.status).toBe(302);
      const target = new URL(back.headers.get('location') ?? '');
      expect(`${target.origin}${target.pathname}`).toBe(session.url);
      const state = await app.request('GET', `${path}/state`);
      expect(state.body).toMatchObject({ action: 'show-result', status: 'paid', payment: { paymentId: started.body.paymentId }, returnUrl: 'https://shop.example/orders/co-pay' });
    });

    it('closes the attempt in flight at its provider before starting on another channel', async () => {
      const path = pathOf((await sessionOn('co-switch')).url);
      const bank = (await app.request('POST', `${path}/payments`, { channel: 'sandbox-bank' })).body;
      expect((await app.request('GET', `${path}/state`)).body).toMatchObject({ action: 'confirm-previous-attempt', payment: { paymentId: bank.paymentId } });

      const wallet = await app.request('POST', `${path}/payments`, { channel: 'sandbox-wallet' });
      expect(wallet.status).toBe(201);
      expect((await app.request('GET', `/sandbox/api/bank/trades/${bank.paymentId}`)).body.status).toBe('CLOSED');
      expect((await app.pay(bank.paymentId)).status).toBe(409);
      const types = (await eventsOf(bank.paymentId)).map((event) => event.type);
      expect(types).toEqual(['PaymentInitiated', 'PaymentTradeOpened', 'PaymentClosed']);
    });

    it('starts nothing on another channel while the attempt in flight cannot be closed at its provider', async () => {
      const path = pathOf((await sessionOn('co-cannot-close')).url);
      const bank = (await app.request('POST', `${path}/payments`, { channel: 'sandbox-bank' })).body;
      await faults({ apiDown: true });
      const refused = await app.request('POST', `${path}/payments`, { channel: 'sandbox-wallet' });
      expect(refused.status).toBe(503);
      expect(refused.body.type).toBe(`${PROBLEMS}channel-unavailable`);
      await faults({});
      expect((await app.request('GET', '/orders/co-cannot-close', undefined, merchantA)).body.payments).toMatchObject([{ paymentId: bank.paymentId, status: 'pending' }]);
    });

    it('refuses to switch when the attempt in flight turns out paid, and the order is paid once', async () => {
      const path = pathOf((await sessionOn('co-found-paid')).url);
      const bank = (await app.request('POST', `${path}/payments`, { channel: 'sandbox-bank' })).body;
      await faults({ dropNotifications: true });
      expect((await app.pay(bank.paymentId)).status).toBe(200);
      const refused = await app.request('POST', `${path}/payments`, { channel: 'sandbox-wallet' });
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ type: `${PROBLEMS}order-not-payable`, orderStatus: 'paid' });
      expect((await app.request('GET', '/orders/co-found-paid', undefined, merchantA)).body).toMatchObject({ status: 'paid', payments: [{ paymentId: bank.paymentId }] });
    });

    it('makes one attempt of concurrent starts from one session', async () => {
      const path = pathOf((await sessionOn('co-race')).url);
      const answers = await Promise.all(Array.from({ length: 4 }, () => app.request('POST', `${path}/payments`, { channel: 'sandbox-wallet' })));
      expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201, 201]);
      expect(new Set(answers.map((answer) => answer.body.paymentId)).size).toBe(1);
      expect((await app.request('GET', '/orders/co-race', undefined, merchantA)).body.payments).toHaveLength(1);
    });

    it('"Yes, I have paid" asks the channel, and a payment whose notification was lost is found', async () => {
      const path = pathOf((await sessionOn('co-confirm')).url);
      const bank = (await app.request('POST', `${path}/payments`, { channel: 'sandbox-bank' })).body;
      await faults({ dropNotifications: true });
      const notYet = await app.request('POST', `${path}/confirm`);
      expect(notYet.status).toBe(200);
      expect(notYet.body).toMatchObject({ action: 'confirm-previous-attempt', status: 'pending' });

      expect((await app.pay(bank.paymentId)).status).toBe(200);
      const found = await app.request('POST', `${path}/confirm`);
      expect(found.body).toMatchObject({ action: 'show-result', status: 'paid', payment: { paymentId: bank.paymentId, status: 'succeeded' } });
      const succeeded = (await eventsOf(bank.paymentId)).find((event) => event.type === 'PaymentSucceeded');
      expect(succeeded?.data.source).toBe('query');
    });

    it('answers CORS preflights and serves guard.js to other origins', async () => {
      const path = pathOf((await sessionOn('co-guard')).url);
      const preflight = await app.request('OPTIONS', `${path}/payments`, undefined, { origin: 'https://shop.example', 'access-control-request-method': 'POST' });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
      expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type');
      const guard = await app.request('GET', '/checkout/guard.js');
      expect(guard.status).toBe(200);
      expect(guard.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(guard.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
      expect(guard.body).toContain('PayguardCheckout');
    });
  });
});

describe('a checkout session after its order ended', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ CHECKOUT_GRACE_SECONDS: '1' });
  });
  afterAll(() => app.close());

  it('shows the result during the grace, then ends: 404 for its endpoints, 410 for its page', async () => {
    await app.request('POST', '/orders', { orderId: 'co-grace', amount: 800, currency: 'CNY' });
    const path = pathOf((await app.request('POST', '/orders/co-grace/checkout-sessions', {})).body.url);
    expect((await app.request('POST', '/orders/co-grace/close', {})).status).toBe(200);
    expect((await app.request('GET', `${path}/state`)).body).toMatchObject({ action: 'show-result', status: 'closed' });

    await eventually(() => app.request('GET', `${path}/state`), (answer) => answer.status === 404, 5_000, 'the session ended');
    const page = await app.request('GET', path, undefined, html);
    expect(expectPayerPage(page, 410, 'en')).toContain('This payment link has expired');
    expect((await app.request('POST', '/orders/co-grace/checkout-sessions', {})).body.type).toBe(`${PROBLEMS}order-not-payable`);
  });

  it('refuses a CHECKOUT_SECRET shorter than 32 characters at start-up', async () => {
    await expect(startTestApp({ CHECKOUT_SECRET: 'too-short' })).rejects.toMatchObject({ name: 'ConfigError', message: expect.stringMatching(/CHECKOUT_SECRET must be at least 32 characters/) });
  });
});

describe("the payer's other pages", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('answers an unknown payment on the return page with a page, never a problem document', async () => {
    for (const query of ['paymentId=pay_nobody', 'paymentId=not%20an%20id', '']) {
      const page = await app.request('GET', `/channels/sandbox-bank/return?${query}`, undefined, { ...html, 'accept-language': 'zh-CN' });
      expect(expectPayerPage(page, 404, 'zh-CN')).toContain('未知的支付');
    }
  });

  it('says declined, pending (and checks again by itself) or paid on the return page', async () => {
    await app.request('POST', '/orders', { orderId: 'co-return', amount: 800, currency: 'CNY' });
    const declined = (await app.request('POST', '/orders/co-return/payments', { channel: 'sandbox-bank' })).body;
    expect((await app.request('POST', `/sandbox/pay/${declined.paymentId}`, { outcome: 'fail' })).status).toBe(200);
    const declinedPage = expectPayerPage(await app.request('GET', `/channels/sandbox-bank/return?paymentId=${declined.paymentId}`, undefined, html), 200, 'en');
    expect(declinedPage).toContain('Payment declined');
    expect(declinedPage).not.toMatch(/waiting/i);
    expect(declinedPage).not.toContain('http-equiv="refresh"');

    const pending = (await app.request('POST', '/orders/co-return/payments', { channel: 'sandbox-wallet' })).body;
    const pendingPage = expectPayerPage(await app.request('GET', `/channels/sandbox-wallet/return?paymentId=${pending.paymentId}&lang=zh-CN`, undefined, html), 200, 'zh-CN');
    expect(pendingPage).toContain('正在等待支付结果');
    expect(pendingPage).toContain('<meta http-equiv="refresh" content="5">');

    expect((await app.pay(pending.paymentId)).status).toBe(200);
    const paidPage = expectPayerPage(await app.request('GET', `/channels/sandbox-wallet/return?paymentId=${pending.paymentId}`, undefined, html), 200, 'en');
    expect(paidPage).toContain('Payment received');
  });

  it("shows the provider's pay page in Chinese or English, styled from its own stylesheet", async () => {
    await app.request('POST', '/orders', { orderId: 'co-provider', amount: 800, currency: 'CNY' });
    const payment = (await app.request('POST', '/orders/co-provider/payments', { channel: 'sandbox-wallet' })).body;
    const zh = expectPayerPage(await app.request('GET', `/sandbox/pay/${payment.paymentId}`, undefined, { ...html, 'accept-language': 'zh-CN,zh;q=0.9' }), 200, 'zh-CN');
    expect(zh).toContain('沙箱钱包');
    expect(zh).toContain('>支付</button>');
    const en = expectPayerPage(await app.request('GET', `/sandbox/pay/${payment.paymentId}?lang=en`, undefined, html), 200, 'en');
    expect(en).toContain('>Pay</button>');
    const styles = await app.request('GET', '/sandbox/assets/pay.css');
    expect(styles.headers.get('content-type')).toMatch(/^text\/css/);
    expectPayerPage(await app.request('GET', '/sandbox/pay/pay_nobody', undefined, html), 404, 'en');
  });
});
