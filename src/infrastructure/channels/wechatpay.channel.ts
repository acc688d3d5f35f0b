/**
 * The wechatpay channel: WeChat Pay API v3, H5 payment for mobile browsers. Every request
 * carries a WECHATPAY2-SHA256-RSA2048 Authorization; every answer and notification is
 * verified with the platform key before Payguard believes a word of it.
 */
import type { KeyObject } from 'node:crypto';
import { InvalidRequest } from '../../application/shared/errors.js';
import {
  ChannelUnavailableError,
  NotificationRejectedError,
  type CloseResult,
  type CreateTradeRequest,
  type CreatedTrade,
  type IncomingNotification,
  type NotificationAnswer,
  type NotificationOutcome,
  type PaymentChannel,
  type RefundRequest,
  type RefundResult,
  type RefundState,
  type TradeState,
  type VerifiedNotification,
} from '../../application/ports/channel.port.js';
import { privateKeyFrom, publicKeyFrom } from './channel-keys.js';
import {
  authorization,
  decryptResource,
  isFinalRefundError,
  isoFromRfc3339,
  rfc3339China,
  truncateUtf8,
  verifySigned,
  type EncryptedResource,
  type Merchant,
  type SignedHeaders,
} from './wechatpay-format.js';
import type { WechatpayConfig } from '../config/config.js';

/** The settings WECHATPAY_* gives (see config.ts), and what tests may change. */
export interface WechatpayChannelOptions extends WechatpayConfig {
  readonly timeoutMs?: number;
  readonly now?: () => Date;
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** A notification older or newer than this is refused (replays). */
const NOTIFICATION_TOLERANCE_SECONDS = 300;
const CURRENCY = 'CNY';

export class WechatpayChannel implements PaymentChannel {
  /** H5 sends the payer's IP as `scene_info.payer_client_ip`, and WeChat Pay checks it against the payer's. */
  readonly needsPayerIp = true;
  readonly currencies = [CURRENCY] as const;
  readonly id = 'wechatpay';
  private readonly merchant: Merchant;
  private readonly platform: { readonly serial: string; readonly publicKey: KeyObject };
  private readonly baseUrl: string;
  private readonly now: () => Date;

  constructor(private readonly options: WechatpayChannelOptions) {
    this.merchant = { mchid: options.mchid, serialNo: options.certSerial, privateKey: privateKeyFrom(options.privateKey, 'WECHATPAY_PRIVATE_KEY') };
    this.platform = { serial: options.platformSerial, publicKey: publicKeyFrom(options.platformPublicKey, 'WECHATPAY_PLATFORM_PUBLIC_KEY') };
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.now = options.now ?? (() => new Date());
  }

  /** POST /v3/pay/transactions/h5; the payer returns to redirect_url, appended to h5_url as WeChat Pay documents. */
  async createTrade(request: CreateTradeRequest): Promise<CreatedTrade> {
    if (request.amount.currency !== CURRENCY) {
      throw new InvalidRequest([{ field: 'channel', message: `wechatpay takes ${CURRENCY} only, not ${request.amount.currency}` }]);
    }
    const payerIp = request.payerIp;
    if (payerIp === undefined) throw new InvalidRequest([{ field: 'payerIp', message: "wechatpay needs the payer's IP address (payerIp)" }]);
    const answer = await this.call('POST', '/v3/pay/transactions/h5', {
      appid: this.options.appid,
      mchid: this.options.mchid,
      description: truncateUtf8(request.description ?? `Order ${request.orderId}`, 127) || `Order ${request.orderId}`,
      out_trade_no: request.paymentId,
      time_expire: rfc3339China(request.timeExpire),
      notify_url: request.notifyUrl,
      amount: { total: request.amount.amount, currency: CURRENCY },
      scene_info: { payer_client_ip: payerIp, h5_info: { type: 'Wap' } },
    });
    if (answer.status === 200 && typeof answer.body.h5_url === 'string') {
      const h5Url = answer.body.h5_url;
      return { payUrl: `${h5Url}${h5Url.includes('?') ? '&' : '?'}redirect_url=${encodeURIComponent(request.returnUrl)}` };
    }
    // A 4xx here is a bug or a setup problem on our side (parameters, permissions): retrying can't help.
    throw new Error(`wechatpay: trade ${request.paymentId} refused: ${describe(answer)}`);
  }

  async queryTrade(paymentId: string): Promise<TradeState> {
    const path = `/v3/pay/transactions/out-trade-no/${encodeURIComponent(paymentId)}?mchid=${encodeURIComponent(this.options.mchid)}`;
    const answer = await this.call('GET', path);
    if (answer.status === 404 || answer.body.code === 'ORDER_NOT_EXIST') return { state: 'not-found' };
    if (answer.status !== 200) throw this.unexpected(answer);
    const trade = answer.body;
    if (trade.out_trade_no !== paymentId || trade.mchid !== this.options.mchid) throw this.unexpected(answer, 'answer names another trade or merchant');
    switch (trade.trade_state) {
      case 'NOTPAY':
      case 'USERPAYING':
        return { state: 'pending' };
      case 'SUCCESS':
        return this.paidTrade(trade);
      // REFUND: paid once, refunded since; nothing is held on it now, so it is no payment to keep.
      case 'CLOSED':
      case 'REVOKED':
      case 'REFUND':
        return { state: 'closed' };
      case 'PAYERROR':
        return { state: 'failed', reason: typeof trade.trade_state_desc === 'string' ? `PAYERROR: ${trade.trade_state_desc}` : 'PAYERROR' };
      default:
        throw this.unexpected(answer);
    }
  }

  /**
   * POST .../close answers 204 without saying whether the trade had been paid, so the trade is
   * queried after every close: a paid trade is reported already-paid, whatever the close said.
   */
  async closeTrade(paymentId: string): Promise<CloseResult> {
    const closing = await this.call('POST', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(paymentId)}/close`, { mchid: this.options.mchid });
    const closed = closing.status === 204 || closing.body.code === 'ORDER_CLOSED';
    const trade = await this.queryTrade(paymentId);
    switch (trade.state) {
      case 'paid':
        return { result: 'already-paid', channelTradeNo: trade.channelTradeNo, amount: trade.amount, paidAt: trade.paidAt };
      case 'not-found':
        return { result: 'not-found' };
      case 'closed':
      case 'failed':
        return { result: 'closed' };
      case 'pending':
        if (closed) return { result: 'closed' };
        throw this.unexpected(closing, 'close refused and the trade is still open');
    }
  }

  /**
   * out_refund_no is derived from the refundId: WeChat Pay refunds one out_refund_no once. The
   * refund is looked up first, so a retry learns the outcome of an earlier call instead of
   * relying on what a repeated POST answers; PROCESSING is reported failed and asked again later.
   * The amount is amount.refund of WeChat Pay's answer: what it refunds, not what was asked.
   */
  async refund(request: RefundRequest): Promise<RefundResult> {
    const outRefundNo = outRefundNoOf(request.refundId);
    const known = await this.call('GET', refundPath(outRefundNo));
    if (known.status === 200) return this.refundOutcome(this.refundState(known, request.paymentId));
    if (known.status !== 404) throw this.unexpected(known);
    const created = await this.call('POST', '/v3/refund/domestic/refunds', {
      out_trade_no: request.paymentId,
      out_refund_no: outRefundNo,
      reason: truncateUtf8(request.reason, 80),
      // Payguard refunds whole payments: the refund is the payment's total.
      amount: { refund: request.amount.amount, total: request.amount.amount, currency: CURRENCY },
    });
    if (created.status === 200) return this.refundOutcome(this.refundState(created, request.paymentId));
    if (created.status >= 400 && created.status < 500) {
      const reason = `${String(created.body.code ?? created.status)}: ${String(created.body.message ?? '')}`.trim();
      return { result: 'failed', reason, final: isFinalRefundError(created.body.code) };
    }
    throw this.unexpected(created);
  }

  /** GET /v3/refund/domestic/refunds/{out_refund_no}: 404 is a refund WeChat Pay never received. */
  async queryRefund(paymentId: string, refundId: string): Promise<RefundState> {
    const answer = await this.call('GET', refundPath(outRefundNoOf(refundId)));
    if (answer.status === 404) return { state: 'not-found' };
    if (answer.status !== 200) throw this.unexpected(answer);
    return this.refundState(answer, paymentId);
  }

  verifyNotification(notification: IncomingNotification, now: Date): VerifiedNotification {
    const body = notification.rawBody.toString('utf8');
    const check = verifySigned(signedHeaders(notification.headers), body, this.platform, now, NOTIFICATION_TOLERANCE_SECONDS);
    if (!check.valid) throw new NotificationRejectedError('bad-signature', `wechatpay: ${check.reason}`);

    let envelope: Record<string, unknown>;
    let transaction: Record<string, unknown>;
    try {
      envelope = record(JSON.parse(body));
      if (envelope.resource_type !== 'encrypt-resource') throw new Error(`resource_type ${String(envelope.resource_type)}`);
      transaction = record(JSON.parse(decryptResource(record(envelope.resource) as unknown as EncryptedResource, this.options.apiV3Key)));
    } catch (error) {
      throw new NotificationRejectedError('malformed', `wechatpay: unreadable notification: ${(error as Error).message}`);
    }
    if (transaction.mchid !== this.options.mchid || transaction.appid !== this.options.appid) {
      throw new NotificationRejectedError('malformed', 'wechatpay: mchid or appid is not this merchant');
    }
    const amount = isRecord(transaction.amount) ? transaction.amount : {};
    const { out_trade_no: paymentId, transaction_id: transactionId, trade_state: tradeState } = transaction;
    if (typeof envelope.id !== 'string' || typeof paymentId !== 'string' || typeof transactionId !== 'string' || !Number.isSafeInteger(amount.total)) {
      throw new NotificationRejectedError('malformed', 'wechatpay: id, out_trade_no, transaction_id and amount.total are required');
    }
    // Only SUCCESS is a payment; a REFUND or CLOSED state repeats nothing new (recording a failure of a paid payment is a no-op).
    const status = tradeState === 'SUCCESS' ? 'succeeded' : ['PAYERROR', 'CLOSED', 'REVOKED', 'REFUND'].includes(String(tradeState)) ? 'failed' : null;
    if (status === null) throw new NotificationRejectedError('malformed', `wechatpay: trade_state ${String(tradeState)} is not a result`);
    const { ciphertext: _ciphertext, ...resource } = record(envelope.resource);
    return {
      notificationId: envelope.id,
      paymentId,
      status,
      amount: { amount: amount.total as number, currency: typeof amount.currency === 'string' ? amount.currency : CURRENCY },
      channelTradeNo: transactionId,
      occurredAt: isoFromRfc3339(transaction.success_time) ?? isoFromRfc3339(envelope.create_time) ?? now.toISOString(),
      // The envelope and the decrypted transaction; never the ciphertext's key.
      raw: { ...envelope, resource: { ...resource, decrypted: transaction } },
    };
  }

  /** 204 stops WeChat Pay's retries; a 4xx/5xx with {code: FAIL} asks for them. */
  notificationAnswer(outcome: NotificationOutcome): NotificationAnswer {
    if (outcome.outcome === 'recorded') return { status: 204 };
    return { status: outcome.status, contentType: 'application/json', body: JSON.stringify({ code: 'FAIL', message: outcome.detail }) };
  }

  /** PROCESSING is asked again later; CLOSED and ABNORMAL won't turn into money back without a person. */
  private refundOutcome(state: RefundState): RefundResult {
    switch (state.state) {
      case 'succeeded':
        return { result: 'succeeded', channelRefundNo: state.channelRefundNo, amount: state.amount };
      case 'pending':
        return { result: 'failed', reason: 'PROCESSING: WeChat Pay is still refunding; asked again later', final: false };
      case 'failed':
        return { result: 'failed', reason: state.reason, final: true };
      case 'not-found':
        throw new ChannelUnavailableError(this.id, 'a refund answer described no refund');
    }
  }

  /** A refund as WeChat Pay describes it (the answer to the POST, or to the GET by out_refund_no). */
  private refundState(answer: Answer, paymentId: string): RefundState {
    const { status, refund_id: refundId, out_trade_no: outTradeNo } = answer.body;
    if (outTradeNo !== paymentId) throw this.unexpected(answer, `the refund belongs to ${String(outTradeNo)}, not ${paymentId}`);
    const amount = isRecord(answer.body.amount) ? answer.body.amount : {};
    switch (status) {
      case 'SUCCESS':
        if (typeof refundId !== 'string' || !Number.isSafeInteger(amount.refund)) throw this.unexpected(answer, 'a refund described incompletely');
        return {
          state: 'succeeded',
          channelRefundNo: refundId,
          amount: { amount: amount.refund as number, currency: typeof amount.currency === 'string' ? amount.currency : CURRENCY },
        };
      case 'PROCESSING':
        return { state: 'pending' };
      case 'CLOSED':
        return { state: 'failed', reason: 'CLOSED: WeChat Pay closed the refund' };
      case 'ABNORMAL':
        return { state: 'failed', reason: 'ABNORMAL: the refund needs the merchant to act at WeChat Pay' };
      default:
        throw this.unexpected(answer, `refund status ${String(status)}`);
    }
  }

  private paidTrade(trade: Record<string, unknown>): Extract<TradeState, { state: 'paid' }> {
    const amount = isRecord(trade.amount) ? trade.amount : {};
    if (typeof trade.transaction_id !== 'string' || !Number.isSafeInteger(amount.total)) {
      throw new ChannelUnavailableError(this.id, 'wechatpay described a paid trade incompletely');
    }
    return {
      state: 'paid',
      channelTradeNo: trade.transaction_id,
      amount: { amount: amount.total as number, currency: typeof amount.currency === 'string' ? amount.currency : CURRENCY },
      paidAt: isoFromRfc3339(trade.success_time) ?? this.now().toISOString(),
    };
  }

  /** One signed request; an answer is used only once its signature verifies. Transport trouble and 5xx: retry later. */
  private async call(method: 'GET' | 'POST', pathAndQuery: string, json?: unknown): Promise<Answer> {
    const body = json === undefined ? '' : JSON.stringify(json);
    const url = this.baseUrl + pathAndQuery;
    let status: number;
    let text: string;
    let headers: Headers;
    try {
      const response = await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          authorization: authorization(this.merchant, method, pathAndQuery, body, this.now()),
          ...(json !== undefined && { 'content-type': 'application/json' }),
        },
        body: json === undefined ? undefined : body,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
      });
      ({ status, headers } = response);
      text = await response.text();
    } catch (error) {
      throw new ChannelUnavailableError(this.id, `${method} ${pathAndQuery} failed: ${(error as Error).message}`);
    }
    if (status >= 500) throw new ChannelUnavailableError(this.id, `${method} ${pathAndQuery} answered ${status}`);
    const check = verifySigned(signedHeaders(Object.fromEntries(headers)), text, this.platform, this.now());
    if (!check.valid) throw new ChannelUnavailableError(this.id, `${method} ${pathAndQuery} answered ${status} unverified: ${check.reason}`);
    let parsed: unknown = {};
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new ChannelUnavailableError(this.id, `${method} ${pathAndQuery} answered ${status} with a body that is not JSON`);
    }
    return { status, body: isRecord(parsed) ? parsed : {} };
  }

  private unexpected(answer: Answer, why?: string): ChannelUnavailableError {
    return new ChannelUnavailableError(this.id, `unexpected answer: ${describe(answer)}${why ? ` (${why})` : ''}`);
  }
}

function refundPath(outRefundNo: string): string {
  return `/v3/refund/domestic/refunds/${encodeURIComponent(outRefundNo)}`;
}

/** WeChat Pay's out_refund_no: the refundId itself when it fits (64 characters of letters, digits and _-|*@). */
export function outRefundNoOf(refundId: string): string {
  if (/^[A-Za-z0-9_\-|*@]{1,64}$/.test(refundId)) return refundId;
  throw new Error(`refund id ${refundId} does not fit WeChat Pay's out_refund_no`);
}

function signedHeaders(headers: Record<string, string | string[] | undefined>): SignedHeaders {
  const get = (name: string): string | undefined => {
    const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name);
    const value = key === undefined ? undefined : headers[key];
    return Array.isArray(value) ? value[0] : value;
  };
  return {
    serial: get('wechatpay-serial'),
    timestamp: get('wechatpay-timestamp'),
    nonce: get('wechatpay-nonce'),
    signature: get('wechatpay-signature'),
    signatureType: get('wechatpay-signature-type'),
  };
}

function record(value: unknown): Record<string, unknown> {
  if (!isRecord(value)) throw new Error('expected an object');
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(answer: Answer): string {
  const code = typeof answer.body.code === 'string' ? ` ${answer.body.code}` : '';
  const message = typeof answer.body.message === 'string' ? `: ${answer.body.message}` : '';
  return `${answer.status}${code}${message}`;
}
