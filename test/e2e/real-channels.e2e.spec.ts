/**
 * The anomaly scenarios through the real service, with the alipay and wechatpay channels
 * configured from the environment against local stand-ins that speak the providers' formats.
 */
import { generateKeyPairSync } from 'node:crypto';
import { AlipayStandIn } from '../support/alipay-stand-in.js';
import { eventsOfOrder, eventsOfPayment, logHead, readLog, readStream, typesOf } from '../support/audit-log.js';
import { eventually, startTestApp, type TestApp } from '../support/harness.js';
import { WechatpayStandIn } from '../support/wechatpay-stand-in.js';

const PROBLEMS = 'https://payguard.dev/problems/';
const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
const ALIPAY_APP_ID = '2021000000000042';
const MCHID = '1900000109';
const APPID = 'wxd678efh567hg6787';
const API_V3_KEY = 'Q3de1ZJB1kG2e7VfTs3jQzaWizur8GbX';
const MERCHANT_SERIAL = '5A1B2C3D4E5F60718293A4B5C6D7E8F901234567';

describe('the alipay and wechatpay channels, end to end', () => {
  const alipayApp = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const appPrivatePem = alipayApp.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const merchantPrivatePem = merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  let alipay: AlipayStandIn;
  let wechat: WechatpayStandIn;
  let app: TestApp;

  beforeAll(async () => {
    alipay = await AlipayStandIn.start({ appId: ALIPAY_APP_ID, appPublicKey: alipayApp.publicKey });
    wechat = await WechatpayStandIn.start({ mchid: MCHID, appid: APPID, apiV3Key: API_V3_KEY, merchantPublicKey: merchant.publicKey, merchantSerial: MERCHANT_SERIAL });
    app = await startTestApp({
      ALIPAY_APP_ID,
      ALIPAY_PRIVATE_KEY: appPrivatePem,
      ALIPAY_PUBLIC_KEY: alipay.alipayPublicKeyPem,
      ALIPAY_GATEWAY_URL: alipay.gatewayUrl,
      WECHATPAY_MCHID: MCHID,
      WECHATPAY_APPID: APPID,
      WECHATPAY_API_V3_KEY: API_V3_KEY,
      WECHATPAY_PRIVATE_KEY: merchantPrivatePem,
      WECHATPAY_CERT_SERIAL: MERCHANT_SERIAL,
      WECHATPAY_PLATFORM_PUBLIC_KEY: wechat.platformPublicKeyPem,
      WECHATPAY_PLATFORM_SERIAL: wechat.platformSerial,
      WECHATPAY_BASE_URL: wechat.baseUrl,
    });
  });
  afterAll(async () => {
    await app.close();
    await Promise.all([alipay.close(), wechat.close()]);
  });
  afterEach(() => {
    alipay.faults = {};
    wechat.faults = {};
  });

  async function order(orderId: string, amount: number, expiresInSeconds = 1800) {
    const placed = await app.request('POST', '/orders', { orderId, amount, currency: 'CNY', expiresInSeconds });
    expect(placed.status).toBe(201);
    return placed.body;
  }

  /** The payer's address as the merchant's page saw it: WeChat Pay H5 needs it. */
  const PAYER_IP = '203.0.113.7';

  async function payment(orderId: string, channel: 'alipay' | 'wechatpay') {
    const started = await app.request('POST', `/orders/${orderId}/payments`, channel === 'wechatpay' ? { channel, payerIp: PAYER_IP } : { channel });
    expect(started.status).toBe(201);
    return started.body as { paymentId: string; payUrl: string; timeExpire: string };
  }

  const orderOnceItIs = (orderId: string, accept: (body: any) => boolean, what: string) =>
    eventually(() => app.request('GET', `/orders/${orderId}`), (answer) => accept(answer.body), 10_000, what);

  describe('a duplicate across alipay and wechatpay', () => {
    let first: { paymentId: string; payUrl: string };
    let second: { paymentId: string; payUrl: string };
    beforeAll(async () => {
      await order('real-dup', 1999);
      first = await payment('real-dup', 'alipay');
      second = await payment('real-dup', 'wechatpay');
      await alipay.payerPays(first.payUrl);
      await orderOnceItIs('real-dup', (body) => body.status === 'paid', 'paid by alipay');
      await wechat.payerPays(second.payUrl);
      await orderOnceItIs('real-dup', (body) => body.refunds[0]?.status === 'succeeded', 'refund of the wechatpay duplicate');
      await Promise.all([alipay.settled(), wechat.settled()]);
      await app.settle();
    });

    it('keeps the first success and refunds the second exactly once, at WeChat Pay', async () => {
      const settled = await app.request('GET', '/orders/real-dup');
      expect(settled.body).toMatchObject({
        status: 'paid',
        paidBy: first.paymentId,
        anomalies: [{ kind: 'duplicate-payment', paymentId: second.paymentId }],
        refunds: [{ refundId: `refund-${second.paymentId}`, paymentId: second.paymentId, amount: 1999, currency: 'CNY', reason: 'duplicate-payment', status: 'succeeded' }],
      });
      const held = wechat.trades.get(second.paymentId)!;
      expect([...held.refunds.keys()]).toEqual([`refund-${second.paymentId}`]);
      expect(held.state).toBe('REFUND');
      expect(alipay.trades.get(first.paymentId)!.refunds.size).toBe(0);
      const log = await readLog(app);
      expect(typesOf(eventsOfPayment(log, second.paymentId)).filter((type) => type.startsWith('Refund'))).toEqual(['RefundRequested', 'RefundSucceeded']);
    });

    it('started each trade in the provider format (yuan and China time at Alipay, fen and +08:00 at WeChat Pay)', async () => {
      const expire = (await app.request('GET', `/payments/${first.paymentId}`)).body.timeExpire as string;
      const china = new Date(Date.parse(expire) + 8 * 3600 * 1000).toISOString().slice(0, 19);
      expect(alipay.trades.get(first.paymentId)).toMatchObject({ totalAmount: '19.99', timeExpire: china.replace('T', ' '), notifyUrl: `${app.url}/channels/alipay/notifications` });
      expect(wechat.trades.get(second.paymentId)!.request).toMatchObject({
        amount: { total: 1999, currency: 'CNY' },
        time_expire: `${china}+08:00`,
        notify_url: `${app.url}/channels/wechatpay/notifications`,
        scene_info: { payer_client_ip: PAYER_IP, h5_info: { type: 'Wap' } },
      });
    });

    it('answered the notifications as each provider requires', () => {
      expect(alipay.deliveries.filter((delivery) => delivery.params.out_trade_no === first.paymentId && delivery.params.trade_status === 'TRADE_SUCCESS').map((delivery) => delivery.body)).toEqual(['success']);
      expect(wechat.deliveries.filter((delivery) => delivery.outTradeNo === second.paymentId).map((delivery) => delivery.status)).toEqual([204]);
    });

    it('keeps the verified notification, decrypted and without keys, for auditors', async () => {
      const [alipaySuccess] = eventsOfPayment(await readLog(app), first.paymentId, 'PaymentSucceeded');
      expect(alipaySuccess.data).toMatchObject({ source: 'notification', raw: { out_trade_no: first.paymentId, trade_status: 'TRADE_SUCCESS', total_amount: '19.99', app_id: ALIPAY_APP_ID } });
      const [wechatSuccess] = eventsOfPayment(await readLog(app), second.paymentId, 'PaymentSucceeded');
      expect(wechatSuccess.data.raw).toMatchObject({ event_type: 'TRANSACTION.SUCCESS', resource: { decrypted: { out_trade_no: second.paymentId, trade_state: 'SUCCESS', amount: { total: 1999 } } } });
      const everything = JSON.stringify(await readLog(app));
      for (const secret of [API_V3_KEY, appPrivatePem.split('\n')[1], merchantPrivatePem.split('\n')[1]]) expect(everything).not.toContain(secret);
    });

    it('answers a repeated notification as recorded and records nothing new', async () => {
      const head = await logHead(app);
      const repeat = alipay.deliveries.find((delivery) => delivery.params.out_trade_no === first.paymentId)!;
      const answer = await app.request('POST', '/channels/alipay/notifications', new URLSearchParams(repeat.params).toString(), FORM);
      expect([answer.status, answer.headers.get('content-type'), answer.body]).toEqual([200, 'text/plain; charset=utf-8', 'success']);
      // After the full refund Alipay would report TRADE_CLOSED: no payment either.
      const closed = alipay.notificationBody(first.paymentId, { trade_status: 'TRADE_CLOSED' });
      expect((await app.request('POST', '/channels/alipay/notifications', closed, FORM)).body).toBe('success');
      const message = wechat.notificationFor(second.paymentId);
      const wechatRepeat = await app.request('POST', '/channels/wechatpay/notifications', message.body, message.headers);
      expect(wechatRepeat.status).toBe(204);
      await app.settle();
      expect(await logHead(app)).toBe(head);
    });
  });

  describe('a notification that is not acceptable', () => {
    it('gets "fail" from the alipay endpoint and records nothing', async () => {
      await order('real-bad-alipay', 3000);
      const { paymentId, payUrl } = await payment('real-bad-alipay', 'alipay');
      alipay.faults = { dropNotifications: true };
      await alipay.payerPays(payUrl);
      const head = await logHead(app);
      const wrongAmount = await app.request('POST', '/channels/alipay/notifications', alipay.notificationBody(paymentId, { total_amount: '0.01' }), FORM);
      expect([wrongAmount.status, wrongAmount.body]).toEqual([422, 'fail']);
      const forged = alipay.notificationBody(paymentId).replace('total_amount=30.00', 'total_amount=0.01');
      const tampered = await app.request('POST', '/channels/alipay/notifications', forged, FORM);
      expect([tampered.status, tampered.body]).toEqual([401, 'fail']);
      const otherApp = await app.request('POST', '/channels/alipay/notifications', alipay.notificationBody(paymentId, { app_id: '2021000000009999' }), FORM);
      expect(otherApp.body).toBe('fail');
      expect(await logHead(app)).toBe(head);
    });

    it('gets a 4xx {"code":"FAIL"} from the wechatpay endpoint and records nothing', async () => {
      await order('real-bad-wechat', 3000);
      const { paymentId, payUrl } = await payment('real-bad-wechat', 'wechatpay');
      wechat.faults = { dropNotifications: true };
      await wechat.payerPays(payUrl);
      const head = await logHead(app);
      const wrong = wechat.notificationFor(paymentId, { transaction: { amount: { total: 1, currency: 'CNY' } } });
      const wrongAmount = await app.request('POST', '/channels/wechatpay/notifications', wrong.body, wrong.headers);
      expect(wrongAmount.status).toBe(422);
      expect(wrongAmount.body).toEqual({ code: 'FAIL', message: expect.stringContaining('3000') });
      const stale = wechat.notificationFor(paymentId, { timestamp: Math.floor(Date.now() / 1000) - 600 });
      const refused = await app.request('POST', '/channels/wechatpay/notifications', stale.body, stale.headers);
      expect([refused.status, refused.body.code]).toEqual([401, 'FAIL']);
      expect(await logHead(app)).toBe(head);
    });
  });

  describe('an order in a currency the provider does not take', () => {
    it.each(['alipay', 'wechatpay'] as const)('is refused on %s as 400 validation, recording nothing', async (channel) => {
      const orderId = `real-usd-${channel}`;
      expect((await app.request('POST', '/orders', { orderId, amount: 1000, currency: 'USD' })).status).toBe(201);
      const head = await logHead(app);
      const refused = await app.request('POST', `/orders/${orderId}/payments`, channel === 'wechatpay' ? { channel, payerIp: PAYER_IP } : { channel });
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([{ field: 'channel', message: `${channel} takes CNY only, not USD` }]);
      expect(await logHead(app)).toBe(head);
    });
  });

  describe('a late success after expiry', () => {
    it.each(['alipay', 'wechatpay'] as const)('on %s is refunded once as paid-after-expiry', async (channel) => {
      const orderId = `real-late-${channel}`;
      await order(orderId, 2500, 2);
      const { paymentId, payUrl } = await payment(orderId, channel);
      if (channel === 'alipay') expect((await alipay.payerOpens(payUrl)).status).toBe(200);
      // The provider can't be reached at expiry, and takes the money anyway afterwards.
      alipay.faults = wechat.faults = { apiDown: true, ignoreTimeExpire: true };
      const expired = await orderOnceItIs(orderId, (body) => body.status !== 'pending', 'expiry');
      expect(expired.body.status).toBe('expired');
      // Both providers give their payment time in whole seconds: pay in a second wholly after expiresAt.
      const afterExpirySecond = Math.floor(Date.parse(expired.body.expiresAt) / 1000) * 1000 + 1000;
      await eventually(async () => Date.now(), (now) => now >= afterExpirySecond, 3000, 'the second after expiresAt');
      alipay.faults = wechat.faults = { ignoreTimeExpire: true };
      if (channel === 'alipay') alipay.pay(paymentId);
      else wechat.pay(paymentId);

      const refunded = await orderOnceItIs(orderId, (body) => body.refunds[0]?.status === 'succeeded', 'refund of the late success');
      expect(refunded.body).toMatchObject({
        status: 'expired',
        anomalies: [{ kind: 'paid-after-expiry', paymentId }],
        refunds: [{ refundId: `refund-${paymentId}`, reason: 'paid-after-expiry', amount: 2500, status: 'succeeded' }],
      });
      await app.settle();
      const log = await readLog(app);
      expect(eventsOfPayment(log, paymentId, 'RefundSucceeded')).toHaveLength(1);
      expect(eventsOfOrder(log, orderId, 'OrderPaid')).toEqual([]);
      const refunds = channel === 'alipay' ? alipay.trades.get(paymentId)!.refunds : wechat.trades.get(paymentId)!.refunds;
      expect(refunds.size).toBe(1);
    });
  });

  describe('an order whose payment notification was lost', () => {
    it.each(['alipay', 'wechatpay'] as const)('on %s is settled at expiry: the close finds the trade paid', async (channel) => {
      const orderId = `real-in-flight-${channel}`;
      await order(orderId, 2600, 2);
      const { paymentId, payUrl } = await payment(orderId, channel);
      alipay.faults = wechat.faults = { dropNotifications: true };
      const paid = channel === 'alipay' ? (await alipay.payerPays(payUrl)).tradeNo : (await wechat.payerPays(payUrl)).transactionId;
      expect((await app.request('GET', `/orders/${orderId}`)).body.status).toBe('pending');

      const ended = await orderOnceItIs(orderId, (body) => body.status !== 'pending', 'expiry');
      expect(ended.body).toMatchObject({ status: 'paid', paidBy: paymentId, anomalies: [], refunds: [], payments: [{ paymentId, status: 'succeeded', channelTradeNo: paid }] });
      await app.settle();
      const log = await readLog(app);
      expect(eventsOfPayment(log, paymentId, 'PaymentSucceeded').map((event) => event.data.source)).toEqual(['close']);
      expect(typesOf(eventsOfOrder(log, orderId)).filter((type) => /^(OrderExpired|AnomalyDetected|Refund)/.test(type))).toEqual([]);
    });
  });

  describe("the payer's return from Alipay", () => {
    it('is verified, then the trade is queried: the return alone proves nothing', async () => {
      await order('real-return', 1200);
      const { paymentId, payUrl } = await payment('real-return', 'alipay');
      expect((await alipay.payerOpens(payUrl)).status).toBe(200);
      const unpaid = await app.request('GET', `/channels/alipay/return?${alipay.returnQuery(paymentId)}`, undefined, { accept: 'text/html' });
      expect(unpaid.status).toBe(200);
      expect(unpaid.body).toContain('data-payment-status>pending');

      alipay.faults = { dropNotifications: true };
      alipay.pay(paymentId);
      const tampered = alipay.returnQuery(paymentId);
      tampered.set('total_amount', '0.01');
      expect((await app.request('GET', `/channels/alipay/return?${tampered}`)).status).toBe(401);
      expect((await app.request('GET', `/payments/${paymentId}`)).body.status).toBe('pending');

      const back = await app.request('GET', `/channels/alipay/return?${alipay.returnQuery(paymentId)}`, undefined, { accept: 'text/html' });
      expect(back.body).toContain('data-order-status>paid');
      expect((await readStream(app, `payment-${paymentId}`)).find((event) => event.type === 'PaymentSucceeded')!.data.source).toBe('query');
    });
  });

  describe("a WeChat Pay attempt without the payer's IP address", () => {
    it('is refused with 400 validation naming payerIp, and records nothing', async () => {
      await order('real-wechat-no-ip', 1500);
      const head = await logHead(app);
      const requests = wechat.requests.length;
      const missing = await app.request('POST', '/orders/real-wechat-no-ip/payments', { channel: 'wechatpay' });
      expect(missing.status).toBe(400);
      expect(missing.body).toMatchObject({ type: 'https://payguard.dev/problems/validation', errors: [{ field: 'payerIp' }] });
      const malformed = await app.request('POST', '/orders/real-wechat-no-ip/payments', { channel: 'wechatpay', payerIp: '203.0.113' });
      expect(malformed.status).toBe(400);
      expect(malformed.body.errors).toEqual([expect.objectContaining({ field: 'payerIp' })]);
      expect(await logHead(app)).toBe(head);
      expect(wechat.requests.length).toBe(requests);
      // Alipay needs no IP address; a v6 one is taken for WeChat Pay.
      expect((await app.request('POST', '/orders/real-wechat-no-ip/payments', { channel: 'wechatpay', payerIp: '2001:db8::7' })).status).toBe(201);
    });
  });

  describe('an Alipay trade closed unpaid', () => {
    it('closes the pending payment (not a failure) and leaves the order payable', async () => {
      await order('real-alipay-closed', 1500);
      const { paymentId, payUrl } = await payment('real-alipay-closed', 'alipay');
      expect((await alipay.payerOpens(payUrl)).status).toBe(200);
      const closed = await app.request('POST', '/channels/alipay/notifications', alipay.notificationBody(paymentId, { trade_status: 'TRADE_CLOSED' }), FORM);
      expect([closed.status, closed.body]).toEqual([200, 'success']);
      expect((await readStream(app, `payment-${paymentId}`)).map((event) => event.type)).toEqual(['PaymentInitiated', 'PaymentTradeOpened', 'PaymentClosed']);
      const now = await app.request('GET', '/orders/real-alipay-closed');
      expect(now.body).toMatchObject({ status: 'pending', payments: [{ paymentId, status: 'closed' }] });
    });
  });

  describe('a new WeChat Pay attempt after a failed one', () => {
    it('closes the failed trade before the new one is created', async () => {
      await order('real-retry', 1500);
      const failed = await payment('real-retry', 'wechatpay');
      wechat.pay(failed.paymentId, 'fail');
      expect((await app.request('POST', `/payments/${failed.paymentId}/sync`)).body.status).toBe('failed');

      const retry = await payment('real-retry', 'wechatpay');
      expect(retry.paymentId).not.toBe(failed.paymentId);
      const calls = wechat.requests.map((call) => `${call.method} ${call.path}${call.body.out_trade_no ? ` ${call.body.out_trade_no}` : ''}`);
      const closedAt = calls.indexOf(`POST /v3/pay/transactions/out-trade-no/${failed.paymentId}/close`);
      const createdAt = calls.indexOf(`POST /v3/pay/transactions/h5 ${retry.paymentId}`);
      expect(closedAt).toBeGreaterThan(-1);
      expect(closedAt).toBeLessThan(createdAt);
      expect(wechat.trades.get(failed.paymentId)!.state).toBe('CLOSED');
    });
  });

  describe('a service without provider configuration', () => {
    it('does not offer alipay or wechatpay (400 validation)', async () => {
      const bare = await startTestApp();
      try {
        await bare.request('POST', '/orders', { orderId: 'bare-1', amount: 100, currency: 'CNY' });
        for (const channel of ['alipay', 'wechatpay']) {
          const refused = await bare.request('POST', '/orders/bare-1/payments', { channel });
          expect(refused.status).toBe(400);
          expect(refused.body).toMatchObject({ type: `${PROBLEMS}validation`, errors: [{ field: 'channel' }] });
        }
      } finally {
        await bare.close();
      }
    });
  });
});
