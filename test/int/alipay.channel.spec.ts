import { generateKeyPairSync } from 'node:crypto';
import { InvalidRequest } from '../../src/application/shared/errors.js';
import { ChannelUnavailableError, NotificationRejectedError, type IncomingNotification } from '../../src/application/ports/channel.port.js';
import { AlipayChannel } from '../../src/infrastructure/channels/alipay.channel.js';
import { ConfigError, loadConfig } from '../../src/infrastructure/config/config.js';
import { AlipayStandIn } from '../support/alipay-stand-in.js';

const APP_ID = '2021000000000001';
const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };

describe('the alipay channel (Alipay OpenAPI, RSA2) against a stand-in gateway', () => {
  const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const otherKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let standIn: AlipayStandIn;
  let channel: AlipayChannel;
  let sequence = 0;

  beforeAll(async () => {
    standIn = await AlipayStandIn.start({ appId: APP_ID, appPublicKey: appKeys.publicKey });
    channel = channelWith({});
  });
  afterAll(() => standIn.close());

  function channelWith(overrides: Partial<ConstructorParameters<typeof AlipayChannel>[0]>): AlipayChannel {
    return new AlipayChannel({
      appId: APP_ID,
      // PKCS#1 PEM, as Alipay's key tool writes it; the adapter takes PKCS#8 and bare base64 too.
      privateKey: appKeys.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      alipayPublicKey: standIn.alipayPublicKeyPem,
      gatewayUrl: standIn.gatewayUrl,
      ...overrides,
    });
  }

  /** A trade the payer has opened: Alipay has it from then on. */
  async function openedTrade(amount = 1999) {
    sequence += 1;
    const paymentId = `pay_alipayspec${sequence}${Date.now()}`;
    const timeExpire = new Date(Math.floor(Date.now() / 1000) * 1000 + 10 * 60 * 1000).toISOString();
    const { payUrl } = await channel.createTrade({
      paymentId,
      orderId: `order-${sequence}`,
      amount: { amount, currency: 'CNY' },
      description: 'Two tickets',
      timeExpire,
      notifyUrl: 'http://127.0.0.1:9/channels/alipay/notifications',
      returnUrl: `http://127.0.0.1:9/channels/alipay/return?paymentId=${paymentId}`,
    });
    expect((await standIn.payerOpens(payUrl)).status).toBe(200);
    return { paymentId, payUrl, timeExpire };
  }

  const notification = (body: string): IncomingNotification => ({ headers: FORM, rawBody: Buffer.from(body) });

  describe('starting a payment', () => {
    it('hands back a signed alipay.trade.page.pay GET request carrying the payment terms', async () => {
      const timeExpire = '2030-01-01T04:05:06.000Z';
      const { payUrl } = await channel.createTrade({
        paymentId: 'pay_terms1',
        orderId: 'order-terms',
        amount: { amount: 100005, currency: 'CNY' },
        timeExpire,
        notifyUrl: 'https://payguard.example/channels/alipay/notifications',
        returnUrl: 'https://payguard.example/channels/alipay/return?paymentId=pay_terms1',
      });
      const url = new URL(payUrl);
      expect(`${url.origin}${url.pathname}`).toBe(standIn.gatewayUrl);
      const params = url.searchParams;
      expect(params.get('method')).toBe('alipay.trade.page.pay');
      expect(params.get('app_id')).toBe(APP_ID);
      expect(params.get('sign_type')).toBe('RSA2');
      expect(params.get('notify_url')).toBe('https://payguard.example/channels/alipay/notifications');
      // Alipay appends its signed parameters to return_url, so ours stay off it.
      expect(params.get('return_url')).toBe('https://payguard.example/channels/alipay/return');
      expect(JSON.parse(params.get('biz_content')!)).toMatchObject({
        out_trade_no: 'pay_terms1',
        total_amount: '1000.05',
        product_code: 'FAST_INSTANT_TRADE_PAY',
        time_expire: '2030-01-01 12:05:06',
        subject: 'Order order-terms',
      });

      expect((await standIn.payerOpens(payUrl)).status).toBe(200);
      expect(standIn.trades.get('pay_terms1')).toMatchObject({ totalAmount: '1000.05', timeExpire: '2030-01-01 12:05:06', status: 'WAIT_BUYER_PAY' });
    });

    it('takes CNY only', async () => {
      const request = { paymentId: 'pay_usd', orderId: 'o', amount: { amount: 100, currency: 'USD' }, timeExpire: new Date().toISOString(), notifyUrl: 'http://x/n', returnUrl: 'http://x/r' };
      await expect(channel.createTrade(request)).rejects.toBeInstanceOf(InvalidRequest);
    });

    it('is refused by the gateway when signed with a key Alipay does not know', async () => {
      const impostor = channelWith({ privateKey: otherKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
      const { payUrl } = await impostor.createTrade({
        paymentId: 'pay_impostor',
        orderId: 'o',
        amount: { amount: 100, currency: 'CNY' },
        timeExpire: new Date(Date.now() + 600_000).toISOString(),
        notifyUrl: 'http://x/n',
        returnUrl: 'http://x/r',
      });
      expect((await standIn.payerOpens(payUrl)).status).toBe(400);
      expect(standIn.trades.has('pay_impostor')).toBe(false);
      expect(standIn.rejected.at(-1)).toMatchObject({ method: 'alipay.trade.page.pay', reason: expect.stringMatching(/sign/) });
    });
  });

  describe('query, close and refund', () => {
    it('reports not-found before the payer opens the cashier, pending after, paid once paid', async () => {
      expect(await channel.queryTrade('pay_never_opened')).toEqual({ state: 'not-found' });
      const { paymentId } = await openedTrade();
      expect(await channel.queryTrade(paymentId)).toEqual({ state: 'pending' });
      const paid = standIn.pay(paymentId);
      expect(await channel.queryTrade(paymentId)).toEqual({
        state: 'paid',
        channelTradeNo: paid.tradeNo,
        amount: { amount: 1999, currency: 'CNY' },
        paidAt: new Date(`${paid.gmtPayment!.replace(' ', 'T')}+08:00`).toISOString(),
      });
    });

    it('closes an open trade; ACQ.TRADE_NOT_EXIST is not-found; a paid trade is reported already-paid', async () => {
      expect(await channel.closeTrade('pay_never_opened')).toEqual({ result: 'not-found' });
      const open = await openedTrade();
      expect(await channel.closeTrade(open.paymentId)).toEqual({ result: 'closed' });
      expect(await channel.queryTrade(open.paymentId)).toEqual({ state: 'closed' });
      expect(() => standIn.pay(open.paymentId)).toThrow(/closed/);

      const paid = await openedTrade(2500);
      const trade = standIn.pay(paid.paymentId);
      expect(await channel.closeTrade(paid.paymentId)).toMatchObject({ result: 'already-paid', channelTradeNo: trade.tradeNo, amount: { amount: 2500, currency: 'CNY' } });
    });

    it('refunds once however often the refund is retried (out_request_no from the refund id)', async () => {
      const { paymentId } = await openedTrade(1234);
      standIn.pay(paymentId);
      const request = { refundId: `refund-${paymentId}`, paymentId, amount: { amount: 1234, currency: 'CNY' }, reason: 'duplicate-payment' };
      const first = await channel.refund(request);
      const again = await channel.refund(request);
      expect(first).toEqual({ result: 'succeeded', channelRefundNo: `refund_${paymentId}`, amount: { amount: 1234, currency: 'CNY' } });
      expect(again).toEqual(first);
      const trade = standIn.trades.get(paymentId)!;
      expect([...trade.refunds.entries()]).toEqual([[`refund_${paymentId}`, expect.objectContaining({ amount: '12.34' })]]);
      expect(trade.status).toBe('TRADE_CLOSED');
      const refundCalls = standIn.requests.filter((call) => call.method === 'alipay.trade.refund' && call.biz.out_trade_no === paymentId);
      expect(refundCalls.map((call) => call.biz)).toEqual([
        expect.objectContaining({ out_request_no: `refund_${paymentId}`, refund_amount: '12.34' }),
        expect.objectContaining({ out_request_no: `refund_${paymentId}`, refund_amount: '12.34' }),
      ]);
    });

    it("believes no answer whose signature doesn't verify with Alipay's public key", async () => {
      const { paymentId } = await openedTrade();
      const gullible = channelWith({ alipayPublicKey: otherKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString() });
      await expect(gullible.queryTrade(paymentId)).rejects.toBeInstanceOf(ChannelUnavailableError);
      await expect(gullible.closeTrade(paymentId)).rejects.toBeInstanceOf(ChannelUnavailableError);
    });

    it("treats a query answer about another seller's trade as a channel error, with ALIPAY_SELLER_ID", async () => {
      const { paymentId } = await openedTrade();
      standIn.pay(paymentId);
      const ours = channelWith({ sellerId: standIn.sellerId });
      // Alipay's query answers carry no seller_id as a rule: that is no evidence either way.
      expect(await ours.queryTrade(paymentId)).toMatchObject({ state: 'paid' });
      standIn.faults = { foreignSellerId: '2088999999999999' };
      try {
        await expect(ours.queryTrade(paymentId)).rejects.toBeInstanceOf(ChannelUnavailableError);
        await expect(ours.queryTrade(paymentId)).rejects.toThrow(/seller/);
        // A close of the paid trade asks the query, and gets the same refusal: never "already paid" by another seller.
        await expect(ours.closeTrade(paymentId)).rejects.toBeInstanceOf(ChannelUnavailableError);
        expect(await channel.queryTrade(paymentId)).toMatchObject({ state: 'paid' });
      } finally {
        standIn.faults = {};
      }
    });

    it('treats a gateway that is down as unavailable (retry later)', async () => {
      standIn.faults = { apiDown: true };
      try {
        await expect(channel.queryTrade('pay_any')).rejects.toBeInstanceOf(ChannelUnavailableError);
      } finally {
        standIn.faults = {};
      }
    });
  });

  describe('refund outcomes', () => {
    afterEach(() => {
      standIn.faults = {};
    });

    async function paidTrade(amount = 2000) {
      const { paymentId } = await openedTrade(amount);
      standIn.pay(paymentId);
      return paymentId;
    }
    const refundOf = (paymentId: string, amount: number, refundId = `refund-${paymentId}`) =>
      channel.refund({ refundId, paymentId, amount: { amount, currency: 'CNY' }, reason: 'duplicate-payment' });

    it("reads this refund's amount from the refund query, not the trade's cumulative refund_fee", async () => {
      const paymentId = await paidTrade(2000);
      expect(await refundOf(paymentId, 500, `refund-a-${paymentId}`)).toMatchObject({ result: 'succeeded', amount: { amount: 500, currency: 'CNY' } });
      const second = await refundOf(paymentId, 1000, `refund-b-${paymentId}`);
      expect(second).toEqual({ result: 'succeeded', channelRefundNo: `refund_b_${paymentId}`, amount: { amount: 1000, currency: 'CNY' } });
      // alipay.trade.refund answered the second call with refund_fee 15.00: both refunds together.
      const answered = standIn.answers.filter((answer) => answer.method === 'alipay.trade.refund' && answer.payload.out_trade_no === paymentId);
      expect(answered.map((answer) => answer.payload)).toEqual([
        expect.objectContaining({ fund_change: 'Y', refund_fee: '5.00' }),
        expect.objectContaining({ fund_change: 'Y', refund_fee: '15.00' }),
      ]);
      const queried = standIn.requests.filter((call) => call.method === 'alipay.trade.fastpay.refund.query' && call.biz.out_trade_no === paymentId);
      expect(queried.map((call) => call.biz.out_request_no)).toEqual([`refund_a_${paymentId}`, `refund_b_${paymentId}`]);
    });

    it('trusts fund_change Y for the amount asked when the refund query cannot be reached', async () => {
      const paymentId = await paidTrade(800);
      standIn.faults = { refundQueryDown: true };
      expect(await refundOf(paymentId, 800)).toEqual({ result: 'succeeded', channelRefundNo: `refund_${paymentId}`, amount: { amount: 800, currency: 'CNY' } });
      await expect(channel.queryRefund(paymentId, `refund-${paymentId}`)).rejects.toBeInstanceOf(ChannelUnavailableError);
    });

    it('reports a refund taken but not paid out (fund_change N, no REFUND_SUCCESS) as not done yet, then succeeded', async () => {
      const paymentId = await paidTrade(1500);
      const refundId = `refund-${paymentId}`;
      standIn.faults = { refundPending: true };
      expect(await refundOf(paymentId, 1500)).toEqual({ result: 'failed', reason: expect.stringMatching(/not confirmed/), final: false });
      expect(await channel.queryRefund(paymentId, refundId)).toEqual({ state: 'pending' });
      standIn.faults = {};
      expect(await channel.queryRefund(paymentId, refundId)).toEqual({ state: 'succeeded', channelRefundNo: `refund_${paymentId}`, amount: { amount: 1500, currency: 'CNY' } });
      expect(await refundOf(paymentId, 1500)).toEqual({ result: 'succeeded', channelRefundNo: `refund_${paymentId}`, amount: { amount: 1500, currency: 'CNY' } });
      expect(standIn.trades.get(paymentId)!.refunds.size).toBe(1);
    });

    it('is final when Alipay refuses what no retry can change: no trade, not paid, over what is left', async () => {
      expect(await refundOf('pay_never_opened', 100)).toEqual({ result: 'failed', reason: expect.stringMatching(/^ACQ\.TRADE_NOT_EXIST/), final: true });
      const { paymentId: unpaid } = await openedTrade();
      expect(await refundOf(unpaid, 100)).toEqual({ result: 'failed', reason: expect.stringMatching(/^ACQ\.TRADE_STATUS_ERROR/), final: true });
      const paid = await paidTrade(2000);
      expect(await refundOf(paid, 2001)).toEqual({ result: 'failed', reason: expect.stringMatching(/^ACQ\.REFUND_AMT_NOT_EQUAL_TOTAL/), final: true });
    });

    it.each(['ACQ.TRADE_HAS_FINISHED', 'ACQ.TRADE_HAS_CLOSE', 'ACQ.DISCORDANT_REPEAT_REQUEST', 'ACQ.REFUND_FEE_ERROR', 'ACQ.REASON_TRADE_REFUND_FEE_ERR', 'ACQ.TRADE_NOT_ALLOW_REFUND'])(
      'is final on %s',
      async (subCode) => {
        const paymentId = await paidTrade();
        standIn.faults = { refundError: { subCode, subMsg: 'refused' } };
        expect(await refundOf(paymentId, 2000)).toEqual({ result: 'failed', reason: `${subCode}: refused`, final: true });
        expect(standIn.trades.get(paymentId)!.refunds.size).toBe(0);
      },
    );

    it.each(['ACQ.SELLER_BALANCE_NOT_ENOUGH', 'ACQ.SOME_CODE_NOT_KNOWN_YET'])('is not final on %s, and the same refund goes through later', async (subCode) => {
      const paymentId = await paidTrade();
      standIn.faults = { refundError: { subCode, subMsg: 'not now' } };
      expect(await refundOf(paymentId, 2000)).toEqual({ result: 'failed', reason: `${subCode}: not now`, final: false });
      standIn.faults = {};
      expect(await refundOf(paymentId, 2000)).toMatchObject({ result: 'succeeded', amount: { amount: 2000 } });
    });

    it.each([
      { code: '40004', subCode: 'ACQ.SYSTEM_ERROR' },
      { code: '20000', subCode: 'isp.unknow-error' },
      { code: '40004', subCode: 'aop.SYSTEM_ERROR' },
    ])('treats $subCode as Alipay unavailable (retry later)', async (error) => {
      const paymentId = await paidTrade();
      standIn.faults = { refundError: error };
      await expect(refundOf(paymentId, 2000)).rejects.toBeInstanceOf(ChannelUnavailableError);
    });

    it('looks a refund up by its refundId: not-found without a trade or a refund, then what was refunded', async () => {
      expect(await channel.queryRefund('pay_never_opened', 'refund-pay_never_opened')).toEqual({ state: 'not-found' });
      const paymentId = await paidTrade(1200);
      const refundId = `refund-${paymentId}`;
      expect(await channel.queryRefund(paymentId, refundId)).toEqual({ state: 'not-found' });
      await refundOf(paymentId, 700);
      expect(await channel.queryRefund(paymentId, refundId)).toEqual({ state: 'succeeded', channelRefundNo: `refund_${paymentId}`, amount: { amount: 700, currency: 'CNY' } });
      expect(standIn.requests.at(-1)).toMatchObject({ method: 'alipay.trade.fastpay.refund.query', biz: { out_trade_no: paymentId, out_request_no: `refund_${paymentId}` } });
    });
  });

  describe('a notification', () => {
    it('is accepted when signed by Alipay, and read as a payment', async () => {
      const { paymentId } = await openedTrade();
      const trade = standIn.pay(paymentId);
      const body = standIn.notificationBody(paymentId);
      const verified = channel.verifyNotification(notification(body), new Date());
      const sent = Object.fromEntries(new URLSearchParams(body));
      expect(verified).toEqual({
        notificationId: sent.notify_id,
        paymentId,
        status: 'succeeded',
        amount: { amount: 1999, currency: 'CNY' },
        channelTradeNo: trade.tradeNo,
        occurredAt: new Date(`${trade.gmtPayment!.replace(' ', 'T')}+08:00`).toISOString(),
        raw: sent,
      });
    });

    it('reads TRADE_FINISHED as paid, TRADE_CLOSED (after a refund) as no payment, and refuses WAIT_BUYER_PAY', async () => {
      const { paymentId } = await openedTrade();
      standIn.pay(paymentId);
      const finished = channel.verifyNotification(notification(standIn.notificationBody(paymentId, { trade_status: 'TRADE_FINISHED' })), new Date());
      expect(finished.status).toBe('succeeded');
      const closed = channel.verifyNotification(
        notification(standIn.notificationBody(paymentId, { trade_status: 'TRADE_CLOSED', refund_fee: '19.99', gmt_refund: '2026-01-01 10:00:00' })),
        new Date(),
      );
      expect(closed.status).toBe('closed');
      expect(() => channel.verifyNotification(notification(standIn.notificationBody(paymentId, { trade_status: 'WAIT_BUYER_PAY' })), new Date())).toThrow(
        NotificationRejectedError,
      );
    });

    it('is rejected when tampered with, re-signed with another key, for another app, or repeating a field', async () => {
      const { paymentId } = await openedTrade();
      standIn.pay(paymentId);
      const genuine = standIn.notificationBody(paymentId);

      const tampered = genuine.replace('total_amount=19.99', 'total_amount=0.01');
      expect(tampered).not.toBe(genuine);
      expectRejected(tampered, 'bad-signature');
      expectRejected(standIn.notificationBody(paymentId, {}, otherKeys.privateKey), 'bad-signature');
      expectRejected(standIn.notificationBody(paymentId, { app_id: '2021000000009999' }), 'malformed');
      expectRejected(`${genuine}&out_trade_no=pay_other`, 'malformed');
      expectRejected(genuine.replace(/(^|&)sign=[^&]*/, ''), 'bad-signature');
      expectRejected(genuine.replace('sign_type=RSA2', 'sign_type=RSA'), 'bad-signature');
    });

    it('carries the amount Alipay states, so a wrong amount is caught against the payment', async () => {
      const { paymentId } = await openedTrade();
      standIn.pay(paymentId);
      const verified = channel.verifyNotification(notification(standIn.notificationBody(paymentId, { total_amount: '20.00' })), new Date());
      expect(verified.amount).toEqual({ amount: 2000, currency: 'CNY' });
    });

    it("is refused as malformed when it names another seller than ALIPAY_SELLER_ID, though Alipay signed it", async () => {
      const { paymentId } = await openedTrade();
      standIn.pay(paymentId);
      const ours = channelWith({ sellerId: standIn.sellerId });
      const fromOurSeller = standIn.notificationBody(paymentId);
      expect(ours.verifyNotification(notification(fromOurSeller), new Date()).status).toBe('succeeded');

      const fromAnotherSeller = standIn.notificationBody(paymentId, { seller_id: '2088999999999999' });
      let error: unknown;
      try {
        ours.verifyNotification(notification(fromAnotherSeller), new Date());
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(NotificationRejectedError);
      expect(error).toMatchObject({ code: 'malformed', message: expect.stringMatching(/seller_id/) });
      const withoutSeller = new URLSearchParams(fromOurSeller);
      withoutSeller.delete('seller_id');
      withoutSeller.set('sign', standIn.signNotificationParams(Object.fromEntries([...withoutSeller].filter(([name]) => name !== 'sign'))));
      expect(() => ours.verifyNotification(notification(withoutSeller.toString()), new Date())).toThrow(NotificationRejectedError);
      // Without ALIPAY_SELLER_ID nothing is checked, as before.
      expect(channel.verifyNotification(notification(fromAnotherSeller), new Date()).status).toBe('succeeded');
    });

    it('is answered exactly "success" once recorded, and "fail" when rejected', () => {
      expect(channel.notificationAnswer({ outcome: 'recorded' })).toEqual({ status: 200, contentType: 'text/plain; charset=utf-8', body: 'success' });
      expect(channel.notificationAnswer({ outcome: 'rejected', status: 401, code: 'bad-signature', detail: 'x' })).toMatchObject({ body: 'fail' });
    });

    function expectRejected(body: string, code: 'bad-signature' | 'malformed') {
      let error: unknown;
      try {
        channel.verifyNotification(notification(body), new Date());
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(NotificationRejectedError);
      expect((error as NotificationRejectedError).code).toBe(code);
    }
  });

  describe("the payer's return", () => {
    it('names the payment when Alipay signed it, and is refused when tampered with', async () => {
      const { paymentId } = await openedTrade();
      standIn.pay(paymentId);
      const query = Object.fromEntries(standIn.returnQuery(paymentId));
      expect(channel.verifyReturn(query)).toEqual({ paymentId });
      expect(() => channel.verifyReturn({ ...query, out_trade_no: 'pay_someone_else' })).toThrow(NotificationRejectedError);
      expect(channel.verifyReturn({ paymentId })).toBeUndefined();
    });
  });
});

describe('alipay and wechatpay configuration', () => {
  it('turns a provider on only when all its settings are there, and names what a partial one lacks', () => {
    expect(loadConfig({})).toMatchObject({ alipay: null, wechatpay: null });
    const alipay = { ALIPAY_APP_ID: '2021', ALIPAY_PRIVATE_KEY: 'k', ALIPAY_PUBLIC_KEY: 'p' };
    expect(loadConfig(alipay).alipay).toEqual({ appId: '2021', privateKey: 'k', alipayPublicKey: 'p', gatewayUrl: 'https://openapi.alipay.com/gateway.do' });
    expect(() => loadConfig({ ALIPAY_APP_ID: '2021', ALIPAY_PRIVATE_KEY: 'secret-value' })).toThrow(/ALIPAY_PUBLIC_KEY/);
    expect(() => loadConfig({ ALIPAY_APP_ID: '2021', ALIPAY_PRIVATE_KEY: 'secret-value' })).not.toThrow(/secret-value/);
    expect(() => loadConfig({ WECHATPAY_MCHID: '1900000109' })).toThrow(ConfigError);
  });

  it('refuses an APIv3 key that is not 32 characters, and keys that do not read', () => {
    const wechat = {
      WECHATPAY_MCHID: '1',
      WECHATPAY_APPID: 'wx1',
      WECHATPAY_API_V3_KEY: 'short',
      WECHATPAY_PRIVATE_KEY: 'k',
      WECHATPAY_CERT_SERIAL: 's',
      WECHATPAY_PLATFORM_PUBLIC_KEY: 'p',
      WECHATPAY_PLATFORM_SERIAL: 'ps',
    };
    expect(() => loadConfig(wechat)).toThrow(/WECHATPAY_API_V3_KEY/);
    expect(() => new AlipayChannel({ appId: '1', privateKey: 'not a key', alipayPublicKey: 'not a key', gatewayUrl: 'http://x' })).toThrow(/ALIPAY_PRIVATE_KEY/);
  });
});
