/**
 * The hosted checkout in a real browser: Debian's Chromium driven through playwright-core against
 * the real service (in-process sandbox gateway), one test per payer journey of issue 11. Where a
 * journey moves money, the provider's own record (the sandbox trade) is checked, not only ours.
 * Screenshots of each state go to test/browser/screenshots/ (git-ignored; CI keeps it as an artifact).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { readStream } from '../support/audit-log.js';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';
import { listenLocally } from '../support/local-server.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url));
const MISSING = `${CHROMIUM} is missing (apt-get install -y chromium)`;

if (!existsSync(CHROMIUM) && process.env.CI === 'true') {
  // Under CI the browser journeys are part of the proof: no browser is a failure, not a skip.
  describe('the hosted checkout in Chromium', () => {
    it('needs Chromium under CI', () => {
      throw new Error(`${MISSING}: .ci/run installs it`);
    });
  });
}

const suite = existsSync(CHROMIUM) ? describe : describe.skip;

suite(existsSync(CHROMIUM) ? 'the hosted checkout in Chromium' : `the hosted checkout in Chromium (skipped: ${MISSING})`, () => {
  let app: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  /** Console errors and uncaught exceptions of every page: a CSP violation shows up here. */
  let problems: string[];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // 3 s of least validity: journey 5 sees the buttons turn off before the order ends.
    [app, browser] = await Promise.all([
      startTestApp({ PAYMENT_MIN_VALIDITY_SECONDS: '3' }),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-background-networking'] }),
    ]);
  }, 30_000);
  afterAll(async () => {
    if (browser !== undefined) await composeFlow();
    await browser?.close();
    await app?.close();
  });

  /** The flow in one picture (the README's docs/checkout.png is a copy): pay, the dialog, paid. */
  async function composeFlow(): Promise<void> {
    const states = ['en-1-pay', 'en-2-dialog', 'en-3-paid'].map((name) => join(SHOTS, `${name}.png`));
    if (!states.every((path) => existsSync(path))) return;
    const page = await browser.newPage({ viewport: { width: 1300, height: 780 } });
    const images = states.map((path) => `<img alt="" src="data:image/png;base64,${readFileSync(path).toString('base64')}">`).join('');
    await page.setContent(`<body style="margin:0;padding:10px;display:flex;gap:10px;background:#d9dee7">${images}</body>`);
    await page.screenshot({ path: join(SHOTS, 'flow-en.png'), fullPage: true });
    await page.close();
  }

  beforeEach(async () => {
    problems = [];
    context = await newContext('en-US');
  });
  afterEach(async () => {
    await context.close();
    await app.faults({});
    expect(problems).toEqual([]);
  });

  async function newContext(locale: string): Promise<BrowserContext> {
    const created = await browser.newContext({ locale, viewport: { width: 420, height: 760 } });
    // Remembers the most payment buttons the checkout page ever showed, to prove none flashed up.
    await created.addInitScript(() => {
      const seen = window as unknown as { paymentButtonsSeen: number };
      seen.paymentButtonsSeen = 0;
      new MutationObserver(() => {
        seen.paymentButtonsSeen = Math.max(seen.paymentButtonsSeen, document.querySelectorAll('#channels button').length);
      }).observe(document, { childList: true, subtree: true });
    });
    created.on('page', watch);
    return created;
  }

  function watch(page: Page): void {
    page.on('console', (message) => {
      // A 404 or 410 page is logged as a failed load: expected where a journey opens one.
      if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) {
        problems.push(`${page.url()}: ${message.text()}`);
      }
    });
    page.on('pageerror', (error) => problems.push(`${page.url()}: ${error.message}`));
  }

  async function placeOrder(orderId: string, extra: Record<string, unknown> = {}): Promise<void> {
    const answer = await app.request('POST', '/orders', { orderId, amount: 1999, currency: 'CNY', description: 'Tea set', ...extra });
    expect(answer.status).toBe(201);
  }

  /** A session on the order, sending the payer back to the shop afterwards: its page's URL. */
  async function openSession(orderId: string, extra: Record<string, unknown> = {}): Promise<string> {
    const answer = await app.request('POST', `/orders/${orderId}/checkout-sessions`, { returnUrl: `https://shop.example/orders/${orderId}`, ...extra });
    expect(answer.status).toBe(201);
    return answer.body.url;
  }

  const order = async (orderId: string) => (await app.request('GET', `/orders/${orderId}`)).body;
  const trade = async (provider: 'bank' | 'wallet', paymentId: string) => (await app.request('GET', `/sandbox/api/${provider}/trades/${paymentId}`)).body;
  const channelButton = (page: Page, name: string) => page.getByRole('button', { name, exact: true });
  const paymentButtons = (page: Page) => page.locator('#channels button');
  const buttonsEverShown = (page: Page) => page.evaluate(() => (window as unknown as { paymentButtonsSeen: number }).paymentButtonsSeen);
  const heading = (page: Page, name: string) => page.getByRole('heading', { name, exact: true });
  const paymentIdOf = (page: Page) => new URL(page.url()).pathname.split('/').at(-1) ?? '';
  const onCheckout = (url: string) => (page: URL) => page.pathname === new URL(url).pathname;
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  /** On the provider's page: the payer presses its "Pay" button (in the payer's language). */
  async function payAtProvider(page: Page, checkoutUrl: string, label = 'Pay'): Promise<void> {
    await page.getByRole('button', { name: label, exact: true }).click();
    await page.waitForURL(onCheckout(checkoutUrl));
  }

  /**
   * The payer switches to this tab. Headless Chromium keeps every page visible (no tab is ever
   * hidden behind another), so after bringing it to the front the switch is played as a browser
   * plays it to the page: hidden, then visible again, each with its visibilitychange event.
   */
  async function switchTo(page: Page): Promise<void> {
    await page.bringToFront();
    await page.evaluate(() => {
      for (const state of ['hidden', 'visible']) {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
        document.dispatchEvent(new Event('visibilitychange'));
      }
      delete (document as { visibilityState?: unknown }).visibilityState;
    });
  }

  it('1. pays with the bank in one tab, is shown paid back on the checkout page, and the back button shows no payment button', async () => {
    await placeOrder('bj-1');
    const url = await openSession('bj-1');
    const page = await context.newPage();
    await page.goto(url);
    await channelButton(page, 'Sandbox Bank').waitFor();
    expect(await paymentButtons(page).allTextContents()).toEqual(['Sandbox Bank', 'Sandbox Wallet']);
    await shot(page, 'en-1-pay');

    await channelButton(page, 'Sandbox Bank').click();
    await page.waitForURL(/\/sandbox\/pay\//);
    const paymentId = paymentIdOf(page);
    await shot(page, 'en-provider-pay-page');
    await payAtProvider(page, url);
    await heading(page, 'Payment received').waitFor();
    expect(await paymentButtons(page).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Back to the shop' }).getAttribute('href')).toBe('https://shop.example/orders/bj-1?orderId=bj-1&status=paid');
    await shot(page, 'en-3-paid');

    // Back: the provider's page (which says it is paid), then the checkout page as it was left.
    await page.goBack();
    expect(page.url()).toContain(`/sandbox/pay/${paymentId}`);
    await page.getByText('This payment has already been made').waitFor();
    await page.goBack();
    expect(onCheckout(url)(new URL(page.url()))).toBe(true);
    await heading(page, 'Payment received').waitFor();
    expect(await paymentButtons(page).count()).toBe(0);
    expect(await buttonsEverShown(page)).toBe(0);

    // At the provider: the one trade is paid, once, and nothing was given back.
    expect(await order('bj-1')).toMatchObject({ status: 'paid', paidBy: paymentId, payments: [{ paymentId, status: 'succeeded' }], refunds: [] });
    expect(await trade('bank', paymentId)).toMatchObject({ status: 'PAID', capturedAmount: 1999, refundedAmount: 0 });
  });

  it('2. comes back from the bank without paying: the dialog; "No, pay now", then the wallet pays and the bank trade is closed at the provider', async () => {
    await placeOrder('bj-2');
    const url = await openSession('bj-2');
    const page = await context.newPage();
    await page.goto(url);
    await channelButton(page, 'Sandbox Bank').click();
    await page.waitForURL(/\/sandbox\/pay\//);
    const bankPaymentId = paymentIdOf(page);

    await page.goBack();
    const dialog = page.getByRole('dialog', { name: 'Have you already completed the payment?' });
    await dialog.waitFor();
    expect(await buttonsEverShown(page)).toBe(0);
    await shot(page, 'en-2-dialog');

    await dialog.getByRole('button', { name: 'No, pay now' }).click();
    await page.getByText('You started paying with Sandbox Bank. Choosing another way to pay cancels that payment.').waitFor();
    await shot(page, 'en-2-pay-again');
    await channelButton(page, 'Sandbox Wallet').click();
    await page.waitForURL(/\/sandbox\/pay\//);
    const walletPaymentId = paymentIdOf(page);
    expect(walletPaymentId).not.toBe(bankPaymentId);
    // Closed at the provider before the payer was sent to the wallet: the bank trade can no longer be paid.
    expect(await trade('bank', bankPaymentId)).toMatchObject({ status: 'CLOSED' });
    expect((await app.pay(bankPaymentId)).status).toBe(409);

    await payAtProvider(page, url);
    await heading(page, 'Payment received').waitFor();
    expect(await order('bj-2')).toMatchObject({
      status: 'paid',
      paidBy: walletPaymentId,
      payments: [
        { paymentId: bankPaymentId, channel: 'sandbox-bank', status: 'closed' },
        { paymentId: walletPaymentId, channel: 'sandbox-wallet', status: 'succeeded' },
      ],
      refunds: [],
    });
    expect(await trade('wallet', walletPaymentId)).toMatchObject({ status: 'PAID', capturedAmount: 1999, refundedAmount: 0 });
    expect(await trade('bank', bankPaymentId)).toMatchObject({ status: 'CLOSED' });
  });

  it('3. pays at the provider with notifications dropped, comes back: the dialog; "Yes, I have paid" finds the payment by sync, and no second payment is possible', async () => {
    await app.faults({ dropNotifications: true });
    await placeOrder('bj-3');
    const url = await openSession('bj-3');
    const page = await context.newPage();
    await page.goto(url);
    await channelButton(page, 'Sandbox Bank').click();
    await page.waitForURL(/\/sandbox\/pay\//);
    const paymentId = paymentIdOf(page);

    // The payer pays the trade elsewhere (say, the bank's app), then comes back with the back button.
    expect((await app.pay(paymentId)).status).toBe(200);
    await page.goBack();
    const dialog = page.getByRole('dialog', { name: 'Have you already completed the payment?' });
    await dialog.waitFor();
    expect((await order('bj-3')).status).toBe('pending');

    await dialog.getByRole('button', { name: 'Yes, I have paid' }).click();
    await heading(page, 'Payment received').waitFor();
    expect(await paymentButtons(page).count()).toBe(0);
    expect(await buttonsEverShown(page)).toBe(0);
    const succeeded = (await readStream(app, `payment-${paymentId}`)).find((event) => event.type === 'PaymentSucceeded');
    expect(succeeded?.data.source).toBe('query');

    // No second payment: the session refuses one, and the page never offers it again.
    const second = await app.request('POST', `${new URL(url).pathname}/payments`, { channel: 'sandbox-wallet' });
    expect(second.status).toBe(409);
    expect(second.body.type).toBe('https://payguard.dev/problems/order-not-payable');
    await page.reload();
    await heading(page, 'Payment received').waitFor();
    expect(await buttonsEverShown(page)).toBe(0);
    expect(await order('bj-3')).toMatchObject({ status: 'paid', paidBy: paymentId, payments: [{ paymentId }], refunds: [] });
    expect(await trade('bank', paymentId)).toMatchObject({ status: 'PAID', capturedAmount: 1999, refundedAmount: 0 });
  });

  it('4. two tabs on one session: pay in the first; the second, brought to the front, shows the result', async () => {
    await placeOrder('bj-4');
    const url = await openSession('bj-4');
    const first = await context.newPage();
    const second = await context.newPage();
    await first.goto(url);
    await second.goto(url);
    await channelButton(second, 'Sandbox Bank').waitFor();

    await channelButton(first, 'Sandbox Bank').click();
    await first.waitForURL(/\/sandbox\/pay\//);
    const paymentId = paymentIdOf(first);
    await payAtProvider(first, url);
    await heading(first, 'Payment received').waitFor();

    await switchTo(second);
    await heading(second, 'Payment received').waitFor();
    expect(await paymentButtons(second).count()).toBe(0);
    await shot(second, 'en-4-second-tab');
    expect(await order('bj-4')).toMatchObject({ status: 'paid', payments: [{ paymentId, status: 'succeeded' }], refunds: [] });
    expect(await trade('bank', paymentId)).toMatchObject({ status: 'PAID', refundedAmount: 0 });
  });

  it('5. an order that expires while the page is open: the buttons go off, and the countdown ends on "expired" with no button', async () => {
    await placeOrder('bj-5', { expiresInSeconds: 6 });
    const url = await openSession('bj-5');
    const page = await context.newPage();
    await page.goto(url);
    await channelButton(page, 'Sandbox Bank').waitFor();
    expect(await page.locator('#countdown').textContent()).toMatch(/^Time left to pay: 0:0[1-6]$/);
    await shot(page, 'en-5-countdown');

    // Under PAYMENT_MIN_VALIDITY_SECONDS (3 s here) left: no payment can start, and the page says why.
    await page.getByText('Less than 3 seconds are left: a payment can no longer be started.').waitFor({ timeout: 6_000 });
    expect(await channelButton(page, 'Sandbox Bank').isDisabled()).toBe(true);
    expect(await channelButton(page, 'Sandbox Wallet').isDisabled()).toBe(true);
    await shot(page, 'en-5-too-late');

    await heading(page, 'This order has expired').waitFor({ timeout: 8_000 });
    expect(await paymentButtons(page).count()).toBe(0);
    await shot(page, 'en-5-expired');
    await eventually(() => order('bj-5'), (view) => view.status === 'expired', 5_000, 'the order expired');
    expect((await order('bj-5')).payments).toEqual([]);
  });

  it('6. a double click on a channel button makes one payment attempt', async () => {
    await placeOrder('bj-6');
    const url = await openSession('bj-6');
    const page = await context.newPage();
    await page.goto(url);
    const tradesBefore = (await app.request('GET', '/sandbox/api/bank/trades')).body.trades.length;
    await channelButton(page, 'Sandbox Bank').dblclick();
    await page.waitForURL(/\/sandbox\/pay\//);

    const view = await order('bj-6');
    expect(view.payments).toHaveLength(1);
    expect(view.payments[0]).toMatchObject({ paymentId: paymentIdOf(page), channel: 'sandbox-bank', status: 'pending' });
    expect((await app.request('GET', '/sandbox/api/bank/trades')).body.trades).toHaveLength(tradesBefore + 1);
  });

  it('7. renders in Chinese (zh-CN) and English, every state', async () => {
    await placeOrder('bj-7');
    const url = await openSession('bj-7');
    const zh = await newContext('zh-CN');
    try {
      const page = await zh.newPage();
      await page.goto(url);
      await channelButton(page, '沙箱银行').waitFor();
      expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
      expect(await paymentButtons(page).allTextContents()).toEqual(['沙箱银行', '沙箱钱包']);
      await heading(page, '支付订单').waitFor();
      expect(await page.locator('#countdown').textContent()).toMatch(/^剩余支付时间：\d+:\d\d$/);
      await shot(page, 'zh-CN-1-pay');

      await channelButton(page, '沙箱银行').click();
      await page.waitForURL(/\/sandbox\/pay\//);
      expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
      await shot(page, 'zh-CN-provider-pay-page');
      await page.goBack();
      const dialog = page.getByRole('dialog', { name: '您是否已完成支付？' });
      await dialog.waitFor();
      await shot(page, 'zh-CN-2-dialog');
      await dialog.getByRole('button', { name: '否，现在支付' }).click();
      await page.getByText('您已通过沙箱银行发起支付。选择其他支付方式将关闭该笔支付。').waitFor();
      // The same channel again reuses its open trade.
      await channelButton(page, '沙箱银行').click();
      await page.waitForURL(/\/sandbox\/pay\//);
      await payAtProvider(page, url, '支付');
      await heading(page, '已收到付款').waitFor();
      await page.getByRole('link', { name: '返回商家' }).waitFor();
      await shot(page, 'zh-CN-3-paid');
      expect((await order('bj-7')).payments).toHaveLength(1);

      // The payer's own choice of language wins over the browser's.
      await page.goto(`${url}?lang=en`);
      await heading(page, 'Payment received').waitFor();
      expect(await page.locator('html').getAttribute('lang')).toBe('en');

      // The channels' return page, for a payment with no returnUrl: declined, in both languages.
      await placeOrder('bj-7-return');
      const started = await app.request('POST', '/orders/bj-7-return/payments', { channel: 'sandbox-wallet' });
      expect((await app.request('POST', `/sandbox/pay/${started.body.paymentId}`, { outcome: 'fail' })).status).toBe(200);
      await page.goto(`${app.url}/channels/sandbox-wallet/return?paymentId=${started.body.paymentId}`);
      await heading(page, '支付未成功').waitFor();
      await shot(page, 'zh-CN-return-declined');
      await page.goto(`${app.url}/channels/sandbox-wallet/return?paymentId=${started.body.paymentId}&lang=en`);
      await heading(page, 'Payment declined').waitFor();
      await shot(page, 'en-return-declined');
      await page.goto(`${app.url}/channels/sandbox-wallet/return?paymentId=pay_unknown`);
      await heading(page, '未知的支付').waitFor();
      await shot(page, 'zh-CN-return-unknown');
      await page.goto(`${app.url}/checkout/not-a-session`);
      await heading(page, '支付链接无效').waitFor();
      await shot(page, 'zh-CN-link-invalid');
    } finally {
      await zh.close();
    }
  });
  it("8. guard.js gives a shop's own page the same guard, under the shop's CSP, from another origin", async () => {
    await placeOrder('bj-8');
    const shop = await shopServer();
    try {
      const url = await openSession('bj-8', { returnUrl: `${shop.origin}/pay/bj-8` });
      shop.sessions.set('bj-8', url);
      const page = await context.newPage();
      await page.goto(`${shop.origin}/pay/bj-8`);
      const said = page.locator('#shop-state');
      await page.getByText('pay:sandbox-bank,sandbox-wallet').waitFor();

      await page.getByRole('button', { name: 'Bank (shop button)' }).click();
      await page.waitForURL(/\/sandbox\/pay\//);
      const paymentId = paymentIdOf(page);
      await page.goBack();
      await page.getByText('confirm:sandbox-bank').waitFor();

      // Paid at the provider: its return sends the payer to the shop's page, where the guard says paid.
      await page.goForward();
      await page.getByRole('button', { name: 'Pay', exact: true }).click();
      await page.waitForURL((target) => target.origin === shop.origin);
      expect(Object.fromEntries(new URL(page.url()).searchParams)).toEqual({ orderId: 'bj-8', paymentId, status: 'paid' });
      await page.getByText('result:paid').waitFor();
      expect(await said.getAttribute('data-events')).toContain('payguard:result');
      expect(await trade('bank', paymentId)).toMatchObject({ status: 'PAID', refundedAmount: 0 });
    } finally {
      await new Promise((resolve) => shop.server.close(resolve));
    }
  });

  /**
   * A shop of its own origin whose payment page uses guard.js, under a CSP that allows scripts only
   * from itself and from Payguard: it shows what the guard told it in #shop-state.
   */
  async function shopServer(): Promise<{ server: Server; origin: string; sessions: Map<string, string> }> {
    const sessions = new Map<string, string>();
    const shopScript = `
      const state = document.getElementById('shop-state');
      const seen = [];
      for (const name of ['payguard:pay', 'payguard:confirm', 'payguard:result']) {
        window.addEventListener(name, () => { seen.push(name); state.dataset.events = seen.join(' '); });
      }
      const guard = PayguardCheckout.guard({
        session: state.dataset.session,
        onPay: (s) => { state.textContent = 'pay:' + s.channels.join(','); },
        onConfirm: (s) => { state.textContent = 'confirm:' + s.payment.channel; },
        onResult: (s) => { state.textContent = 'result:' + s.status; },
        onError: (e) => { state.textContent = 'error:' + e.message; },
      });
      document.getElementById('bank').addEventListener('click', () => guard.pay('sandbox-bank'));`;
    const { server, origin } = await listenLocally(() => async (request, response) => {
      const path = new URL(request.url ?? '/', 'http://shop').pathname;
      if (path === '/shop.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(shopScript);
      const session = sessions.get(path.replace(/^\/pay\//, '')) ?? '';
      response
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': `default-src 'self'; script-src 'self' ${app.url}; connect-src ${app.url}` })
        .end(
          `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>` +
            `<script src="${app.url}/checkout/guard.js"></script><script src="/shop.js" defer></script></head>` +
            `<body><p id="shop-state" data-session="${session}">loading</p><button id="bank">Bank (shop button)</button></body></html>`,
        );
    });
    return { server, origin, sessions };
  }
});
