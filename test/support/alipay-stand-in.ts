/**
 * A local stand-in for the Alipay OpenAPI gateway (v2, RSA2), written from the published formats
 * and independent of Payguard's adapter: it verifies the app's request signatures (and that the
 * timestamp is China time), keeps trades, honours time_expire, lets a payer pay on demand, closes,
 * refunds idempotently by out_request_no, signs its answers, and posts signed notifications to
 * notify_url until it hears `success`.
 */
import { createSign, createVerify, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { listenLocally } from './local-server.js';

export type AlipayTradeStatus = 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_CLOSED' | 'TRADE_FINISHED';

export interface AlipayStandInTrade {
  readonly outTradeNo: string;
  readonly tradeNo: string;
  readonly totalAmount: string;
  readonly subject: string;
  readonly timeExpire: string;
  readonly notifyUrl: string;
  readonly returnUrl: string;
  status: AlipayTradeStatus;
  gmtCreate: string;
  gmtPayment?: string;
  gmtClose?: string;
  readonly refunds: Map<string, AlipayStandInRefund>;
}

export interface AlipayStandInRefund {
  readonly amount: string;
  readonly at: string;
  /** False while Alipay has taken the refund but not paid it out (the query shows no refund_status). */
  settled: boolean;
}

export interface AlipayStandInFaults {
  /** The gateway answers 503 to query, close and refund. */
  apiDown?: boolean;
  /** A trade can be paid after time_expire or after it was closed. */
  ignoreTimeExpire?: boolean;
  /** Notifications are not sent. */
  dropNotifications?: boolean;
  /** alipay.trade.refund refuses every new refund with this error (code defaults to 40004). */
  refundError?: { code?: string; subCode: string; subMsg?: string };
  /** New refunds are taken but not paid out (fund_change N) until this is off and the refund is queried. */
  refundPending?: boolean;
  /** alipay.trade.fastpay.refund.query answers 503 while refunds still go through. */
  refundQueryDown?: boolean;
  /**
   * The trades are another seller's account: notifications name this seller_id instead of the
   * stand-in's own, and alipay.trade.query answers carry it (they carry no seller_id otherwise).
   */
  foreignSellerId?: string;
}

export interface AlipayDelivery {
  readonly params: Record<string, string>;
  readonly status: number;
  readonly body: string;
}

export interface AlipayStandInOptions {
  readonly appId: string;
  /** The app public key the merchant uploaded: requests must verify with it. */
  readonly appPublicKey: KeyObject;
  readonly sellerId?: string;
}

export class AlipayStandIn {
  readonly trades = new Map<string, AlipayStandInTrade>();
  /** Every request that verified: method, common parameters and biz_content. */
  readonly requests: Array<{ method: string; params: Record<string, string>; biz: Record<string, unknown> }> = [];
  readonly rejected: Array<{ method: string; reason: string }> = [];
  /** Every signed answer, as sent: method and response object. */
  readonly answers: Array<{ method: string; payload: Record<string, unknown> }> = [];
  readonly deliveries: AlipayDelivery[] = [];
  faults: AlipayStandInFaults = {};
  readonly alipayPublicKeyPem: string;
  private readonly alipayPrivateKey: KeyObject;
  private readonly pending = new Set<Promise<void>>();
  private sequence = 0;

  private constructor(
    private readonly server: Server,
    readonly gatewayUrl: string,
    private readonly options: AlipayStandInOptions,
    keys: { privateKey: KeyObject; publicKey: KeyObject },
  ) {
    this.alipayPrivateKey = keys.privateKey;
    this.alipayPublicKeyPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  static async start(options: AlipayStandInOptions): Promise<AlipayStandIn> {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let standIn: AlipayStandIn | undefined;
    const { server, origin } = await listenLocally(() => (request, response) => standIn!.handle(request, response));
    standIn = new AlipayStandIn(server, `${origin}/gateway.do`, options, keys);
    return standIn;
  }

  async close(): Promise<void> {
    this.faults = { dropNotifications: true };
    await Promise.allSettled([...this.pending]);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The payer opens the payUrl (Alipay's cashier): the trade exists from now on. */
  async payerOpens(payUrl: string): Promise<{ status: number; body: string }> {
    const response = await fetch(payUrl);
    return { status: response.status, body: await response.text() };
  }

  /** The payer opens the cashier and pays. */
  async payerPays(payUrl: string): Promise<AlipayStandInTrade> {
    const opened = await this.payerOpens(payUrl);
    if (opened.status !== 200) throw new Error(`cashier refused: ${opened.status} ${opened.body}`);
    const biz = JSON.parse(new URL(payUrl).searchParams.get('biz_content') ?? '{}') as { out_trade_no?: string };
    return this.pay(biz.out_trade_no ?? '');
  }

  /** The payer confirms the payment on an opened cashier. */
  pay(outTradeNo: string): AlipayStandInTrade {
    const trade = this.trades.get(outTradeNo);
    if (trade === undefined) throw new Error(`no trade ${outTradeNo}: the payer never opened the cashier`);
    if (trade.status === 'TRADE_SUCCESS' || trade.status === 'TRADE_FINISHED') return trade;
    if (!this.faults.ignoreTimeExpire && this.statusOf(trade) !== 'WAIT_BUYER_PAY') throw new Error(`trade ${outTradeNo} is closed`);
    trade.status = 'TRADE_SUCCESS';
    trade.gmtPayment = chinaNow();
    this.notify(trade, {});
    return trade;
  }

  /** Alipay closes a waiting trade at its time_expire. */
  statusOf(trade: AlipayStandInTrade): AlipayTradeStatus {
    if (trade.status === 'WAIT_BUYER_PAY' && chinaNow() >= trade.timeExpire) return 'TRADE_CLOSED';
    return trade.status;
  }

  /** The query Alipay appends to return_url when it sends the payer back (signed like a notification). */
  returnQuery(outTradeNo: string): URLSearchParams {
    const trade = this.requireTrade(outTradeNo);
    const params: Record<string, string> = {
      charset: 'utf-8',
      out_trade_no: trade.outTradeNo,
      method: 'alipay.trade.page.pay.return',
      total_amount: trade.totalAmount,
      trade_no: trade.tradeNo,
      auth_app_id: this.options.appId,
      version: '1.0',
      app_id: this.options.appId,
      seller_id: this.sellerId,
      timestamp: chinaNow(),
    };
    return new URLSearchParams({ ...params, sign: this.signNotificationParams(params), sign_type: 'RSA2' });
  }

  /** A notification body for a trade, signed with Alipay's key (or `key`), as Alipay posts it. */
  notificationBody(outTradeNo: string, overrides: Record<string, string> = {}, key?: KeyObject): string {
    return new URLSearchParams(this.notificationParams(this.requireTrade(outTradeNo), overrides, key)).toString();
  }

  /** RSA2 over the parameters without sign and sign_type, sorted, empty values left out. */
  signNotificationParams(params: Record<string, string>, key: KeyObject = this.alipayPrivateKey): string {
    const content = Object.keys(params)
      .filter((name) => name !== 'sign' && name !== 'sign_type' && params[name] !== '')
      .sort()
      .map((name) => `${name}=${params[name]}`)
      .join('&');
    return createSign('RSA-SHA256').update(content, 'utf8').sign(key, 'base64');
  }

  /** Resolves once every notification under way has been answered (or given up). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** The seller whose account the trades are in (ALIPAY_SELLER_ID of the merchant it belongs to). */
  get sellerId(): string {
    return this.faults.foreignSellerId ?? this.options.sellerId ?? '2088000000000001';
  }

  private requireTrade(outTradeNo: string): AlipayStandInTrade {
    const trade = this.trades.get(outTradeNo);
    if (trade === undefined) throw new Error(`no trade ${outTradeNo}`);
    return trade;
  }

  private notificationParams(trade: AlipayStandInTrade, overrides: Record<string, string>, key?: KeyObject): Record<string, string> {
    const refunded = refundedFen(trade, { settledOnly: true });
    const params: Record<string, string> = {
      notify_time: chinaNow(),
      notify_type: 'trade_status_sync',
      notify_id: `${Date.now()}${randomBytes(8).toString('hex')}`,
      charset: 'utf-8',
      version: '1.0',
      app_id: this.options.appId,
      auth_app_id: this.options.appId,
      trade_no: trade.tradeNo,
      out_trade_no: trade.outTradeNo,
      buyer_id: '2088102116773037',
      seller_id: this.sellerId,
      trade_status: this.statusOf(trade),
      total_amount: trade.totalAmount,
      receipt_amount: trade.totalAmount,
      buyer_pay_amount: trade.totalAmount,
      subject: trade.subject,
      gmt_create: trade.gmtCreate,
      ...(trade.gmtPayment !== undefined && { gmt_payment: trade.gmtPayment }),
      ...(trade.gmtClose !== undefined && { gmt_close: trade.gmtClose }),
      ...(refunded > 0 && { refund_fee: yuan(refunded) }),
      ...overrides,
    };
    return { ...params, sign_type: 'RSA2', sign: this.signNotificationParams(params, key) };
  }

  private notify(trade: AlipayStandInTrade, extra: Record<string, string>): void {
    if (this.faults.dropNotifications) return;
    const params = this.notificationParams(trade, extra);
    const delivery = this.deliver(trade.notifyUrl, params).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
  }

  /** Alipay retries until the body is exactly `success` (here quickly, a few times). */
  private async deliver(notifyUrl: string, params: Record<string, string>): Promise<void> {
    for (let attempt = 0; attempt < 6; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      try {
        const response = await fetch(notifyUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
          body: new URLSearchParams(params).toString(),
        });
        const body = await response.text();
        this.deliveries.push({ params, status: response.status, body });
        if (body === 'success') return;
      } catch (error) {
        this.deliveries.push({ params, status: 0, body: (error as Error).message });
      }
    }
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://stand-in');
    if (url.pathname !== '/gateway.do') return void response.writeHead(404).end();
    const params: Record<string, string> = Object.fromEntries(url.searchParams);
    if (request.method === 'POST') Object.assign(params, Object.fromEntries(new URLSearchParams(await readBody(request))));
    const method = params.method ?? '';
    const refusal = this.checkRequest(params);
    if (refusal !== null) {
      this.rejected.push({ method, reason: refusal });
      if (method === 'alipay.trade.page.pay') return void response.writeHead(400, { 'content-type': 'text/html' }).end(`<p>${refusal}</p>`);
      return this.answer(response, method, { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature', sub_msg: refusal });
    }
    const biz = JSON.parse(params.biz_content ?? '{}') as Record<string, string>;
    this.requests.push({ method, params, biz });
    if (method === 'alipay.trade.page.pay') return this.cashier(params, biz, response);
    const down = this.faults.apiDown || (this.faults.refundQueryDown && method === 'alipay.trade.fastpay.refund.query');
    if (down) return void response.writeHead(503, { 'content-type': 'text/plain' }).end('service unavailable');
    switch (method) {
      case 'alipay.trade.query':
        return this.answer(response, method, this.query(biz));
      case 'alipay.trade.close':
        return this.answer(response, method, this.closeTrade(biz));
      case 'alipay.trade.refund':
        return this.answer(response, method, this.refund(biz));
      case 'alipay.trade.fastpay.refund.query':
        return this.answer(response, method, this.refundQuery(biz));
      default:
        return this.answer(response, method, { code: '40004', msg: 'Business Failed', sub_code: 'isv.invalid-method' });
    }
  }

  /** Common parameters, app_id, China-time timestamp and the RSA2 signature (sign_type included, sign not). */
  private checkRequest(params: Record<string, string>): string | null {
    if (params.app_id !== this.options.appId) return `app_id ${params.app_id} unknown`;
    if (params.charset !== 'utf-8' || params.version !== '1.0' || params.sign_type !== 'RSA2') return 'charset, version or sign_type wrong';
    if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(params.timestamp ?? '')) return 'timestamp is not yyyy-MM-dd HH:mm:ss';
    const skewMs = Math.abs(Date.parse(`${params.timestamp.replace(' ', 'T')}+08:00`) - Date.now());
    if (skewMs > 10 * 60 * 1000) return `timestamp ${params.timestamp} is not China time now`;
    if (!params.sign) return 'no sign';
    const content = Object.keys(params)
      .filter((name) => name !== 'sign' && params[name] !== '')
      .sort()
      .map((name) => `${name}=${params[name]}`)
      .join('&');
    const valid = createVerify('RSA-SHA256').update(content, 'utf8').verify(this.options.appPublicKey, params.sign, 'base64');
    return valid ? null : 'sign does not verify with the app public key';
  }

  /** alipay.trade.page.pay arriving in the payer's browser: the trade is created (or found) and the cashier shown. */
  private cashier(params: Record<string, string>, biz: Record<string, string>, response: ServerResponse): void {
    const problem = pagePayProblem(params, biz);
    if (problem !== null) return void response.writeHead(400, { 'content-type': 'text/html' }).end(`<p>${problem}</p>`);
    const existing = this.trades.get(biz.out_trade_no);
    if (existing !== undefined && existing.totalAmount !== biz.total_amount) {
      return void response.writeHead(400, { 'content-type': 'text/html' }).end('<p>ACQ.CONTEXT_INCONSISTENT</p>');
    }
    if (existing === undefined && !this.faults.ignoreTimeExpire && chinaNow() >= biz.time_expire) {
      return void response.writeHead(200, { 'content-type': 'text/html' }).end('<p>交易已经关闭 (time_expire passed)</p>');
    }
    const trade = existing ?? this.openTrade(params, biz);
    response.writeHead(200, { 'content-type': 'text/html' }).end(`<p>cashier ${trade.outTradeNo}: ${trade.totalAmount} CNY, ${this.statusOf(trade)}</p>`);
  }

  private openTrade(params: Record<string, string>, biz: Record<string, string>): AlipayStandInTrade {
    this.sequence += 1;
    const trade: AlipayStandInTrade = {
      outTradeNo: biz.out_trade_no,
      tradeNo: `2026${String(Date.now()).slice(-10)}${String(this.sequence).padStart(6, '0')}`,
      totalAmount: biz.total_amount,
      subject: biz.subject,
      timeExpire: biz.time_expire,
      notifyUrl: params.notify_url,
      returnUrl: params.return_url,
      status: 'WAIT_BUYER_PAY',
      gmtCreate: chinaNow(),
      refunds: new Map(),
    };
    this.trades.set(trade.outTradeNo, trade);
    return trade;
  }

  private query(biz: Record<string, string>): Record<string, unknown> {
    const trade = this.trades.get(biz.out_trade_no);
    if (trade === undefined) return notExist();
    const status = this.statusOf(trade);
    return {
      code: '10000',
      msg: 'Success',
      trade_no: trade.tradeNo,
      out_trade_no: trade.outTradeNo,
      buyer_logon_id: 'pay***@example.com',
      trade_status: status,
      total_amount: trade.totalAmount,
      buyer_pay_amount: status === 'WAIT_BUYER_PAY' ? '0.00' : trade.totalAmount,
      ...(trade.gmtPayment !== undefined && { send_pay_date: trade.gmtPayment }),
      buyer_user_id: '2088102116773037',
      ...(this.faults.foreignSellerId !== undefined && { seller_id: this.faults.foreignSellerId }),
    };
  }

  private closeTrade(biz: Record<string, string>): Record<string, unknown> {
    const trade = this.trades.get(biz.out_trade_no);
    if (trade === undefined) return notExist();
    if (this.statusOf(trade) !== 'WAIT_BUYER_PAY') {
      return { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.TRADE_STATUS_ERROR', sub_msg: '交易状态不合法' };
    }
    trade.status = 'TRADE_CLOSED';
    trade.gmtClose = chinaNow();
    this.notify(trade, {});
    return { code: '10000', msg: 'Success', trade_no: trade.tradeNo, out_trade_no: trade.outTradeNo };
  }

  /**
   * Idempotent by out_request_no: a repeat refunds nothing and says fund_change N. refund_fee is
   * the trade's cumulative refunded total, as Alipay reports it, not this refund's amount.
   */
  private refund(biz: Record<string, string>): Record<string, unknown> {
    const trade = this.trades.get(biz.out_trade_no);
    if (trade === undefined) return notExist();
    const result = (fundChange: 'Y' | 'N') => ({
      code: '10000',
      msg: 'Success',
      trade_no: trade.tradeNo,
      out_trade_no: trade.outTradeNo,
      buyer_logon_id: 'pay***@example.com',
      fund_change: fundChange,
      refund_fee: yuan(refundedFen(trade, { settledOnly: true })),
    });
    if (!biz.out_request_no) return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.missing-out-request-no' };
    if (trade.refunds.has(biz.out_request_no)) return result('N');
    const refused = this.faults.refundError;
    if (refused) return { code: refused.code ?? '40004', msg: 'Business Failed', sub_code: refused.subCode, sub_msg: refused.subMsg ?? refused.subCode };
    if (trade.status !== 'TRADE_SUCCESS') return { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.TRADE_STATUS_ERROR', sub_msg: '交易状态不合法' };
    // A refund taken but not paid out yet still holds its share of the trade.
    const already = refundedFen(trade, { settledOnly: false });
    if (!/^\d+\.\d{2}$/.test(biz.refund_amount ?? '') || already + fen(biz.refund_amount) > fen(trade.totalAmount)) {
      return { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', sub_msg: '退款金额超限' };
    }
    trade.refunds.set(biz.out_request_no, { amount: biz.refund_amount, at: chinaNow(), settled: false });
    if (this.faults.refundPending) return result('N');
    this.settle(trade, biz.out_request_no);
    return result('Y');
  }

  /** Pays a refund out: a trade refunded in full closes, and Alipay says so with a TRADE_CLOSED notification. */
  private settle(trade: AlipayStandInTrade, outRequestNo: string): void {
    trade.refunds.get(outRequestNo)!.settled = true;
    if (refundedFen(trade, { settledOnly: true }) === fen(trade.totalAmount)) {
      trade.status = 'TRADE_CLOSED';
      trade.gmtClose = chinaNow();
    }
    this.notify(trade, { gmt_refund: chinaNow(), out_biz_no: outRequestNo });
  }

  private refundQuery(biz: Record<string, string>): Record<string, unknown> {
    const trade = this.trades.get(biz.out_trade_no);
    if (trade === undefined) return notExist();
    const refund = trade.refunds.get(biz.out_request_no);
    const base = { code: '10000', msg: 'Success', out_trade_no: trade.outTradeNo, trade_no: trade.tradeNo, out_request_no: biz.out_request_no };
    if (refund === undefined) return base;
    if (!refund.settled && !this.faults.refundPending) this.settle(trade, biz.out_request_no);
    return { ...base, total_amount: trade.totalAmount, refund_amount: refund.amount, ...(refund.settled && { refund_status: 'REFUND_SUCCESS' }) };
  }

  /** `{"<method>_response":{...},"sign":"..."}`, sign being RSA2 over the exact JSON of the response object. */
  private answer(response: ServerResponse, method: string, payload: Record<string, unknown>): void {
    this.answers.push({ method, payload });
    const inner = JSON.stringify(payload);
    const sign = createSign('RSA-SHA256').update(inner, 'utf8').sign(this.alipayPrivateKey, 'base64');
    const key = `${method.replaceAll('.', '_')}_response`;
    response.writeHead(200, { 'content-type': 'text/html;charset=utf-8' }).end(`{"${key}":${inner},"sign":"${sign}"}`);
  }
}

function pagePayProblem(params: Record<string, string>, biz: Record<string, string>): string | null {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(biz.out_trade_no ?? '')) return 'out_trade_no must be 1-64 letters, digits or underscores';
  if (!/^\d+\.\d{2}$/.test(biz.total_amount ?? '')) return 'total_amount must be yuan with two decimals';
  if (biz.product_code !== 'FAST_INSTANT_TRADE_PAY') return 'product_code must be FAST_INSTANT_TRADE_PAY';
  if (!biz.subject) return 'subject is required';
  if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(biz.time_expire ?? '')) return 'time_expire must be yyyy-MM-dd HH:mm:ss';
  if (!/^https?:\/\//.test(params.notify_url ?? '') || !/^https?:\/\//.test(params.return_url ?? '')) return 'notify_url and return_url are required';
  return null;
}

function notExist(): Record<string, unknown> {
  return { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.TRADE_NOT_EXIST', sub_msg: '交易不存在' };
}

/** Now as Alipay writes it: yyyy-MM-dd HH:mm:ss, China time. */
export function chinaNow(now = new Date()): string {
  return new Date(now.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

function refundedFen(trade: AlipayStandInTrade, { settledOnly }: { settledOnly: boolean }): number {
  return [...trade.refunds.values()].filter((refund) => refund.settled || !settledOnly).reduce((sum, refund) => sum + fen(refund.amount), 0);
}

function fen(yuanText: string): number {
  const [whole, fraction = ''] = yuanText.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

function yuan(fenAmount: number): string {
  return `${Math.floor(fenAmount / 100)}.${String(fenAmount % 100).padStart(2, '0')}`;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
