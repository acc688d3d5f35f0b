/**
 * The sandbox gateway over a real socket, driven through SandboxChannel as Payguard drives it,
 * with a tiny node:http server standing in for the merchant's notify endpoint.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  ChannelUnavailableError,
  NotificationRejectedError,
  type CreateTradeRequest,
} from '../../src/application/ports/channel.port.js';
import { SandboxChannel } from '../../src/infrastructure/channels/sandbox.channel.js';
import { SandboxGateway, SandboxGatewayError, type SandboxTradeParams } from '../../src/infrastructure/sandbox/sandbox-gateway.js';
import { signSandboxBody } from '../../src/infrastructure/sandbox/sandbox-signature.js';
import { SandboxModule, sandboxOptionsFromEnv } from '../../src/infrastructure/sandbox/sandbox.module.js';
import { waitFor } from '../support/wait.js';

const secret = 'int-test-secret';
const start = new Date('2026-11-26T10:00:00.000Z');
let clock = start;
const advance = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));

interface Delivery {
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: Buffer;
  readonly body: Record<string, any>;
  readonly answeredWith: number;
}

/** The merchant's notify endpoint: records every delivery and answers as `answer` says. */
class Merchant {
  readonly deliveries: Delivery[] = [];
  answer: (body: Record<string, any>) => number = () => 200;
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const body = JSON.parse(rawBody.toString('utf8'));
      const answeredWith = this.answer(body);
      this.deliveries.push({ headers: req.headers, rawBody, body, answeredWith });
      res.writeHead(answeredWith).end();
    });
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/notify`;
  }

  for(paymentId: string): Delivery[] {
    return this.deliveries.filter((delivery) => delivery.body.paymentId === paymentId);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}


describe('the sandbox gateway', () => {
  let app: INestApplication;
  let gatewayUrl: string;
  let notifyUrl: string;
  let bank: SandboxChannel;
  let wallet: SandboxChannel;
  const merchant = new Merchant();
  let sequence = 0;
  const nextPaymentId = () => `pay_int_${++sequence}`;

  const tradeRequest = (paymentId: string, overrides: Partial<CreateTradeRequest> = {}): CreateTradeRequest => ({
    paymentId,
    orderId: `order-${paymentId}`,
    amount: { amount: 1999, currency: 'EUR' },
    description: 'Two tickets',
    timeExpire: new Date(clock.getTime() + 15 * 60_000).toISOString(),
    notifyUrl,
    returnUrl: `https://shop.example/return?paymentId=${paymentId}`,
    ...overrides,
  });

  const sendJson = (method: string, url: string, body: unknown) =>
    fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const getJson = async (url: string) => (await fetch(url)).json() as Promise<Record<string, any>>;
  const tradeView = (provider: 'bank' | 'wallet', paymentId: string) => getJson(`${gatewayUrl}/api/${provider}/trades/${paymentId}`);
  const putFaults = (faults: unknown) => sendJson('PUT', `${gatewayUrl}/faults`, faults);
  const oneMinuteLater = () => new Date(start.getTime() + 60_000).toISOString();

  /** The payer presses Pay; JSON so the test can read the answer. */
  const pay = async (payUrl: string, outcome?: 'fail') => {
    const response = await fetch(payUrl, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify(outcome ? { outcome } : {}),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };

  /** A trade created and paid, its notification received. */
  const paidTrade = async (channel = bank) => {
    const paymentId = nextPaymentId();
    const { payUrl } = await channel.createTrade(tradeRequest(paymentId));
    expect((await pay(payUrl)).status).toBe(200);
    await waitFor('the payment notification', () => merchant.for(paymentId).length > 0);
    return { paymentId, payUrl };
  };

  beforeAll(async () => {
    notifyUrl = await merchant.listen();
    app = await NestFactory.create(SandboxModule.forRoot({ secret, notifyDelayMs: 0, now: () => clock }), {
      logger: false,
      forceCloseConnections: true,
    });
    await app.listen(0, '127.0.0.1');
    gatewayUrl = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/sandbox`;
    bank = new SandboxChannel({ id: 'sandbox-bank', provider: 'bank', gatewayUrl, secret });
    wallet = new SandboxChannel({ id: 'sandbox-wallet', provider: 'wallet', gatewayUrl, secret });
  });

  beforeEach(() => {
    clock = start;
    merchant.answer = () => 200;
  });

  afterEach(async () => {
    expect((await putFaults({})).status).toBe(200);
  });

  afterAll(async () => {
    await app?.close();
    await merchant.close();
  });

  describe('a new trade', () => {
    it('is created once: the same paymentId gives the same payUrl', async () => {
      const request = tradeRequest(nextPaymentId());
      const first = await bank.createTrade(request);
      const again = await bank.createTrade(request);
      expect(again.payUrl).toBe(first.payUrl);
      expect(first.payUrl).toBe(`${gatewayUrl}/pay/${request.paymentId}`);
      expect(await bank.queryTrade(request.paymentId)).toEqual({ state: 'pending' });
    });

    it('answers 201 when created and 200 when repeated', async () => {
      const { timeExpire, returnUrl } = tradeRequest('unused');
      const body = { outTradeNo: nextPaymentId(), amount: 500, currency: 'EUR', timeExpire, notifyUrl, returnUrl };
      const post = () => sendJson('POST', `${gatewayUrl}/api/bank/trades`, body);
      const created = await post();
      const repeated = await post();
      expect([created.status, repeated.status]).toEqual([201, 200]);
      expect((await repeated.json()).tradeNo).toBe((await created.json()).tradeNo);
    });

    it('refuses the same paymentId with other parameters', async () => {
      const request = tradeRequest(nextPaymentId());
      await bank.createTrade(request);
      const changed = { ...request, amount: { amount: 1, currency: 'EUR' } };
      await expect(bank.createTrade(changed)).rejects.toThrow(/409 TRADE_CONFLICT/);
    });

    it('belongs to its provider: the other provider does not know it', async () => {
      const request = tradeRequest(nextPaymentId());
      await wallet.createTrade(request);
      expect(await bank.queryTrade(request.paymentId)).toEqual({ state: 'not-found' });
      expect(await wallet.queryTrade(request.paymentId)).toEqual({ state: 'pending' });
    });

    it('shows the payer a page with the amount and a Pay button', async () => {
      const { payUrl } = await bank.createTrade(tradeRequest(nextPaymentId()));
      const page = await fetch(payUrl);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await page.text();
      expect(html).toContain('€19.99');
      expect(html).toContain('<form method="post">');
    });
  });

  describe('paying', () => {
    it('marks the trade paid and sends a signed notification that the channel verifies', async () => {
      const { paymentId } = await paidTrade();
      const state = await bank.queryTrade(paymentId);
      expect(state).toMatchObject({ state: 'paid', amount: { amount: 1999, currency: 'EUR' }, paidAt: start.toISOString() });

      const [delivery] = merchant.for(paymentId);
      const verified = bank.verifyNotification({ headers: delivery.headers, rawBody: delivery.rawBody }, clock);
      expect(verified).toMatchObject({ paymentId, status: 'succeeded', amount: { amount: 1999, currency: 'EUR' } });
      expect(verified.channelTradeNo).toBe(state.state === 'paid' && state.channelTradeNo);
      expect(verified.raw).toEqual(delivery.body);
    });

    it('charges nothing new when a paid trade is paid again', async () => {
      const { paymentId, payUrl } = await paidTrade();
      const before = await bank.queryTrade(paymentId);
      advance(10);
      const again = await pay(payUrl);
      expect(again).toMatchObject({ status: 200, body: { status: 'PAID', paidAt: start.toISOString() } });
      expect(await bank.queryTrade(paymentId)).toEqual(before);
      expect(await (await fetch(payUrl)).text()).toContain('already been made');

      await paidTrade(); // a later notification has arrived, so a second one for the first trade would have too
      expect(merchant.for(paymentId)).toHaveLength(1);
    });

    it('sends a browser back to the merchant with a 303', async () => {
      const request = tradeRequest(nextPaymentId());
      const { payUrl } = await bank.createTrade(request);
      // The pay page's own form, with the token only the page shows.
      const token = /name="csrf" value="([^"]+)"/.exec(await fetch(payUrl).then((page) => page.text()))?.[1] ?? '';
      const response = await fetch(payUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `outcome=success&csrf=${encodeURIComponent(token)}`,
        redirect: 'manual',
      });
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe(request.returnUrl);
    });

    it('can fail: the trade is failed and the notification says so', async () => {
      const paymentId = nextPaymentId();
      const { payUrl } = await wallet.createTrade(tradeRequest(paymentId));
      expect(await pay(payUrl, 'fail')).toMatchObject({ status: 200, body: { status: 'FAILED' } });
      await waitFor('the failure notification', () => merchant.for(paymentId).length > 0);
      const [delivery] = merchant.for(paymentId);
      expect(wallet.verifyNotification(delivery, clock).status).toBe('failed');
      expect(await wallet.queryTrade(paymentId)).toEqual({ state: 'failed', reason: 'PAYER_DECLINED' });
      expect((await pay(payUrl)).status).toBe(409);
    });
  });

  describe('timeExpire', () => {
    it('is honoured: past it the trade reads closed and cannot be paid', async () => {
      const paymentId = nextPaymentId();
      const { payUrl } = await bank.createTrade(tradeRequest(paymentId, { timeExpire: oneMinuteLater() }));
      advance(61);
      expect(await bank.queryTrade(paymentId)).toEqual({ state: 'closed' });
      expect(await pay(payUrl)).toMatchObject({ status: 409, body: { code: 'TRADE_NOT_PAYABLE' } });
      expect(await (await fetch(payUrl)).text()).toContain('The time to pay has run out');
    });

    it('is ignored under ignoreTimeExpire: an expired or closed trade takes the money', async () => {
      const expired = nextPaymentId();
      const closed = nextPaymentId();
      const expiredTrade = await bank.createTrade(tradeRequest(expired, { timeExpire: oneMinuteLater() }));
      const closedTrade = await bank.createTrade(tradeRequest(closed));
      expect(await bank.closeTrade(closed)).toEqual({ result: 'closed' });
      advance(61);

      await putFaults({ ignoreTimeExpire: true });
      expect((await pay(expiredTrade.payUrl)).status).toBe(200);
      expect((await pay(closedTrade.payUrl)).status).toBe(200);
      expect(await bank.queryTrade(expired)).toMatchObject({ state: 'paid' });
      expect(await bank.queryTrade(closed)).toMatchObject({ state: 'paid' });
      await waitFor('both notifications', () => merchant.for(expired).length > 0 && merchant.for(closed).length > 0);
    });
  });

  describe('closing', () => {
    it('closes a waiting trade, which then cannot be paid', async () => {
      const paymentId = nextPaymentId();
      const { payUrl } = await bank.createTrade(tradeRequest(paymentId));
      expect(await bank.closeTrade(paymentId)).toEqual({ result: 'closed' });
      expect(await bank.closeTrade(paymentId)).toEqual({ result: 'closed' });
      expect(await bank.queryTrade(paymentId)).toEqual({ state: 'closed' });
      expect((await pay(payUrl)).status).toBe(409);
    });

    it('reports a paid trade as already paid, with its trade', async () => {
      const { paymentId } = await paidTrade();
      const paid = await bank.queryTrade(paymentId);
      if (paid.state !== 'paid') throw new Error('expected a paid trade');
      expect(await bank.closeTrade(paymentId)).toEqual({
        result: 'already-paid',
        channelTradeNo: paid.channelTradeNo,
        amount: paid.amount,
        paidAt: paid.paidAt,
      });
    });

    it('reports an unknown trade as not found', async () => {
      expect(await bank.closeTrade('pay_never_created')).toEqual({ result: 'not-found' });
      expect(await bank.queryTrade('pay_never_created')).toEqual({ state: 'not-found' });
    });
  });

  describe('refunds', () => {
    const refund = (paymentId: string, refundId: string, amount: number, currency = 'EUR') =>
      bank.refund({ refundId, paymentId, amount: { amount, currency }, reason: 'duplicate-payment' });

    it('are idempotent by refundId and never exceed the captured amount', async () => {
      const { paymentId } = await paidTrade();
      const first = await refund(paymentId, `refund-a-${paymentId}`, 500);
      expect(first).toEqual({ result: 'succeeded', channelRefundNo: expect.stringMatching(/^RF/), amount: { amount: 500, currency: 'EUR' } });
      expect(await refund(paymentId, `refund-a-${paymentId}`, 500)).toEqual(first);
      expect(await refund(paymentId, `refund-b-${paymentId}`, 1499)).toMatchObject({ result: 'succeeded', amount: { amount: 1499 } });
      expect(await refund(paymentId, `refund-c-${paymentId}`, 1)).toEqual({ result: 'failed', reason: 'REFUND_AMOUNT_EXCEEDED', final: true });

      expect((await tradeView('bank', paymentId)).refundedAmount).toBe(1999);
    });

    it('refuse for good a trade that was not paid, or is unknown, another currency, or a refundId reused for another amount', async () => {
      const unpaid = nextPaymentId();
      await bank.createTrade(tradeRequest(unpaid));
      expect(await refund(unpaid, `refund-${unpaid}`, 100)).toEqual({ result: 'failed', reason: 'TRADE_NOT_PAID', final: true });
      expect(await refund('pay_never_created', 'refund-pay_never_created', 100)).toEqual({ result: 'failed', reason: 'TRADE_NOT_FOUND', final: true });

      const { paymentId } = await paidTrade();
      expect(await refund(paymentId, `refund-${paymentId}`, 100, 'USD')).toEqual({ result: 'failed', reason: 'REFUND_CURRENCY_MISMATCH', final: true });
      expect(await refund(paymentId, `refund-${paymentId}`, 100)).toMatchObject({ result: 'succeeded' });
      expect(await refund(paymentId, `refund-${paymentId}`, 200)).toEqual({ result: 'failed', reason: 'REFUND_CONFLICT', final: true });
    });

    it('answer over HTTP with the amount refunded, its currency, refundNo and outRequestNo', async () => {
      const { paymentId } = await paidTrade();
      const response = await sendJson('POST', `${gatewayUrl}/api/bank/trades/${paymentId}/refunds`, { outRequestNo: `refund-${paymentId}`, amount: 700 });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        outRequestNo: `refund-${paymentId}`,
        refundNo: expect.stringMatching(/^RF/),
        amount: 700,
        requestedAmount: 700,
        currency: 'EUR',
        refundedAt: start.toISOString(),
        outTradeNo: paymentId,
        status: 'SUCCESS',
      });
    });

    it('are looked up by refundId: not-found until made, then what was refunded', async () => {
      const { paymentId } = await paidTrade();
      const refundId = `refund-${paymentId}`;
      expect(await bank.queryRefund('pay_never_created', refundId)).toEqual({ state: 'not-found' });
      expect(await bank.queryRefund(paymentId, refundId)).toEqual({ state: 'not-found' });
      const made = await refund(paymentId, refundId, 1999);
      if (made.result !== 'succeeded') throw new Error('expected the refund to succeed');
      expect(await bank.queryRefund(paymentId, refundId)).toEqual({ state: 'succeeded', channelRefundNo: made.channelRefundNo, amount: { amount: 1999, currency: 'EUR' } });
      expect(await wallet.queryRefund(paymentId, refundId)).toEqual({ state: 'not-found' });

      await putFaults({ apiDown: true });
      await expect(bank.queryRefund(paymentId, refundId)).rejects.toBeInstanceOf(ChannelUnavailableError);
    });
  });

  describe('captureAmountDelta', () => {
    it('captures amount + n: the pay answer, the notification, query and close all say so', async () => {
      await putFaults({ captureAmountDelta: 100 });
      const paymentId = nextPaymentId();
      const { payUrl } = await bank.createTrade(tradeRequest(paymentId));
      expect(await pay(payUrl)).toMatchObject({ status: 200, body: { status: 'PAID', amount: 1999, capturedAmount: 2099 } });
      await putFaults({}); // read when the payer pays: turning it off later changes nothing

      await waitFor('the payment notification', () => merchant.for(paymentId).length > 0);
      const [delivery] = merchant.for(paymentId);
      expect(delivery.body.amount).toBe(2099);
      expect(bank.verifyNotification(delivery, clock).amount).toEqual({ amount: 2099, currency: 'EUR' });
      expect(await bank.queryTrade(paymentId)).toMatchObject({ state: 'paid', amount: { amount: 2099, currency: 'EUR' }, paidAt: start.toISOString() });
      expect(await bank.closeTrade(paymentId)).toMatchObject({ result: 'already-paid', amount: { amount: 2099, currency: 'EUR' } });
      expect(await tradeView('bank', paymentId)).toMatchObject({ amount: 1999, capturedAmount: 2099 });
    });

    it('bounds refunds by what was captured, above or below what the trade asked', async () => {
      await putFaults({ captureAmountDelta: 100 });
      const over = await paidTrade();
      await putFaults({ captureAmountDelta: -500 });
      const under = await paidTrade();
      await putFaults({});
      const refund = (paymentId: string, amount: number) =>
        bank.refund({ refundId: `refund-${amount}-${paymentId}`, paymentId, amount: { amount, currency: 'EUR' }, reason: 'amount-mismatch' });

      expect(await refund(over.paymentId, 2099)).toMatchObject({ result: 'succeeded', amount: { amount: 2099 } });
      expect(await refund(over.paymentId, 1)).toEqual({ result: 'failed', reason: 'REFUND_AMOUNT_EXCEEDED', final: true });
      expect(await refund(under.paymentId, 1500)).toEqual({ result: 'failed', reason: 'REFUND_AMOUNT_EXCEEDED', final: true });
      expect(await refund(under.paymentId, 1499)).toMatchObject({ result: 'succeeded', amount: { amount: 1499 } });
      expect(await tradeView('bank', over.paymentId)).toMatchObject({ capturedAmount: 2099, refundedAmount: 2099 });
      expect(await tradeView('bank', under.paymentId)).toMatchObject({ capturedAmount: 1499, refundedAmount: 1499 });
    });

    it('captures the amount asked when amount + n would not be positive; with no delta capturedAmount is the amount', async () => {
      await putFaults({ captureAmountDelta: -1999 });
      const wiped = await paidTrade();
      await putFaults({});
      const plain = await paidTrade();
      const waiting = nextPaymentId();
      await bank.createTrade(tradeRequest(waiting));

      expect(await bank.queryTrade(wiped.paymentId)).toMatchObject({ state: 'paid', amount: { amount: 1999 } });
      expect(await tradeView('bank', plain.paymentId)).toMatchObject({ status: 'PAID', capturedAmount: 1999 });
      expect(await tradeView('bank', waiting)).not.toHaveProperty('capturedAmount');
    });
  });

  describe('refundShortfall', () => {
    it('pays back max(1, asked - n), and says so in the answer, the query and the trade', async () => {
      const { paymentId } = await paidTrade();
      const refundId = `refund-${paymentId}`;
      await putFaults({ refundShortfall: 300 });
      const short = await bank.refund({ refundId, paymentId, amount: { amount: 1000, currency: 'EUR' }, reason: 'duplicate-payment' });
      expect(short).toMatchObject({ result: 'succeeded', amount: { amount: 700, currency: 'EUR' } });
      await putFaults({ refundShortfall: 5000 });
      const tiny = await bank.refund({ refundId: `${refundId}-b`, paymentId, amount: { amount: 10, currency: 'EUR' }, reason: 'duplicate-payment' });
      expect(tiny).toMatchObject({ result: 'succeeded', amount: { amount: 1 } });
      await putFaults({});

      expect(await bank.queryRefund(paymentId, refundId)).toMatchObject({ state: 'succeeded', amount: { amount: 700, currency: 'EUR' } });
      const trade = await tradeView('bank', paymentId);
      expect(trade.refundedAmount).toBe(701);
      expect(trade.refunds).toEqual([
        expect.objectContaining({ outRequestNo: refundId, amount: 700, requestedAmount: 1000, currency: 'EUR' }),
        expect.objectContaining({ outRequestNo: `${refundId}-b`, amount: 1, requestedAmount: 10 }),
      ]);
    });

    it('leaves a repeat alone: the same refundId and amount answer the earlier refund, another amount is a conflict', async () => {
      const { paymentId } = await paidTrade();
      const request = { refundId: `refund-${paymentId}`, paymentId, amount: { amount: 1000, currency: 'EUR' }, reason: 'duplicate-payment' };
      await putFaults({ refundShortfall: 300 });
      const first = await bank.refund(request);
      await putFaults({});
      expect(await bank.refund(request)).toEqual(first);
      expect(await bank.refund({ ...request, amount: { amount: 700, currency: 'EUR' } })).toEqual({ result: 'failed', reason: 'REFUND_CONFLICT', final: true });
      expect((await tradeView('bank', paymentId)).refundedAmount).toBe(700);
    });
  });

  describe('createStallMs', () => {
    it('stores the trade at once: a merchant that gave up waiting still opened a trade the payer can pay', async () => {
      await putFaults({ createStallMs: 2_000 });
      const impatient = new SandboxChannel({ id: 'sandbox-bank', provider: 'bank', gatewayUrl, secret, timeoutMs: 100 });
      const paymentId = nextPaymentId();
      await expect(impatient.createTrade(tradeRequest(paymentId))).rejects.toBeInstanceOf(ChannelUnavailableError);

      expect(await bank.queryTrade(paymentId)).toEqual({ state: 'pending' });
      expect((await pay(`${gatewayUrl}/pay/${paymentId}`)).status).toBe(200);
      await waitFor('the payment notification', () => merchant.for(paymentId).length > 0);
      expect(await bank.queryTrade(paymentId)).toMatchObject({ state: 'paid' });
    });

    it('answers once the stall is over, to a merchant that waits', async () => {
      await putFaults({ createStallMs: 300 });
      const paymentId = nextPaymentId();
      const began = performance.now();
      const { payUrl } = await bank.createTrade(tradeRequest(paymentId));
      expect(performance.now() - began).toBeGreaterThanOrEqual(290);
      expect(payUrl).toBe(`${gatewayUrl}/pay/${paymentId}`);
    });
  });

  describe('the trade listing', () => {
    it("lists every trade of one provider, in the query's view, and none of the other's", async () => {
      const walletPaid = await paidTrade(wallet);
      const walletWaiting = nextPaymentId();
      await wallet.createTrade(tradeRequest(walletWaiting));
      const bankPaid = await paidTrade(bank);
      await putFaults({ apiDown: true }); // an observer's view: still there when the merchant API is down

      const response = await fetch(`${gatewayUrl}/api/wallet/trades`);
      expect(response.status).toBe(200);
      const { trades } = (await response.json()) as { trades: Array<Record<string, any>> };
      await putFaults({});
      expect(trades.every((trade) => trade.provider === 'wallet')).toBe(true);
      expect(trades.map((trade) => trade.outTradeNo)).toEqual(expect.arrayContaining([walletPaid.paymentId, walletWaiting]));
      expect(trades.map((trade) => trade.outTradeNo)).not.toContain(bankPaid.paymentId);
      expect(new Set(trades.map((trade) => trade.outTradeNo)).size).toBe(trades.length);
      expect(trades.find((trade) => trade.outTradeNo === walletPaid.paymentId)).toEqual(await tradeView('wallet', walletPaid.paymentId));
      expect(trades.find((trade) => trade.outTradeNo === walletWaiting)).toEqual(await tradeView('wallet', walletWaiting));
    });

    it('answers 404 for a provider that does not exist', async () => {
      expect((await fetch(`${gatewayUrl}/api/cash/trades`)).status).toBe(404);
    });
  });

  describe('notifications', () => {
    it('are retried with backoff until the merchant answers 2xx', async () => {
      const paymentId = nextPaymentId();
      const statuses = [500, 503, 200];
      merchant.answer = (body) => (body.paymentId === paymentId ? statuses[merchant.for(paymentId).length] : 200);
      const { payUrl } = await bank.createTrade(tradeRequest(paymentId));
      await pay(payUrl);

      await waitFor('an accepted delivery', () => merchant.for(paymentId).some((d) => d.answeredWith === 200));
      await paidTrade(); // a later notification has arrived: no retry of the accepted one is pending
      const deliveries = merchant.for(paymentId);
      expect(deliveries.map((d) => d.answeredWith)).toEqual([500, 503, 200]);
      expect(new Set(deliveries.map((d) => d.body.notificationId)).size).toBe(1);
    });

    it('are not sent under dropNotifications; the trade can still be queried', async () => {
      await putFaults({ dropNotifications: true });
      const dropped = nextPaymentId();
      const { payUrl } = await bank.createTrade(tradeRequest(dropped));
      await pay(payUrl);
      await putFaults({});

      await paidTrade(); // sent after the dropped one would have been
      expect(merchant.for(dropped)).toHaveLength(0);
      expect(await bank.queryTrade(dropped)).toMatchObject({ state: 'paid' });
    });

    it('come n extra times under duplicateNotifications, all the same notification', async () => {
      await putFaults({ duplicateNotifications: 2 });
      const paymentId = nextPaymentId();
      const { payUrl } = await bank.createTrade(tradeRequest(paymentId));
      await pay(payUrl);
      await waitFor('three copies', () => merchant.for(paymentId).length >= 3);
      await putFaults({});

      await paidTrade();
      const copies = merchant.for(paymentId);
      expect(copies).toHaveLength(3);
      expect(new Set(copies.map((d) => d.rawBody.toString())).size).toBe(1);
      for (const copy of copies) expect(bank.verifyNotification(copy, clock).paymentId).toBe(paymentId);
    });
  });

  describe('verifyNotification', () => {
    const incoming = (rawBody: string, header?: string) => ({
      headers: header === undefined ? {} : { 'sandbox-signature': header },
      rawBody: Buffer.from(rawBody),
    });
    const rejection = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof NotificationRejectedError ? error.code : error;
      }
      return 'accepted';
    };

    it('rejects a forged, unsigned or stale notification as bad-signature', async () => {
      const { paymentId } = await paidTrade();
      const [delivery] = merchant.for(paymentId);
      const body = delivery.rawBody.toString();
      const header = delivery.headers['sandbox-signature'] as string;
      const forged = body.replace('1999', '1');
      const later = new Date(clock.getTime() + 301_000);
      const otherSecret = signSandboxBody('not-the-secret', body, clock);
      expect(rejection(() => bank.verifyNotification(incoming(forged), clock))).toBe('bad-signature');
      expect(rejection(() => bank.verifyNotification(incoming(forged, header), clock))).toBe('bad-signature');
      expect(rejection(() => bank.verifyNotification(incoming(body, header), later))).toBe('bad-signature');
      expect(rejection(() => bank.verifyNotification(incoming(body, otherSecret), clock))).toBe('bad-signature');
      expect(bank.verifyNotification(incoming(body, header), clock).paymentId).toBe(paymentId);
    });

    it('rejects a correctly signed body of the wrong shape as malformed', () => {
      for (const body of ['not json', '[]', JSON.stringify({ notificationId: 'n', paymentId: 'p', status: 'succeeded' })]) {
        const signed = incoming(body, signSandboxBody(secret, body, clock));
        expect(rejection(() => bank.verifyNotification(signed, clock))).toBe('malformed');
      }
    });
  });

  describe('faults', () => {
    it('apiDown: query, close and refund are unavailable; paying and notifying still work', async () => {
      const paymentId = nextPaymentId();
      await putFaults({ apiDown: true });
      const { payUrl } = await bank.createTrade(tradeRequest(paymentId));
      await expect(bank.queryTrade(paymentId)).rejects.toBeInstanceOf(ChannelUnavailableError);
      await expect(bank.closeTrade(paymentId)).rejects.toBeInstanceOf(ChannelUnavailableError);
      const refund = { refundId: `refund-${paymentId}`, paymentId, amount: { amount: 1, currency: 'EUR' }, reason: 'x' };
      await expect(bank.refund(refund)).rejects.toBeInstanceOf(ChannelUnavailableError);
      expect((await pay(payUrl)).status).toBe(200);
      await waitFor('the notification', () => merchant.for(paymentId).length > 0);
    });

    it('are read back, and {} restores good behaviour', async () => {
      const set = await putFaults({ apiDown: true, duplicateNotifications: 1, captureAmountDelta: -25, refundShortfall: 3, createStallMs: 40 });
      const expected = {
        notifyDelayMs: 0,
        dropNotifications: false,
        duplicateNotifications: 1,
        apiDown: true,
        ignoreTimeExpire: false,
        captureAmountDelta: -25,
        refundShortfall: 3,
        createStallMs: 40,
      };
      expect(await set.json()).toEqual(expected);
      expect(await getJson(`${gatewayUrl}/faults`)).toEqual(expected);
      const reset = await putFaults({});
      expect(await reset.json()).toEqual({
        notifyDelayMs: 0,
        dropNotifications: false,
        duplicateNotifications: 0,
        apiDown: false,
        ignoreTimeExpire: false,
        captureAmountDelta: 0,
        refundShortfall: 0,
        createStallMs: 0,
      });
    });

    it.each([
      { apiDwn: true },
      { apiDown: 'yes' },
      { duplicateNotifications: -1 },
      { duplicateNotifications: 21 },
      { notifyDelayMs: 1.5 },
      { captureAmountDelta: 2.5 },
      { captureAmountDelta: '10' },
      { refundShortfall: -1 },
      { createStallMs: -1 },
      { createStallMs: 600_001 },
      [],
    ])(
      'rejects %p as a validation problem',
      async (faults) => {
        const response = await putFaults(faults);
        expect(response.status).toBe(400);
        expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(await response.json()).toMatchObject({ type: 'https://payguard.dev/problems/validation', status: 400 });
      },
    );
  });

  describe('an unreachable gateway', () => {
    it('is ChannelUnavailableError, whether refused or silent', async () => {
      const silent = createServer(() => undefined); // accepts, never answers
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const options = { id: 'sandbox-bank', provider: 'bank', secret } as const;
      const deadUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/sandbox`;
      try {
        const hanging = new SandboxChannel({ ...options, gatewayUrl: deadUrl, timeoutMs: 100 });
        await expect(hanging.queryTrade('pay_x')).rejects.toBeInstanceOf(ChannelUnavailableError);
      } finally {
        silent.closeAllConnections();
        await new Promise((resolve) => silent.close(resolve));
      }
      const refused = new SandboxChannel({ ...options, gatewayUrl: deadUrl }); // the port is closed now
      await expect(refused.createTrade(tradeRequest(nextPaymentId()))).rejects.toBeInstanceOf(ChannelUnavailableError);
    });
  });

  describe('shutdown', () => {
    it('clears every pending notification, so nothing outlives the app', () => {
      const gateway = new SandboxGateway({ secret, notifyDelayMs: 60_000, now: () => clock });
      const pendingTimers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
      const before = pendingTimers();
      const paymentId = nextPaymentId();
      const { timeExpire, returnUrl } = tradeRequest(paymentId);
      gateway.createTrade('bank', { outTradeNo: paymentId, amount: 100, currency: 'EUR', timeExpire, notifyUrl, returnUrl });
      gateway.pay(paymentId);
      expect(pendingTimers()).toBe(before + 1);
      gateway.shutdown();
      expect(pendingTimers()).toBe(before);
    });

    it('lets a stalled create-trade answer at once, so no request outlives the app', async () => {
      const gateway = new SandboxGateway({ secret, notifyDelayMs: 0, now: () => clock });
      gateway.setFaults({ createStallMs: 600_000 });
      let released = false;
      const stall = gateway.createStall().then(() => (released = true));
      await Promise.resolve();
      expect(released).toBe(false);
      gateway.shutdown();
      await stall;
      expect(released).toBe(true);
    });
  });
});

/** A server that records every request it gets and answers as `answer` says (status and headers). */
class Recorder {
  readonly requests: { method: string; url: string; body: string }[] = [];
  answer: () => { status: number; headers?: Record<string, string> } = () => ({ status: 200 });
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      const { status, headers } = this.answer();
      res.writeHead(status, headers).end();
    });
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('the sandbox gateway run alone (npm run sandbox) with SANDBOX_NOTIFY_ORIGINS', () => {
  let app: INestApplication;
  let gatewayUrl: string;
  /** The one Payguard instance this gateway serves. */
  const merchant = new Recorder();
  let merchantOrigin: string;
  /** Something else on the gateway's network (an admin port, a metadata service): it must never hear from the gateway. */
  const internal = new Recorder();
  let internalOrigin: string;
  let sequence = 0;

  const trade = (overrides: Partial<SandboxTradeParams> = {}) => ({
    outTradeNo: `pay_alone_${++sequence}`,
    amount: 700,
    currency: 'CNY',
    timeExpire: new Date(Date.now() + 15 * 60_000).toISOString(),
    notifyUrl: `${merchantOrigin}/channels/sandbox-bank/notifications`,
    returnUrl: `${merchantOrigin}/channels/sandbox-bank/return?paymentId=x`,
    ...overrides,
  });
  const create = async (body: Record<string, unknown>) => {
    const response = await fetch(`${gatewayUrl}/api/bank/trades`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as Record<string, any> };
  };
  const payJson = (paymentId: string) =>
    fetch(`${gatewayUrl}/pay/${paymentId}`, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' }, body: '{}' });

  beforeAll(async () => {
    merchantOrigin = await merchant.listen();
    internalOrigin = await internal.listen();
    const options = sandboxOptionsFromEnv({
      SANDBOX_SECRET: secret,
      SANDBOX_NOTIFY_DELAY_MS: '0',
      SANDBOX_NOTIFY_ORIGINS: merchantOrigin,
      RETURN_URL_ORIGINS: 'https://shop.example',
    });
    app = await NestFactory.create(SandboxModule.forRoot(options), { logger: false, forceCloseConnections: true });
    await app.listen(0, '127.0.0.1');
    gatewayUrl = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/sandbox`;
  });

  beforeEach(() => {
    merchant.answer = () => ({ status: 200 });
  });

  afterAll(async () => {
    await app?.close();
    await merchant.close();
    await internal.close();
  });

  it.each([
    ['another port on the same host', () => `${internalOrigin}/admin/shutdown`],
    ['the same port under another host name', () => `${merchantOrigin.replace('127.0.0.1', 'localhost')}/channels/sandbox-bank/notifications`],
    ['https instead of http', () => `${merchantOrigin.replace('http:', 'https:')}/channels/sandbox-bank/notifications`],
    ['a cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
    ['a private network address', () => 'http://10.0.0.5:8080/admin'],
  ])('refuses a trade that would notify %s: 400 NOTIFY_URL_NOT_ALLOWED, and no trade is kept', async (_, notifyUrl) => {
    const body = trade({ notifyUrl: notifyUrl() });
    const answer = await create(body);
    expect(answer.status).toBe(400);
    expect(answer.type).toMatch(/^application\/problem\+json/);
    expect(answer.body).toMatchObject({ status: 400, code: 'NOTIFY_URL_NOT_ALLOWED' });
    // Nothing to pay, so nothing that could ever be sent.
    expect((await fetch(`${gatewayUrl}/api/bank/trades/${body.outTradeNo}`)).status).toBe(404);
    expect((await payJson(body.outTradeNo)).status).toBe(404);
  });

  it('notifies a trade on SANDBOX_NOTIFY_ORIGINS, and the internal target has heard nothing', async () => {
    const body = trade();
    expect((await create(body)).status).toBe(201);
    expect((await payJson(body.outTradeNo)).status).toBe(200);
    await waitFor('the notification at the merchant', () => merchant.requests.some((request) => request.body.includes(body.outTradeNo)));
    expect(internal.requests).toEqual([]);
  });

  it("does not follow a redirect from an allowed origin to another one: the merchant's 307 is a failed delivery, retried", async () => {
    merchant.answer = () => ({ status: 307, headers: { location: `${internalOrigin}/admin/shutdown` } });
    const body = trade();
    expect((await create(body)).status).toBe(201);
    expect((await payJson(body.outTradeNo)).status).toBe(200);
    // The first delivery and its first retry (100 ms later) both met the redirect, and neither followed it.
    await waitFor('a retried delivery', () => merchant.requests.filter((request) => request.body.includes(body.outTradeNo)).length >= 2);
    expect(internal.requests).toEqual([]);
  });

  it('sends payers back only to the origins it notifies or to RETURN_URL_ORIGINS: 400 RETURN_URL_NOT_ALLOWED otherwise', async () => {
    for (const returnUrl of ['https://evil.example/phish', 'http://shop.example/back', `${internalOrigin}/back`]) {
      const answer = await create(trade({ returnUrl }));
      expect({ returnUrl, status: answer.status, code: answer.body.code }).toEqual({ returnUrl, status: 400, code: 'RETURN_URL_NOT_ALLOWED' });
    }
    expect((await create(trade({ returnUrl: 'https://shop.example/orders/1' }))).status).toBe(201);
    expect((await create(trade())).status).toBe(201);
  });

  it('notifies loopback only when SANDBOX_NOTIFY_ORIGINS is unset', () => {
    const { notifyAllowed } = sandboxOptionsFromEnv({});
    for (const url of ['http://127.0.0.1:3000/n', 'https://127.0.0.1/n', 'http://localhost:8080/n', 'https://localhost/n', 'http://[::1]:3000/n']) {
      expect({ url, allowed: notifyAllowed?.(url) }).toEqual({ url, allowed: true });
    }
    for (const url of ['http://127.0.0.2:3000/n', 'http://10.0.0.1/n', 'https://payguard.example/n', 'http://169.254.169.254/', 'file:///etc/passwd']) {
      expect({ url, allowed: notifyAllowed?.(url) }).toEqual({ url, allowed: false });
    }
  });

  it('will not start with SANDBOX_NOTIFY_ORIGINS, RETURN_URL_ORIGINS or SANDBOX_MAX_TRADES it cannot read', () => {
    expect(() => sandboxOptionsFromEnv({ SANDBOX_NOTIFY_ORIGINS: '127.0.0.1:3000' })).toThrow(/^SANDBOX_NOTIFY_ORIGINS: /);
    expect(() => sandboxOptionsFromEnv({ RETURN_URL_ORIGINS: 'https://shop.example/path' })).toThrow(/^RETURN_URL_ORIGINS: /);
    expect(() => sandboxOptionsFromEnv({ SANDBOX_MAX_TRADES: '0' })).toThrow(/SANDBOX_MAX_TRADES/);
  });
});

describe('the number of trades a sandbox gateway keeps', () => {
  const t0 = new Date('2026-11-26T10:00:00.000Z');
  let now = t0;
  const later = (ms: number) => (now = new Date(now.getTime() + ms));
  const HOUR = 3_600_000;
  let gateway: SandboxGateway;
  const open = (outTradeNo: string, expiresInMs = 15 * 60_000) =>
    gateway.createTrade('bank', {
      outTradeNo,
      amount: 100,
      currency: 'CNY',
      timeExpire: new Date(now.getTime() + expiresInMs).toISOString(),
      notifyUrl: 'http://127.0.0.1:9/notify',
      returnUrl: 'http://127.0.0.1:9/return',
    });
  const kept = () => gateway.listTrades('bank').map((trade) => trade.outTradeNo);
  const fullError = () => {
    try {
      open('one-too-many');
    } catch (error) {
      return error instanceof SandboxGatewayError ? error.code : error;
    }
    return 'created';
  };

  beforeEach(() => {
    now = t0;
    // Notifications are dropped: these trades are about bookkeeping only.
    gateway = new SandboxGateway({ secret, notifyDelayMs: 0, now: () => now, maxTrades: 3 });
    gateway.setFaults({ dropNotifications: true });
  });
  afterEach(() => gateway.shutdown());

  it('is bounded: with every trade still payable, a new one is SANDBOX_FULL and nothing is forgotten', () => {
    for (const id of ['a', 'b', 'c']) open(id);
    expect(fullError()).toBe('SANDBOX_FULL');
    expect(kept()).toEqual(['a', 'b', 'c']);
    // Past its timeExpire, but not by an hour yet: still kept (the merchant may still ask about it).
    later(15 * 60_000 + HOUR - 1);
    expect(fullError()).toBe('SANDBOX_FULL');
  });

  it('forgets the oldest final trade first: closed, failed, or waiting more than an hour past its timeExpire', () => {
    open('a');
    open('b');
    open('c');
    gateway.closeTrade('bank', 'c');
    gateway.pay('b', 'fail');
    open('d');
    expect(kept()).toEqual(['a', 'c', 'd']);
    open('e');
    expect(kept()).toEqual(['a', 'd', 'e']);
    later(15 * 60_000 + HOUR + 1);
    open('f', HOUR * 24);
    expect(kept()).toEqual(['d', 'e', 'f']);
  });

  it('forgets a paid trade once it is fully refunded, or an hour after it was paid, not before', () => {
    open('paid-refunded');
    open('paid-kept');
    open('waiting', 24 * HOUR);
    gateway.pay('paid-refunded');
    gateway.pay('paid-kept');
    gateway.refund('bank', 'paid-refunded', { outRequestNo: 'refund-1', amount: 60 });
    expect(fullError()).toBe('SANDBOX_FULL');
    gateway.refund('bank', 'paid-refunded', { outRequestNo: 'refund-2', amount: 40 });
    open('next');
    expect(kept()).toEqual(['paid-kept', 'waiting', 'next']);
    expect(() => gateway.queryTrade('bank', 'paid-refunded')).toThrow(SandboxGatewayError);
    later(HOUR + 1);
    open('after-an-hour');
    expect(kept()).toEqual(['waiting', 'next', 'after-an-hour']);
  });

  it('answers a repeated create of a kept trade even when full', () => {
    for (const id of ['a', 'b', 'c']) open(id);
    const again = gateway.createTrade('bank', { ...gateway.listTrades('bank')[0] });
    expect(again.created).toBe(false);
  });
});
