import { generateKeyPairSync } from 'node:crypto';
import { ChannelUnavailableError, NotificationRejectedError, type IncomingNotification } from '../../src/application/ports/channel.port.js';
import { WechatpayChannel } from '../../src/infrastructure/channels/wechatpay.channel.js';
import { WechatpayStandIn, type SignedMessage } from '../support/wechatpay-stand-in.js';

const MCHID = '1900000109';
const APPID = 'wxd678efh567hg6787';
const API_V3_KEY = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';
const MERCHANT_SERIAL = '444F4864EA9B34415A4C8B4C3F2DA6C3B4C8E2F1';

describe('the wechatpay channel (WeChat Pay API v3, H5) against a stand-in', () => {
  const merchantKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const otherKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let standIn: WechatpayStandIn;
  let channel: WechatpayChannel;
  let sequence = 0;

  beforeAll(async () => {
    standIn = await WechatpayStandIn.start({ mchid: MCHID, appid: APPID, apiV3Key: API_V3_KEY, merchantPublicKey: merchantKeys.publicKey, merchantSerial: MERCHANT_SERIAL });
    channel = channelWith({});
  });
  afterAll(() => standIn.close());

  function channelWith(overrides: Partial<ConstructorParameters<typeof WechatpayChannel>[0]>): WechatpayChannel {
    return new WechatpayChannel({
      mchid: MCHID,
      appid: APPID,
      apiV3Key: API_V3_KEY,
      privateKey: merchantKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      certSerial: MERCHANT_SERIAL,
      platformPublicKey: standIn.platformPublicKeyPem,
      platformSerial: standIn.platformSerial,
      baseUrl: standIn.baseUrl,
      ...overrides,
    });
  }

  async function trade(amount = 1999) {
    sequence += 1;
    const paymentId = `pay_wxspec${sequence}_${Date.now()}`;
    const timeExpire = new Date(Math.floor(Date.now() / 1000) * 1000 + 10 * 60 * 1000).toISOString();
    const { payUrl } = await channel.createTrade({
      paymentId,
      orderId: `order-${sequence}`,
      amount: { amount, currency: 'CNY' },
      timeExpire,
      notifyUrl: 'http://127.0.0.1:9/channels/wechatpay/notifications',
      returnUrl: `http://127.0.0.1:9/channels/wechatpay/return?paymentId=${paymentId}`,
      payerIp: '198.51.100.20',
    });
    return { paymentId, payUrl, timeExpire };
  }

  const incoming = (message: SignedMessage): IncomingNotification => ({
    headers: { 'content-type': 'application/json', ...message.headers },
    rawBody: Buffer.from(message.body),
  });

  describe('starting a payment', () => {
    it('creates an H5 transaction with a signed request, and hands back h5_url with redirect_url', async () => {
      const { payUrl } = await channel.createTrade({
        paymentId: 'pay_wx_terms',
        orderId: 'order-terms',
        amount: { amount: 100005, currency: 'CNY' },
        description: '两张票 Two tickets',
        timeExpire: '2030-01-01T04:05:06.000Z',
        notifyUrl: 'https://payguard.example/channels/wechatpay/notifications',
        returnUrl: 'https://payguard.example/channels/wechatpay/return?paymentId=pay_wx_terms',
        payerIp: '203.0.113.7',
      });
      expect(standIn.requests.at(-1)).toEqual({
        method: 'POST',
        path: '/v3/pay/transactions/h5',
        body: {
          appid: APPID,
          mchid: MCHID,
          description: '两张票 Two tickets',
          out_trade_no: 'pay_wx_terms',
          time_expire: '2030-01-01T12:05:06+08:00',
          notify_url: 'https://payguard.example/channels/wechatpay/notifications',
          amount: { total: 100005, currency: 'CNY' },
          scene_info: { payer_client_ip: '203.0.113.7', h5_info: { type: 'Wap' } },
        },
      });
      const url = new URL(payUrl);
      expect(`${url.origin}${url.pathname}`).toBe(`${standIn.baseUrl}/cashier`);
      expect(url.searchParams.get('prepay_id')).toBe(standIn.trades.get('pay_wx_terms')!.prepayId);
      expect(url.searchParams.get('redirect_url')).toBe('https://payguard.example/channels/wechatpay/return?paymentId=pay_wx_terms');
    });

    it('is refused when signed with a key or serial WeChat Pay does not know', async () => {
      const request = { paymentId: 'pay_wx_impostor', orderId: 'o', amount: { amount: 1, currency: 'CNY' }, timeExpire: new Date(Date.now() + 600_000).toISOString(), notifyUrl: 'http://x/n', returnUrl: 'http://x/r', payerIp: '203.0.113.7' };
      await expect(channelWith({ privateKey: otherKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }).createTrade(request)).rejects.toThrow(/401 SIGN_ERROR/);
      await expect(channelWith({ certSerial: 'ABCDEF' }).createTrade(request)).rejects.toThrow(/401 SIGN_ERROR/);
      expect(standIn.trades.has('pay_wx_impostor')).toBe(false);
      expect(standIn.rejected.map((rejection) => rejection.reason)).toEqual([expect.stringMatching(/signature/), expect.stringMatching(/serial_no/)]);
    });
  });

  describe('query, close and refund', () => {
    it('reports not-found, pending, then paid', async () => {
      expect(await channel.queryTrade('pay_wx_unknown')).toEqual({ state: 'not-found' });
      const { paymentId, payUrl } = await trade();
      expect(await channel.queryTrade(paymentId)).toEqual({ state: 'pending' });
      const paid = await standIn.payerPays(payUrl);
      expect(await channel.queryTrade(paymentId)).toEqual({
        state: 'paid',
        channelTradeNo: paid.transactionId,
        amount: { amount: 1999, currency: 'CNY' },
        paidAt: new Date(paid.successTime!).toISOString(),
      });
    });

    it('closes an open trade (POST .../close, 204), and reports a paid one already-paid', async () => {
      expect(await channel.closeTrade('pay_wx_unknown')).toEqual({ result: 'not-found' });
      const open = await trade();
      expect(await channel.closeTrade(open.paymentId)).toEqual({ result: 'closed' });
      expect(standIn.requests.some((request) => request.method === 'POST' && request.path === `/v3/pay/transactions/out-trade-no/${open.paymentId}/close` && request.body.mchid === MCHID)).toBe(true);
      expect(() => standIn.pay(open.paymentId)).toThrow(/CLOSED/);
      expect(await channel.closeTrade(open.paymentId)).toEqual({ result: 'closed' });

      const paid = await trade(2500);
      const taken = standIn.pay(paid.paymentId);
      expect(await channel.closeTrade(paid.paymentId)).toMatchObject({ result: 'already-paid', channelTradeNo: taken.transactionId, amount: { amount: 2500, currency: 'CNY' } });
    });

    it('refunds once however often the refund is retried (out_refund_no from the refund id)', async () => {
      const { paymentId } = await trade(1234);
      standIn.pay(paymentId);
      const request = { refundId: `refund-${paymentId}`, paymentId, amount: { amount: 1234, currency: 'CNY' }, reason: 'duplicate-payment' };
      const first = await channel.refund(request);
      expect(first).toEqual({ result: 'succeeded', channelRefundNo: expect.stringMatching(/^50/), amount: { amount: 1234, currency: 'CNY' } });
      expect(await channel.refund(request)).toEqual(first);
      const held = standIn.trades.get(paymentId)!;
      expect([...held.refunds.keys()]).toEqual([`refund-${paymentId}`]);
      expect(held.state).toBe('REFUND');
      const posted = standIn.requests.filter((call) => call.path === '/v3/refund/domestic/refunds');
      expect(posted.at(-1)!.body).toEqual({ out_trade_no: paymentId, out_refund_no: `refund-${paymentId}`, reason: 'duplicate-payment', amount: { refund: 1234, total: 1234, currency: 'CNY' } });
    });

    it('reports a PROCESSING refund as not done yet, and succeeded once WeChat Pay finished it', async () => {
      const { paymentId } = await trade(500);
      standIn.pay(paymentId);
      const request = { refundId: `refund-${paymentId}`, paymentId, amount: { amount: 500, currency: 'CNY' }, reason: 'paid-after-expiry' };
      standIn.faults = { refundProcessing: true };
      expect(await channel.refund(request)).toEqual({ result: 'failed', reason: expect.stringMatching(/^PROCESSING/), final: false });
      expect(await channel.queryRefund(paymentId, request.refundId)).toEqual({ state: 'pending' });
      standIn.faults = {};
      expect(await channel.refund(request)).toEqual({ result: 'succeeded', channelRefundNo: expect.any(String), amount: { amount: 500, currency: 'CNY' } });
      expect(standIn.trades.get(paymentId)!.refunds.size).toBe(1);
    });

    it('believes no answer signed with another key or serial', async () => {
      const { paymentId } = await trade();
      const otherKey = otherKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      await expect(channelWith({ platformPublicKey: otherKey }).queryTrade(paymentId)).rejects.toBeInstanceOf(ChannelUnavailableError);
      await expect(channelWith({ platformSerial: 'PUB_KEY_ID_OTHER' }).queryTrade(paymentId)).rejects.toBeInstanceOf(ChannelUnavailableError);
      expect(await channel.queryTrade(paymentId)).toEqual({ state: 'pending' });
    });

    it('treats a 5xx as unavailable (retry later)', async () => {
      standIn.faults = { apiDown: true };
      try {
        await expect(channel.queryTrade('pay_wx_any')).rejects.toBeInstanceOf(ChannelUnavailableError);
      } finally {
        standIn.faults = {};
      }
    });
  });

  describe('refund outcomes', () => {
    afterEach(() => {
      standIn.faults = {};
    });

    async function paidTrade(amount = 1000) {
      const { paymentId } = await trade(amount);
      standIn.pay(paymentId);
      return paymentId;
    }
    const refundOf = (paymentId: string, amount = 1000) =>
      channel.refund({ refundId: `refund-${paymentId}`, paymentId, amount: { amount, currency: 'CNY' }, reason: 'duplicate-payment' });

    it('gives the amount WeChat Pay says it refunded (amount.refund), not the amount asked', async () => {
      const paymentId = await paidTrade(1000);
      standIn.faults = { refundShortfall: 200 };
      const refunded = await refundOf(paymentId);
      expect(refunded).toEqual({ result: 'succeeded', channelRefundNo: expect.stringMatching(/^50/), amount: { amount: 800, currency: 'CNY' } });
      standIn.faults = {};
      expect(await refundOf(paymentId)).toEqual(refunded);
    });

    it.each(['CLOSED', 'ABNORMAL'] as const)('is final when the refund ends %s', async (status) => {
      const paymentId = await paidTrade();
      standIn.faults = { refundEndsAs: status };
      expect(await refundOf(paymentId)).toEqual({ result: 'failed', reason: expect.stringMatching(new RegExp(`^${status}`)), final: true });
      expect(await channel.queryRefund(paymentId, `refund-${paymentId}`)).toEqual({ state: 'failed', reason: expect.stringMatching(new RegExp(`^${status}`)) });
    });

    it('is final when WeChat Pay has no such trade, or it is not paid (RESOURCE_NOT_EXISTS, INVALID_REQUEST)', async () => {
      expect(await refundOf('pay_wx_never_made')).toEqual({ result: 'failed', reason: expect.stringMatching(/^RESOURCE_NOT_EXISTS/), final: true });
      const { paymentId: unpaid } = await trade(1000);
      expect(await refundOf(unpaid)).toEqual({ result: 'failed', reason: expect.stringMatching(/^INVALID_REQUEST/), final: true });
    });

    it.each([
      { status: 400, code: 'PARAM_ERROR' },
      { status: 404, code: 'ORDER_NOT_EXIST' },
      { status: 400, code: 'INVALID_REQUEST' },
    ])('is final on $status $code', async (error) => {
      const paymentId = await paidTrade();
      standIn.faults = { refundError: { ...error, message: 'refused' } };
      expect(await refundOf(paymentId)).toEqual({ result: 'failed', reason: `${error.code}: refused`, final: true });
    });

    it.each([
      { status: 403, code: 'NOT_ENOUGH' },
      { status: 429, code: 'FREQUENCY_LIMITED' },
      { status: 403, code: 'SOME_CODE_NOT_KNOWN_YET' },
    ])('is not final on $status $code, and the same refund goes through later', async (error) => {
      const paymentId = await paidTrade();
      standIn.faults = { refundError: { ...error, message: 'not now' } };
      expect(await refundOf(paymentId)).toEqual({ result: 'failed', reason: `${error.code}: not now`, final: false });
      standIn.faults = {};
      expect(await refundOf(paymentId)).toMatchObject({ result: 'succeeded', amount: { amount: 1000 } });
    });

    it('treats a 5xx SYSTEM_ERROR as unavailable (retry later)', async () => {
      const paymentId = await paidTrade();
      standIn.faults = { refundError: { status: 500, code: 'SYSTEM_ERROR' } };
      await expect(refundOf(paymentId)).rejects.toBeInstanceOf(ChannelUnavailableError);
    });

    it('looks a refund up by out_refund_no: not-found until made, then what was refunded', async () => {
      const paymentId = await paidTrade(900);
      const refundId = `refund-${paymentId}`;
      expect(await channel.queryRefund(paymentId, refundId)).toEqual({ state: 'not-found' });
      const made = await refundOf(paymentId, 900);
      if (made.result !== 'succeeded') throw new Error('expected the refund to succeed');
      expect(await channel.queryRefund(paymentId, refundId)).toEqual({ state: 'succeeded', channelRefundNo: made.channelRefundNo, amount: { amount: 900, currency: 'CNY' } });
      expect(standIn.requests.at(-1)).toMatchObject({ method: 'GET', path: `/v3/refund/domestic/refunds/${refundId}` });
      // The refund belongs to one trade: asked about under another payment, the answer is not believed.
      await expect(channel.queryRefund('pay_wx_someone_else', refundId)).rejects.toBeInstanceOf(ChannelUnavailableError);
    });
  });

  describe('a notification', () => {
    it('is accepted when signed and encrypted by WeChat Pay, and read as a payment', async () => {
      const { paymentId, payUrl } = await trade();
      const paid = await standIn.payerPays(payUrl);
      const message = standIn.notificationFor(paymentId);
      const verified = channel.verifyNotification(incoming(message), new Date());
      const envelope = JSON.parse(message.body);
      expect(verified).toMatchObject({
        notificationId: envelope.id,
        paymentId,
        status: 'succeeded',
        amount: { amount: 1999, currency: 'CNY' },
        channelTradeNo: paid.transactionId,
        occurredAt: new Date(paid.successTime!).toISOString(),
      });
      // Auditors get the decrypted transaction, not the ciphertext.
      expect(verified.raw).toMatchObject({ id: envelope.id, event_type: 'TRANSACTION.SUCCESS', resource: { decrypted: { out_trade_no: paymentId, mchid: MCHID, trade_state: 'SUCCESS' } } });
      expect(JSON.stringify(verified.raw)).not.toContain(envelope.resource.ciphertext);
      expect(JSON.stringify(verified.raw)).not.toContain(API_V3_KEY);
    });

    it('is rejected when tampered with, re-signed with another key, from another serial, or stale', async () => {
      const { paymentId } = await trade();
      standIn.pay(paymentId);
      const genuine = standIn.notificationFor(paymentId);
      expectRejected({ ...genuine, body: genuine.body.replace('"summary":"支付成功"', '"summary":"paid"') }, 'bad-signature');
      expectRejected(standIn.notificationFor(paymentId, { key: otherKeys.privateKey }), 'bad-signature');
      expectRejected(standIn.notificationFor(paymentId, { serial: 'PUB_KEY_ID_0000' }), 'bad-signature');
      expectRejected(standIn.notificationFor(paymentId, { timestamp: Math.floor(Date.now() / 1000) - 301 }), 'bad-signature');
      expectRejected({ ...genuine, headers: { ...genuine.headers, 'wechatpay-signature': '' } }, 'bad-signature');
      // Within the 5 minutes it is accepted, against the service clock.
      expect(channel.verifyNotification(incoming(standIn.notificationFor(paymentId, { timestamp: Math.floor(Date.now() / 1000) - 200 })), new Date()).status).toBe('succeeded');
    });

    it('is rejected when encrypted with another APIv3 key, or for another merchant or app', async () => {
      const { paymentId } = await trade();
      standIn.pay(paymentId);
      expectRejected(standIn.notificationFor(paymentId, { apiV3Key: 'ZZZde1ZJB1kG2e7VfTs3jQzaWizur8Gb' }), 'malformed');
      expectRejected(standIn.notificationFor(paymentId, { transaction: { mchid: '1900000999' } }), 'malformed');
      expectRejected(standIn.notificationFor(paymentId, { transaction: { appid: 'wx0000000000000000' } }), 'malformed');
      expectRejected(standIn.notificationFor(paymentId, { transaction: { trade_state: 'NOTPAY' } }), 'malformed');
    });

    it('carries the amount WeChat Pay states, so a wrong amount is caught against the payment', async () => {
      const { paymentId } = await trade();
      standIn.pay(paymentId);
      const message = standIn.notificationFor(paymentId, { transaction: { amount: { total: 1, currency: 'CNY' } } });
      expect(channel.verifyNotification(incoming(message), new Date()).amount).toEqual({ amount: 1, currency: 'CNY' });
    });

    it('is answered 204 once recorded, and 4xx {"code":"FAIL"} when rejected', () => {
      expect(channel.notificationAnswer({ outcome: 'recorded' })).toEqual({ status: 204 });
      const answer = channel.notificationAnswer({ outcome: 'rejected', status: 401, code: 'bad-signature', detail: 'signature does not verify' });
      expect(answer).toMatchObject({ status: 401, contentType: 'application/json' });
      expect(JSON.parse(answer.body!)).toEqual({ code: 'FAIL', message: 'signature does not verify' });
    });

    function expectRejected(message: SignedMessage, code: 'bad-signature' | 'malformed') {
      let error: unknown;
      try {
        channel.verifyNotification(incoming(message), new Date());
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(NotificationRejectedError);
      expect((error as NotificationRejectedError).code).toBe(code);
    }
  });
});
