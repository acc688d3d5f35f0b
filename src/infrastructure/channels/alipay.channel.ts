/**
 * The alipay channel: Alipay OpenAPI (gateway v2, RSA2) computer-website payment
 * (alipay.trade.page.pay). Outgoing requests are signed, and answers verified, by the official
 * alipay-sdk; notifications and returns are verified here from the raw form, by the published
 * rule (see alipay-format.ts), because the SDK's own check also accepts content with sign_type
 * and with empty values.
 */
import { AlipaySdk } from 'alipay-sdk';
import { createHash, type KeyObject } from 'node:crypto';
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
  chinaTime,
  classifyRefundRefusal,
  fenFromYuan,
  isoFromChinaTime,
  uniqueParams,
  verifySignedParams,
  yuanFromFen,
} from './alipay-format.js';
import type { AlipayConfig } from '../config/config.js';

/** The settings ALIPAY_* gives (see config.ts), and what tests may change. */
export interface AlipayChannelOptions extends AlipayConfig {
  readonly timeoutMs?: number;
  readonly now?: () => Date;
}

/** One answer of the gateway: `code` 10000 is success; business errors carry `sub_code`. */
type GatewayAnswer = Record<string, unknown> & { code?: string; sub_code?: string; sub_msg?: string };

type PaidTrade = Extract<TradeState, { state: 'paid' }>;

const PAID = new Set(['TRADE_SUCCESS', 'TRADE_FINISHED']);
const CURRENCY = 'CNY';

export class AlipayChannel implements PaymentChannel {
  readonly id = 'alipay';
  readonly currencies = [CURRENCY] as const;
  private readonly sdk: AlipaySdk;
  private readonly alipayKey: KeyObject;
  private readonly now: () => Date;

  constructor(private readonly options: AlipayChannelOptions) {
    const appKey = privateKeyFrom(options.privateKey, 'ALIPAY_PRIVATE_KEY');
    this.alipayKey = publicKeyFrom(options.alipayPublicKey, 'ALIPAY_PUBLIC_KEY');
    this.now = options.now ?? (() => new Date());
    this.sdk = new AlipaySdk({
      appId: options.appId,
      privateKey: appKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      keyType: 'PKCS8',
      alipayPublicKey: this.alipayKey.export({ type: 'spki', format: 'pem' }).toString(),
      gateway: options.gatewayUrl,
      timeout: options.timeoutMs ?? 5_000,
      signType: 'RSA2',
      // Keep Alipay's own field names: they are what the published formats and auditors know.
      camelcase: false,
    });
  }

  /**
   * The payUrl is the signed alipay.trade.page.pay request itself (GET form): Alipay opens the
   * trade when the payer arrives, under this out_trade_no, and honours time_expire.
   */
  async createTrade(request: CreateTradeRequest): Promise<CreatedTrade> {
    if (request.amount.currency !== CURRENCY) {
      throw new InvalidRequest([{ field: 'channel', message: `alipay takes ${CURRENCY} only, not ${request.amount.currency}` }]);
    }
    const payUrl = this.sdk.pageExecute('alipay.trade.page.pay', 'GET', {
      bizContent: {
        out_trade_no: request.paymentId,
        total_amount: yuanFromFen(request.amount.amount),
        subject: subjectOf(request),
        product_code: 'FAST_INSTANT_TRADE_PAY',
        time_expire: chinaTime(request.timeExpire),
      },
      notifyUrl: request.notifyUrl,
      // Alipay appends its signed parameters (out_trade_no among them) to return_url; one of our
      // own there would break their signature, so the return page learns the payment from them.
      returnUrl: withoutQuery(request.returnUrl),
      timestamp: chinaTime(this.now()),
    });
    return { payUrl };
  }

  async queryTrade(paymentId: string): Promise<TradeState> {
    const answer = await this.call('alipay.trade.query', { out_trade_no: paymentId });
    if (answer.code !== '10000') {
      if (answer.sub_code === 'ACQ.TRADE_NOT_EXIST') return { state: 'not-found' };
      throw this.unexpected('alipay.trade.query', answer);
    }
    this.expectTrade(answer, paymentId);
    switch (answer.trade_status) {
      case 'WAIT_BUYER_PAY':
        return { state: 'pending' };
      case 'TRADE_SUCCESS':
      case 'TRADE_FINISHED':
        return this.paidTrade(answer);
      // Closed unpaid, or paid and then refunded in full: either way nothing is held on it now.
      case 'TRADE_CLOSED':
        return { state: 'closed' };
      default:
        throw this.unexpected('alipay.trade.query', answer);
    }
  }

  /**
   * ACQ.TRADE_NOT_EXIST: the payer never opened the cashier, so Alipay has no trade. Note that a
   * page-pay trade appears only when the payer arrives, so the payUrl stays usable until
   * time_expire; a success after a close is repaired like any late success.
   * ACQ.TRADE_STATUS_ERROR: the trade is paid (or already closed): the query tells which.
   */
  async closeTrade(paymentId: string): Promise<CloseResult> {
    const answer = await this.call('alipay.trade.close', { out_trade_no: paymentId });
    if (answer.code === '10000') return { result: 'closed' };
    if (answer.sub_code === 'ACQ.TRADE_NOT_EXIST') return { result: 'not-found' };
    if (answer.sub_code === 'ACQ.TRADE_STATUS_ERROR') {
      const trade = await this.queryTrade(paymentId);
      if (trade.state === 'paid') return { result: 'already-paid', channelTradeNo: trade.channelTradeNo, amount: trade.amount, paidAt: trade.paidAt };
      if (trade.state === 'closed') return { result: 'closed' };
    }
    throw this.unexpected('alipay.trade.close', answer);
  }

  /**
   * out_request_no is derived from the refundId, so a retried refund is the same refund to
   * Alipay. The amount refunded is taken from the refund query's refund_amount (this request's
   * amount), not from the answer's refund_fee, which is the trade's cumulative refunded total and
   * overstates this refund whenever the trade was refunded before. fund_change "Y" says this call
   * moved the money; if the query can't confirm it yet, the amount asked is what moved, because
   * alipay.trade.refund refunds exactly refund_amount or refuses. fund_change "N" (a repeat, or
   * not through) is believed only once the query confirms it.
   */
  async refund(request: RefundRequest): Promise<RefundResult> {
    const outRequestNo = outRequestNoOf(request.refundId);
    const answer = await this.call('alipay.trade.refund', {
      out_trade_no: request.paymentId,
      refund_amount: yuanFromFen(request.amount.amount),
      out_request_no: outRequestNo,
      refund_reason: request.reason,
    });
    if (answer.code === '10000') {
      const moved = answer.fund_change === 'Y';
      const confirmed = await this.refundQuery(request.paymentId, outRequestNo).catch((error: unknown) => {
        if (moved && error instanceof ChannelUnavailableError) return undefined;
        throw error;
      });
      if (confirmed?.state === 'succeeded') return { result: 'succeeded', channelRefundNo: confirmed.channelRefundNo, amount: confirmed.amount };
      if (moved) return { result: 'succeeded', channelRefundNo: outRequestNo, amount: request.amount };
      return { result: 'failed', reason: 'the refund is not confirmed by alipay.trade.fastpay.refund.query yet', final: false };
    }
    const refusal = classifyRefundRefusal(answer.code, answer.sub_code);
    if (refusal === 'unavailable') throw this.unexpected('alipay.trade.refund', answer);
    return { result: 'failed', reason: `${answer.sub_code ?? answer.code ?? 'refused'}: ${answer.sub_msg ?? answer.msg ?? ''}`.trim(), final: refusal === 'final' };
  }

  async queryRefund(paymentId: string, refundId: string): Promise<RefundState> {
    return this.refundQuery(paymentId, outRequestNoOf(refundId));
  }

  verifyNotification(notification: IncomingNotification, _now: Date): VerifiedNotification {
    const params = uniqueParams(new URLSearchParams(notification.rawBody.toString('utf8')));
    if (params === null) throw new NotificationRejectedError('malformed', 'alipay: a parameter is repeated');
    const check = verifySignedParams(params, this.alipayKey);
    if (!check.valid) throw new NotificationRejectedError('bad-signature', `alipay: ${check.reason}`);
    const charset = params.get('charset');
    if (charset !== undefined && charset.toLowerCase() !== 'utf-8') throw new NotificationRejectedError('malformed', `alipay: charset ${charset}`);
    if (params.get('app_id') !== this.options.appId) throw new NotificationRejectedError('malformed', 'alipay: app_id is not this app');
    // Signed by Alipay for our app, yet about another seller's account: not money this merchant received.
    if (this.options.sellerId !== undefined && params.get('seller_id') !== this.options.sellerId) {
      throw new NotificationRejectedError('malformed', 'alipay: seller_id is not the configured seller (ALIPAY_SELLER_ID)');
    }

    const paymentId = params.get('out_trade_no');
    const tradeNo = params.get('trade_no');
    const notifyId = params.get('notify_id');
    const amount = fenFromYuan(params.get('total_amount'));
    if (!paymentId || !tradeNo || !notifyId || amount === null) {
      throw new NotificationRejectedError('malformed', 'alipay: out_trade_no, trade_no, notify_id and total_amount are required');
    }
    const tradeStatus = params.get('trade_status') ?? '';
    // TRADE_CLOSED comes for an unpaid trade that closed (recorded as the payment closing, when it
    // is still pending), and after a full refund (on a paid payment it changes nothing): never a payment.
    // A late TRADE_FINISHED repeats a success already recorded (recording it again is a no-op).
    if (!PAID.has(tradeStatus) && tradeStatus !== 'TRADE_CLOSED') {
      throw new NotificationRejectedError('malformed', `alipay: trade_status ${tradeStatus || '(none)'} is not a result`);
    }
    const occurredAt =
      isoFromChinaTime(params.get('gmt_payment')) ?? isoFromChinaTime(params.get('notify_time')) ?? this.now().toISOString();
    return {
      notificationId: notifyId,
      paymentId,
      status: PAID.has(tradeStatus) ? 'succeeded' : 'closed',
      amount: { amount, currency: CURRENCY },
      channelTradeNo: tradeNo,
      occurredAt,
      // Every verified field, sign included, so an auditor can check it against Alipay's public key.
      raw: Object.fromEntries(params),
    };
  }

  /** Alipay reads the body: exactly `success` stops its retries; anything else asks for them. */
  notificationAnswer(outcome: NotificationOutcome): NotificationAnswer {
    if (outcome.outcome === 'recorded') return { status: 200, contentType: 'text/plain; charset=utf-8', body: 'success' };
    return { status: outcome.status, contentType: 'text/plain; charset=utf-8', body: 'fail' };
  }

  verifyReturn(params: Readonly<Record<string, string>>): { paymentId: string } | undefined {
    if (params.sign === undefined) return undefined;
    const check = verifySignedParams(new Map(Object.entries(params)), this.alipayKey);
    if (!check.valid) throw new NotificationRejectedError('bad-signature', `alipay return: ${check.reason}`);
    if (params.app_id !== this.options.appId || !params.out_trade_no) {
      throw new NotificationRejectedError('malformed', 'alipay return: not for this app, or without out_trade_no');
    }
    return { paymentId: params.out_trade_no };
  }

  /**
   * alipay.trade.fastpay.refund.query: refund_status REFUND_SUCCESS is the only success (Alipay
   * documents a missing one as "not received, or failed"); refund fields without it are a refund
   * received and not through yet; no refund fields, or no trade, is a refund Alipay does not have.
   */
  private async refundQuery(paymentId: string, outRequestNo: string): Promise<RefundState> {
    const method = 'alipay.trade.fastpay.refund.query';
    const answer = await this.call(method, { out_trade_no: paymentId, out_request_no: outRequestNo });
    if (answer.code !== '10000') {
      if (answer.sub_code === 'ACQ.TRADE_NOT_EXIST') return { state: 'not-found' };
      throw this.unexpected(method, answer);
    }
    this.expectTrade(answer, paymentId);
    if (answer.out_request_no !== undefined && answer.out_request_no !== outRequestNo) {
      throw new ChannelUnavailableError(this.id, `${method} answered about refund ${String(answer.out_request_no)}, not ${outRequestNo}`);
    }
    const amount = fenFromYuan(answer.refund_amount);
    if (answer.refund_status === 'REFUND_SUCCESS') {
      if (amount === null) throw new ChannelUnavailableError(this.id, `${method} described a refund without refund_amount`);
      return { state: 'succeeded', channelRefundNo: outRequestNo, amount: { amount, currency: CURRENCY } };
    }
    return amount === null ? { state: 'not-found' } : { state: 'pending' };
  }

  /** One gateway call, its answer's signature verified by the SDK; transport and signature failures: retry later. */
  private async call(method: string, bizContent: Record<string, string>): Promise<GatewayAnswer> {
    try {
      const answer: unknown = await this.sdk.exec(method, { bizContent, timestamp: chinaTime(this.now()) }, { validateSign: true });
      if (typeof answer !== 'object' || answer === null) throw new Error('empty answer');
      return answer as GatewayAnswer;
    } catch (error) {
      throw new ChannelUnavailableError(this.id, `${method} failed: ${(error as Error).message}`);
    }
  }

  /**
   * The answer is about this trade, and (with ALIPAY_SELLER_ID) of this seller: a seller_id that
   * is present and another seller's makes the answer unusable. Query answers often carry no
   * seller_id at all, which is no evidence either way.
   */
  private expectTrade(answer: GatewayAnswer, paymentId: string): void {
    if (answer.out_trade_no !== undefined && answer.out_trade_no !== paymentId) {
      throw new ChannelUnavailableError(this.id, `answer is about ${String(answer.out_trade_no)}, not ${paymentId}`);
    }
    if (this.options.sellerId !== undefined && answer.seller_id !== undefined && answer.seller_id !== this.options.sellerId) {
      throw new ChannelUnavailableError(this.id, `answer is about seller ${String(answer.seller_id)}, not the configured seller`);
    }
  }

  private paidTrade(answer: GatewayAnswer): PaidTrade {
    const amount = fenFromYuan(answer.total_amount);
    if (typeof answer.trade_no !== 'string' || amount === null) {
      throw new ChannelUnavailableError(this.id, 'alipay described a paid trade incompletely');
    }
    const paidAt = isoFromChinaTime(answer.send_pay_date) ?? this.now().toISOString();
    return { state: 'paid', channelTradeNo: answer.trade_no, amount: { amount, currency: CURRENCY }, paidAt };
  }

  private unexpected(method: string, answer: GatewayAnswer): ChannelUnavailableError {
    const detail = [answer.code, answer.sub_code, answer.sub_msg ?? answer.msg].filter((part) => typeof part === 'string').join(' ');
    return new ChannelUnavailableError(this.id, `${method} answered ${detail || 'an unexpected trade state'}`);
  }
}

/**
 * Alipay's out_request_no for a refund: the refundId in letters, digits and underscores
 * (refund-pay_X -> refund_pay_X), the same for every retry. A trade has one refund in Payguard,
 * and out_request_no only has to be unique within its trade.
 */
export function outRequestNoOf(refundId: string): string {
  const derived = refundId.replace(/-/g, '_');
  if (/^[A-Za-z0-9_]{1,64}$/.test(derived)) return derived;
  return createHash('sha256').update(refundId).digest('hex').slice(0, 32);
}

/** subject: required, at most 256 characters, without the characters Alipay reserves (/ = &). */
function subjectOf(request: CreateTradeRequest): string {
  const text = (request.description ?? `Order ${request.orderId}`).replace(/[/=&]/g, ' ').trim();
  return (text || `Order ${request.orderId}`).slice(0, 256);
}

function withoutQuery(url: string): string {
  const parsed = new URL(url);
  parsed.search = '';
  return parsed.toString();
}
