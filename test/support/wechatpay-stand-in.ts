/**
 * A local stand-in for WeChat Pay API v3 (H5 payment), written from the published formats and
 * independent of Payguard's adapter: it verifies each request's WECHATPAY2-SHA256-RSA2048
 * Authorization with the merchant's key, keeps trades, honours time_expire, lets a payer pay on
 * demand, closes, refunds idempotently by out_refund_no, signs every answer with the platform
 * key, and posts signed, AEAD_AES_256_GCM-encrypted notifications to notify_url until it gets a 2xx.
 */
import { createCipheriv, createSign, createVerify, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { listenLocally } from './local-server.js';

export type WechatTradeState = 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'PAYERROR' | 'REFUND';

export interface WechatStandInTrade {
  readonly outTradeNo: string;
  readonly prepayId: string;
  readonly total: number;
  readonly description: string;
  readonly timeExpire: string;
  readonly notifyUrl: string;
  readonly request: Record<string, unknown>;
  state: WechatTradeState;
  transactionId?: string;
  successTime?: string;
  readonly refunds: Map<string, WechatStandInRefund>;
}

export interface WechatStandInRefund {
  readonly refundId: string;
  readonly outRefundNo: string;
  readonly refund: number;
  status: 'SUCCESS' | 'PROCESSING' | 'CLOSED' | 'ABNORMAL';
  readonly createTime: string;
}

export interface WechatStandInFaults {
  /** Every API call answers 500 SYSTEM_ERROR. */
  apiDown?: boolean;
  /** A trade can be paid after time_expire or after it was closed. */
  ignoreTimeExpire?: boolean;
  dropNotifications?: boolean;
  /** New refunds stay PROCESSING until this is turned off. */
  refundProcessing?: boolean;
  /** New refunds end CLOSED or ABNORMAL instead of SUCCESS. */
  refundEndsAs?: 'CLOSED' | 'ABNORMAL';
  /** A new refund POST is refused with this error (e.g. 403 NOT_ENOUGH, 429 FREQUENCY_LIMITED, 400 INVALID_REQUEST). */
  refundError?: { status: number; code: string; message?: string };
  /** A new refund pays back `max(1, refund - n)`: amount.refund says what was actually refunded. */
  refundShortfall?: number;
}

export interface WechatStandInOptions {
  readonly mchid: string;
  readonly appid: string;
  readonly apiV3Key: string;
  /** The merchant API certificate's public key and serial number: requests must verify with them. */
  readonly merchantPublicKey: KeyObject;
  readonly merchantSerial: string;
}

export interface SignedMessage {
  readonly headers: Record<string, string>;
  readonly body: string;
}

export class WechatpayStandIn {
  readonly trades = new Map<string, WechatStandInTrade>();
  readonly requests: Array<{ method: string; path: string; body: Record<string, unknown> }> = [];
  readonly rejected: Array<{ path: string; reason: string }> = [];
  readonly deliveries: Array<{ outTradeNo: string; status: number }> = [];
  faults: WechatStandInFaults = {};
  readonly platformSerial = `5157F09EFDC096DE15EBE81A47057A72${randomBytes(4).toString('hex').toUpperCase()}`;
  readonly platformPublicKeyPem: string;
  private readonly platformPrivateKey: KeyObject;
  private readonly pending = new Set<Promise<void>>();
  private sequence = 0;

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    private readonly options: WechatStandInOptions,
    keys: { privateKey: KeyObject; publicKey: KeyObject },
  ) {
    this.platformPrivateKey = keys.privateKey;
    this.platformPublicKeyPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  static async start(options: WechatStandInOptions): Promise<WechatpayStandIn> {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let standIn: WechatpayStandIn | undefined;
    const { server, origin } = await listenLocally(() => (request, response) => standIn!.handle(request, response));
    standIn = new WechatpayStandIn(server, origin, options, keys);
    return standIn;
  }

  async close(): Promise<void> {
    this.faults = { dropNotifications: true };
    await Promise.allSettled([...this.pending]);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The payer follows the payUrl (h5_url plus redirect_url) and pays in WeChat. */
  async payerPays(payUrl: string): Promise<WechatStandInTrade> {
    const url = new URL(payUrl);
    if (!url.searchParams.get('redirect_url')) throw new Error('the payUrl carries no redirect_url');
    const page = await fetch(payUrl);
    if (page.status !== 200) throw new Error(`cashier refused: ${page.status}`);
    const trade = [...this.trades.values()].find((candidate) => candidate.prepayId === url.searchParams.get('prepay_id'));
    if (trade === undefined) throw new Error('no trade for this h5_url');
    return this.pay(trade.outTradeNo);
  }

  pay(outTradeNo: string, outcome: 'success' | 'fail' = 'success'): WechatStandInTrade {
    const trade = this.trades.get(outTradeNo);
    if (trade === undefined) throw new Error(`no trade ${outTradeNo}`);
    if (trade.state === 'SUCCESS') return trade;
    if (!this.faults.ignoreTimeExpire && this.stateOf(trade) !== 'NOTPAY') throw new Error(`trade ${outTradeNo} is ${this.stateOf(trade)}`);
    if (outcome === 'fail') {
      trade.state = 'PAYERROR';
      return trade;
    }
    this.sequence += 1;
    trade.state = 'SUCCESS';
    trade.transactionId = `42000${String(Date.now()).slice(-10)}${String(this.sequence).padStart(13, '0')}`;
    trade.successTime = rfc3339China(new Date());
    this.notify(trade);
    return trade;
  }

  /** WeChat Pay stops taking payment at time_expire. */
  stateOf(trade: WechatStandInTrade): WechatTradeState {
    return trade.state === 'NOTPAY' && Date.now() >= Date.parse(trade.timeExpire) ? 'CLOSED' : trade.state;
  }

  /** A notification as WeChat Pay posts it for a trade; `tamper` changes the decrypted transaction, `sign` the signature. */
  notificationFor(
    outTradeNo: string,
    options: { transaction?: Record<string, unknown>; key?: KeyObject; timestamp?: number; serial?: string; apiV3Key?: string } = {},
  ): SignedMessage {
    const trade = this.trades.get(outTradeNo);
    if (trade === undefined) throw new Error(`no trade ${outTradeNo}`);
    const transaction = { ...this.transaction(trade), ...options.transaction };
    const nonce = randomBytes(6).toString('hex');
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(options.apiV3Key ?? this.options.apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
    cipher.setAAD(Buffer.from('transaction', 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(transaction), 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
    const body = JSON.stringify({
      id: randomUUID(),
      create_time: rfc3339China(new Date()),
      resource_type: 'encrypt-resource',
      event_type: 'TRANSACTION.SUCCESS',
      summary: '支付成功',
      resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: 'transaction', nonce },
    });
    return { headers: this.signedHeaders(body, options), body };
  }

  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Wechatpay-* headers: SHA256withRSA over `timestamp\nnonce\nbody\n` with the platform key. */
  private signedHeaders(body: string, options: { key?: KeyObject; timestamp?: number; serial?: string } = {}): Record<string, string> {
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    const nonce = randomBytes(16).toString('hex');
    const signature = createSign('RSA-SHA256').update(`${timestamp}\n${nonce}\n${body}\n`).sign(options.key ?? this.platformPrivateKey, 'base64');
    return {
      'wechatpay-serial': options.serial ?? this.platformSerial,
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': nonce,
      'wechatpay-signature': signature,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
    };
  }

  private transaction(trade: WechatStandInTrade): Record<string, unknown> {
    const state = this.stateOf(trade);
    const paid = trade.transactionId !== undefined;
    return {
      appid: this.options.appid,
      mchid: this.options.mchid,
      out_trade_no: trade.outTradeNo,
      ...(paid && { transaction_id: trade.transactionId, bank_type: 'OTHERS', success_time: trade.successTime, payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } }),
      trade_type: 'MWEB',
      trade_state: state,
      trade_state_desc: { NOTPAY: '未支付', SUCCESS: '支付成功', CLOSED: '已关闭', PAYERROR: '支付失败', REFUND: '转入退款' }[state],
      attach: '',
      amount: { total: trade.total, ...(paid && { payer_total: trade.total }), currency: 'CNY', payer_currency: 'CNY' },
    };
  }

  private notify(trade: WechatStandInTrade): void {
    if (this.faults.dropNotifications) return;
    const message = this.notificationFor(trade.outTradeNo);
    const delivery = this.deliver(trade, message).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
  }

  /** Retries until a 2xx, as WeChat Pay does (here quickly, a few times). */
  private async deliver(trade: WechatStandInTrade, message: SignedMessage): Promise<void> {
    for (let attempt = 0; attempt < 6; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      try {
        const response = await fetch(trade.notifyUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...message.headers }, body: message.body });
        await response.body?.cancel();
        this.deliveries.push({ outTradeNo: trade.outTradeNo, status: response.status });
        if (response.status >= 200 && response.status < 300) return;
      } catch {
        this.deliveries.push({ outTradeNo: trade.outTradeNo, status: 0 });
      }
    }
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const pathAndQuery = request.url ?? '/';
    const url = new URL(pathAndQuery, 'http://stand-in');
    const method = request.method ?? 'GET';
    const text = await readBody(request);
    if (method === 'GET' && url.pathname === '/cashier') {
      const known = [...this.trades.values()].some((trade) => trade.prepayId === url.searchParams.get('prepay_id'));
      return void response.writeHead(known ? 200 : 404, { 'content-type': 'text/html' }).end('<p>WeChat Pay</p>');
    }
    const refusal = this.checkAuthorization(request.headers.authorization, method, pathAndQuery, text);
    if (refusal !== null) {
      this.rejected.push({ path: url.pathname, reason: refusal });
      return this.answer(response, 401, { code: 'SIGN_ERROR', message: refusal });
    }
    if (this.faults.apiDown) return void response.writeHead(500, { 'content-type': 'application/json' }).end('{"code":"SYSTEM_ERROR","message":"系统异常"}');
    const body = text === '' ? {} : (JSON.parse(text) as Record<string, any>);
    this.requests.push({ method, path: url.pathname, body });
    const tradePath = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)(\/close)?$/.exec(url.pathname);
    const refundPath = /^\/v3\/refund\/domestic\/refunds\/([^/]+)$/.exec(url.pathname);
    if (method === 'POST' && url.pathname === '/v3/pay/transactions/h5') return this.createH5(body, response);
    if (method === 'GET' && tradePath && !tradePath[2]) return this.query(decodeURIComponent(tradePath[1]), url.searchParams.get('mchid'), response);
    if (method === 'POST' && tradePath?.[2]) return this.closeTrade(decodeURIComponent(tradePath[1]), body, response);
    if (method === 'POST' && url.pathname === '/v3/refund/domestic/refunds') return this.refund(body, response);
    if (method === 'GET' && refundPath) return this.findRefund(decodeURIComponent(refundPath[1]), response);
    return this.answer(response, 404, { code: 'NOT_FOUND', message: 'no such API' });
  }

  /** `WECHATPAY2-SHA256-RSA2048 mchid="",nonce_str="",signature="",timestamp="",serial_no=""` over METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n. */
  private checkAuthorization(header: string | undefined, method: string, pathAndQuery: string, body: string): string | null {
    const match = /^WECHATPAY2-SHA256-RSA2048 (.+)$/.exec(header ?? '');
    if (match === null) return 'Authorization is not WECHATPAY2-SHA256-RSA2048';
    const fields = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map((field) => [field[1], field[2]]));
    if (fields.mchid !== this.options.mchid) return `mchid ${fields.mchid} unknown`;
    if (fields.serial_no !== this.options.merchantSerial) return `serial_no ${fields.serial_no} is not the merchant certificate`;
    if (!fields.nonce_str || !fields.signature || !/^\d+$/.test(fields.timestamp ?? '')) return 'nonce_str, signature or timestamp missing';
    if (Math.abs(Date.now() / 1000 - Number(fields.timestamp)) > 300) return 'timestamp is more than 5 minutes away';
    const message = `${method}\n${pathAndQuery}\n${fields.timestamp}\n${fields.nonce_str}\n${body}\n`;
    const valid = createVerify('RSA-SHA256').update(message).verify(this.options.merchantPublicKey, fields.signature, 'base64');
    return valid ? null : 'signature does not verify with the merchant certificate';
  }

  private createH5(body: Record<string, any>, response: ServerResponse): void {
    const problem = h5Problem(body, this.options);
    if (problem !== null) return this.answer(response, 400, { code: 'PARAM_ERROR', message: problem });
    const existing = this.trades.get(body.out_trade_no);
    if (existing !== undefined) {
      if (JSON.stringify(existing.request) !== JSON.stringify(body)) return this.answer(response, 403, { code: 'OUT_TRADE_NO_USED', message: '商户订单号重复' });
      if (this.stateOf(existing) === 'CLOSED') return this.answer(response, 400, { code: 'ORDER_CLOSED', message: '订单已关闭' });
      return this.answer(response, 200, { h5_url: this.h5Url(existing.prepayId) });
    }
    const trade: WechatStandInTrade = {
      outTradeNo: body.out_trade_no,
      prepayId: `wx${Date.now()}${randomBytes(6).toString('hex')}`,
      total: body.amount.total,
      description: body.description,
      timeExpire: body.time_expire,
      notifyUrl: body.notify_url,
      request: body,
      state: 'NOTPAY',
      refunds: new Map(),
    };
    this.trades.set(trade.outTradeNo, trade);
    return this.answer(response, 200, { h5_url: this.h5Url(trade.prepayId) });
  }

  private h5Url(prepayId: string): string {
    return `${this.baseUrl}/cashier?prepay_id=${prepayId}&package=2150917749`;
  }

  private query(outTradeNo: string, mchid: string | null, response: ServerResponse): void {
    if (mchid !== this.options.mchid) return this.answer(response, 400, { code: 'PARAM_ERROR', message: 'mchid' });
    const trade = this.trades.get(outTradeNo);
    if (trade === undefined) return this.answer(response, 404, { code: 'ORDER_NOT_EXIST', message: '订单不存在' });
    return this.answer(response, 200, this.transaction(trade));
  }

  /** 204 closes an unpaid trade; which code a paid trade gets does not matter to a caller that queries after. */
  private closeTrade(outTradeNo: string, body: Record<string, any>, response: ServerResponse): void {
    if (body.mchid !== this.options.mchid) return this.answer(response, 400, { code: 'PARAM_ERROR', message: 'mchid' });
    const trade = this.trades.get(outTradeNo);
    if (trade === undefined) return this.answer(response, 404, { code: 'ORDER_NOT_EXIST', message: '订单不存在' });
    const state = this.stateOf(trade);
    if (state === 'SUCCESS' || state === 'REFUND') return this.answer(response, 400, { code: 'ORDERPAID', message: '订单已支付' });
    if (state === 'CLOSED') return this.answer(response, 400, { code: 'ORDER_CLOSED', message: '订单已关闭' });
    trade.state = 'CLOSED';
    return this.answer(response, 204, undefined);
  }

  /** One refund per out_refund_no: a repeat answers the refund already made. */
  private refund(body: Record<string, any>, response: ServerResponse): void {
    const trade = this.trades.get(body.out_trade_no);
    if (trade === undefined) return this.answer(response, 404, { code: 'RESOURCE_NOT_EXISTS', message: '订单不存在' });
    if (!/^[A-Za-z0-9_\-|*@]{1,64}$/.test(body.out_refund_no ?? '')) return this.answer(response, 400, { code: 'PARAM_ERROR', message: 'out_refund_no' });
    const earlier = [...this.trades.values()].flatMap((candidate) => [...candidate.refunds.values()]).find((refund) => refund.outRefundNo === body.out_refund_no);
    if (earlier !== undefined) return this.answer(response, 200, this.refundView(trade, earlier));
    const { refund, total, currency } = body.amount ?? {};
    if (total !== trade.total || currency !== 'CNY' || !Number.isInteger(refund) || refund <= 0) return this.answer(response, 400, { code: 'PARAM_ERROR', message: 'amount' });
    const refused = this.faults.refundError;
    if (refused) return this.answer(response, refused.status, { code: refused.code, message: refused.message ?? refused.code });
    if (trade.state !== 'SUCCESS') return this.answer(response, 400, { code: 'INVALID_REQUEST', message: '订单状态不允许退款' });
    // A CLOSED refund gave its share of the trade back.
    const refunded = [...trade.refunds.values()].filter((earlier) => earlier.status !== 'CLOSED').reduce((sum, earlier) => sum + earlier.refund, 0);
    // More than is left breaks a business rule (INVALID_REQUEST); NOT_ENOUGH is the merchant's balance running short.
    if (refunded + refund > trade.total) return this.answer(response, 400, { code: 'INVALID_REQUEST', message: '申请退款金额超过订单可退金额' });
    const made: WechatStandInRefund = {
      refundId: `50${String(Date.now()).slice(-10)}${randomBytes(5).toString('hex')}`,
      outRefundNo: body.out_refund_no,
      refund: Math.max(1, refund - (this.faults.refundShortfall ?? 0)),
      status: this.faults.refundProcessing ? 'PROCESSING' : (this.faults.refundEndsAs ?? 'SUCCESS'),
      createTime: rfc3339China(new Date()),
    };
    trade.refunds.set(made.outRefundNo, made);
    if (made.status === 'SUCCESS' && refunded + made.refund === trade.total) trade.state = 'REFUND';
    return this.answer(response, 200, this.refundView(trade, made));
  }

  private findRefund(outRefundNo: string, response: ServerResponse): void {
    for (const trade of this.trades.values()) {
      const refund = trade.refunds.get(outRefundNo);
      if (refund === undefined) continue;
      if (refund.status === 'PROCESSING' && !this.faults.refundProcessing) refund.status = 'SUCCESS';
      return this.answer(response, 200, this.refundView(trade, refund));
    }
    return this.answer(response, 404, { code: 'RESOURCE_NOT_EXISTS', message: '退款单不存在' });
  }

  private refundView(trade: WechatStandInTrade, refund: WechatStandInRefund): Record<string, unknown> {
    return {
      refund_id: refund.refundId,
      out_refund_no: refund.outRefundNo,
      transaction_id: trade.transactionId,
      out_trade_no: trade.outTradeNo,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      ...(refund.status === 'SUCCESS' && { success_time: refund.createTime }),
      create_time: refund.createTime,
      status: refund.status,
      amount: { total: trade.total, refund: refund.refund, payer_total: trade.total, payer_refund: refund.refund, currency: 'CNY' },
    };
  }

  /** Every answer is signed with the platform key (204 too: over an empty body). */
  private answer(response: ServerResponse, status: number, payload: Record<string, unknown> | undefined): void {
    const body = payload === undefined ? '' : JSON.stringify(payload);
    response.writeHead(status, { ...(body !== '' && { 'content-type': 'application/json' }), 'request-id': randomUUID(), ...this.signedHeaders(body) }).end(body);
  }
}

function h5Problem(body: Record<string, any>, options: WechatStandInOptions): string | null {
  if (body.appid !== options.appid || body.mchid !== options.mchid) return 'appid or mchid';
  if (typeof body.description !== 'string' || body.description === '' || Buffer.byteLength(body.description) > 127) return 'description';
  if (!/^[A-Za-z0-9_\-*]{6,32}$/.test(body.out_trade_no ?? '')) return 'out_trade_no must be 6-32 of [A-Za-z0-9_-*]';
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/.test(body.time_expire ?? '')) return 'time_expire must be RFC 3339 in +08:00';
  if (!/^https?:\/\/[^?]+$/.test(body.notify_url ?? '')) return 'notify_url must be a URL without parameters';
  if (!Number.isInteger(body.amount?.total) || body.amount.total <= 0 || body.amount.currency !== 'CNY') return 'amount';
  if (typeof body.scene_info?.payer_client_ip !== 'string' || body.scene_info?.h5_info?.type === undefined) return 'scene_info';
  return null;
}

/** RFC 3339 in China time: 2026-11-26T18:00:00+08:00. */
export function rfc3339China(instant: Date): string {
  return `${new Date(instant.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 19)}+08:00`;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
