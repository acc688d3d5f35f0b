/**
 * The channel adapter for the sandbox gateway's providers (sandbox-bank, sandbox-wallet),
 * over HTTP like a real provider: whether the gateway runs in-process or alone is only a URL.
 */
import {
  ChannelUnavailableError,
  NotificationRejectedError,
  type CloseResult,
  type CreateTradeRequest,
  type CreatedTrade,
  type IncomingNotification,
  type PaymentChannel,
  type RefundRequest,
  type RefundResult,
  type RefundState,
  type TradeState,
  type VerifiedNotification,
} from '../../application/ports/channel.port.js';
import type { Money } from '../../domain/shared/money.js';
import { SANDBOX_SIGNATURE_HEADER, verifySandboxSignature } from '../sandbox/sandbox-signature.js';

export interface SandboxChannelOptions {
  readonly id: 'sandbox-bank' | 'sandbox-wallet';
  readonly provider: 'bank' | 'wallet';
  /** The gateway's base URL, e.g. http://127.0.0.1:3000/sandbox. */
  readonly gatewayUrl: string;
  /** Key the gateway signs notifications with. */
  readonly secret: string;
  /** How long to wait for an answer before the gateway counts as unreachable (SANDBOX_TIMEOUT_MS). */
  readonly timeoutMs?: number;
}

interface GatewayAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const DEFAULT_TIMEOUT_MS = 5_000;

export class SandboxChannel implements PaymentChannel {
  readonly id: SandboxChannelOptions['id'];
  private readonly tradesUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: SandboxChannelOptions) {
    this.id = options.id;
    this.tradesUrl = `${options.gatewayUrl.replace(/\/+$/, '')}/api/${options.provider}/trades`;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** The gateway recognises a repeated paymentId (out_trade_no) and answers with the same trade. */
  async createTrade(request: CreateTradeRequest): Promise<CreatedTrade> {
    const answer = await this.call('POST', '', {
      outTradeNo: request.paymentId,
      amount: request.amount.amount,
      currency: request.amount.currency,
      timeExpire: request.timeExpire,
      notifyUrl: request.notifyUrl,
      returnUrl: request.returnUrl,
      ...(request.description !== undefined && { subject: request.description }),
    });
    if ((answer.status === 200 || answer.status === 201) && typeof answer.body.payUrl === 'string') {
      return { payUrl: answer.body.payUrl };
    }
    // The gateway's own refusal of our parameters (invalid or conflicting) is a bug on our side,
    // which retrying can't help. Anything else - a 404, 401 or 405 from a host that has no gateway
    // at SANDBOX_GATEWAY_URL, a 2xx without a payUrl - is a provider we can't use now:
    // 503 channel-unavailable, and the attempt stays recorded for a retry.
    if (isGatewayRefusal(answer)) {
      throw new Error(`${this.id}: trade ${request.paymentId} refused: ${describe(answer)}`);
    }
    throw new ChannelUnavailableError(this.id, `trade creation at ${this.tradesUrl} answered ${describe(answer)}: is SANDBOX_GATEWAY_URL a sandbox gateway?`);
  }

  async queryTrade(paymentId: string): Promise<TradeState> {
    const answer = await this.call('GET', `/${encodeURIComponent(paymentId)}`);
    if (isTradeNotFound(answer)) return { state: 'not-found' };
    if (answer.status !== 200) throw this.unexpected(answer);
    const trade = answer.body;
    switch (trade.status) {
      case 'WAIT_PAY':
        return { state: 'pending' };
      case 'CLOSED':
        return { state: 'closed' };
      case 'FAILED':
        return { state: 'failed', reason: typeof trade.failReason === 'string' ? trade.failReason : 'FAILED' };
      case 'PAID':
        return {
          state: 'paid',
          ...this.paidTrade(trade),
          ...(typeof trade.refundedAmount === 'number' && { refundedAmount: trade.refundedAmount }),
        };
      default:
        throw this.unexpected(answer);
    }
  }

  async closeTrade(paymentId: string): Promise<CloseResult> {
    const answer = await this.call('POST', `/${encodeURIComponent(paymentId)}/close`);
    if (answer.status === 200) return { result: 'closed' };
    if (isTradeNotFound(answer)) return { result: 'not-found' };
    if (answer.status === 409 && answer.body.code === 'TRADE_PAID' && isRecord(answer.body.trade)) {
      return { result: 'already-paid', ...this.paidTrade(answer.body.trade) };
    }
    throw this.unexpected(answer);
  }

  /**
   * The refundId is the provider's outRequestNo, so a repeated refund never pays out twice. The
   * amount is what the gateway says it paid back, which may be less than asked. Every 4xx refusal
   * of the gateway's (REFUND_AMOUNT_EXCEEDED, TRADE_NOT_PAID, REFUND_CURRENCY_MISMATCH,
   * REFUND_CONFLICT, TRADE_NOT_FOUND...) is one the same request can't turn around: final. A 4xx
   * from a host that isn't the gateway is the provider being out of reach: retried.
   */
  async refund(request: RefundRequest): Promise<RefundResult> {
    const answer = await this.call('POST', `/${encodeURIComponent(request.paymentId)}/refunds`, {
      outRequestNo: request.refundId,
      amount: request.amount.amount,
      currency: request.amount.currency,
      reason: request.reason,
    });
    if (answer.status === 200) {
      const refunded = this.refundOf(answer.body);
      if (refunded !== undefined) return { result: 'succeeded', ...refunded };
    }
    if (isGatewayRefusal(answer)) {
      return { result: 'failed', reason: typeof answer.body.code === 'string' ? answer.body.code : describe(answer), final: true };
    }
    throw this.unexpected(answer);
  }

  /** The gateway keeps a trade's refunds on it: the refund is found there by its outRequestNo. */
  async queryRefund(paymentId: string, refundId: string): Promise<RefundState> {
    const answer = await this.call('GET', `/${encodeURIComponent(paymentId)}`);
    if (isTradeNotFound(answer)) return { state: 'not-found' };
    if (answer.status !== 200 || !Array.isArray(answer.body.refunds)) throw this.unexpected(answer);
    const found: unknown = answer.body.refunds.find((refund: unknown) => isRecord(refund) && refund.outRequestNo === refundId);
    if (found === undefined) return { state: 'not-found' };
    const refunded = isRecord(found) ? this.refundOf({ currency: answer.body.currency, ...found }) : undefined;
    if (refunded === undefined) throw this.unexpected(answer);
    return { state: 'succeeded', ...refunded };
  }

  verifyNotification(notification: IncomingNotification, now: Date): VerifiedNotification {
    const header = headerValue(notification.headers, SANDBOX_SIGNATURE_HEADER);
    const check = verifySandboxSignature(this.options.secret, header, notification.rawBody, now);
    if (!check.valid) throw new NotificationRejectedError('bad-signature', `${this.id}: signature ${check.reason}`);

    let body: unknown;
    try {
      body = JSON.parse(notification.rawBody.toString('utf8'));
    } catch {
      throw new NotificationRejectedError('malformed', `${this.id}: body is not JSON`);
    }
    const errors = notificationBodyErrors(body);
    if (errors.length > 0) throw new NotificationRejectedError('malformed', `${this.id}: unexpected body shape`, errors);
    const valid = body as NotificationBody & Record<string, unknown>;
    const { notificationId, paymentId, status, amount, currency, channelTradeNo, occurredAt } = valid;
    return { notificationId, paymentId, status, amount: { amount, currency }, channelTradeNo, occurredAt, raw: valid };
  }

  /** One request; anything that says "the provider can't answer now" is ChannelUnavailableError. */
  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<GatewayAnswer> {
    const url = this.tradesUrl + path;
    try {
      const response = await fetch(url, {
        method,
        headers: { accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (response.status >= 500) {
        await response.body?.cancel().catch(() => undefined);
        throw new ChannelUnavailableError(this.id, `${method} ${url} answered ${response.status}`);
      }
      const parsed: unknown = await response.json();
      return { status: response.status, body: isRecord(parsed) ? parsed : {} };
    } catch (error) {
      if (error instanceof ChannelUnavailableError) throw error;
      // Network error, timeout (also while reading the body) or an unreadable answer.
      throw new ChannelUnavailableError(this.id, `${method} ${url} failed: ${(error as Error).message}`);
    }
  }

  /** What the payer was charged (capturedAmount; older gateways only say amount), and when. */
  private paidTrade(trade: Record<string, unknown>): { channelTradeNo: string; amount: Money; paidAt: string } {
    const { tradeNo, currency, paidAt } = trade;
    const amount = trade.capturedAmount ?? trade.amount;
    if (typeof tradeNo !== 'string' || !isAmount(amount) || typeof currency !== 'string' || typeof paidAt !== 'string') {
      throw new ChannelUnavailableError(this.id, 'gateway described a paid trade incompletely');
    }
    return { channelTradeNo: tradeNo, amount: { amount, currency }, paidAt };
  }

  /** A refund as the gateway describes it; undefined when a field is missing. */
  private refundOf(refund: Record<string, unknown>): { channelRefundNo: string; amount: Money } | undefined {
    const { refundNo, amount, currency } = refund;
    if (typeof refundNo !== 'string' || !isAmount(amount) || typeof currency !== 'string') return undefined;
    return { channelRefundNo: refundNo, amount: { amount, currency } };
  }

  /** An answer the contract doesn't allow: treat the provider as misbehaving, retry later. */
  private unexpected(answer: GatewayAnswer): ChannelUnavailableError {
    return new ChannelUnavailableError(this.id, `unexpected answer: ${describe(answer)}`);
  }
}

interface NotificationBody {
  notificationId: string;
  paymentId: string;
  status: 'succeeded' | 'failed';
  amount: number;
  currency: string;
  channelTradeNo: string;
  occurredAt: string;
}

/** Each field of the sandbox's notification format and what it must be. */
const NOTIFICATION_FIELDS: Readonly<Record<keyof NotificationBody, { readonly valid: (value: unknown) => boolean; readonly must: string }>> = {
  notificationId: { valid: isNonEmptyString, must: 'a non-empty string' },
  paymentId: { valid: isNonEmptyString, must: 'a non-empty string' },
  status: { valid: (value) => value === 'succeeded' || value === 'failed', must: '"succeeded" or "failed"' },
  amount: { valid: (value) => Number.isSafeInteger(value) && (value as number) > 0, must: 'a positive integer (minor units)' },
  currency: { valid: (value) => typeof value === 'string' && /^[A-Z]{3}$/.test(value), must: 'three upper-case letters' },
  channelTradeNo: { valid: isNonEmptyString, must: 'a non-empty string' },
  occurredAt: { valid: (value) => typeof value === 'string' && !Number.isNaN(Date.parse(value)), must: 'an ISO 8601 time' },
};

/** What is wrong with a sandbox notification, field by field: a missing or bad field, or one the format does not have. */
function notificationBodyErrors(body: unknown): { field: string; message: string }[] {
  if (!isRecord(body)) return [{ field: 'body', message: 'must be a JSON object' }];
  const errors: { field: string; message: string }[] = [];
  for (const [field, { valid, must }] of Object.entries(NOTIFICATION_FIELDS)) {
    if (!valid(body[field])) errors.push({ field, message: `${field} must be ${must}` });
  }
  for (const field of Object.keys(body)) {
    if (!Object.hasOwn(NOTIFICATION_FIELDS, field)) errors.push({ field, message: `${field} is not a field of the sandbox notification` });
  }
  return errors;
}

/** Node lower-cases header names; others may not, so look the name up case-insensitively. */
function headerValue(headers: IncomingNotification['headers'], name: string): string | undefined {
  const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The gateway saying it has no such trade. A 404 without its TRADE_NOT_FOUND code comes from a
 * host with no gateway at that URL (a misconfigured SANDBOX_GATEWAY_URL): that says nothing about
 * the trade, and must not end its watch.
 */
function isTradeNotFound(answer: GatewayAnswer): boolean {
  return answer.status === 404 && answer.body.code === 'TRADE_NOT_FOUND';
}

/** A 4xx that is the gateway's own refusal (its `code`, or its 400 validation problem), not a host that isn't the gateway. */
function isGatewayRefusal(answer: GatewayAnswer): boolean {
  if (answer.status < 400 || answer.status >= 500) return false;
  return typeof answer.body.code === 'string' || (answer.status === 400 && typeof answer.body.type === 'string');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isAmount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function describe(answer: GatewayAnswer): string {
  const code = typeof answer.body.code === 'string' ? ` ${answer.body.code}` : '';
  const detail = typeof answer.body.detail === 'string' ? `: ${answer.body.detail}` : '';
  return `${answer.status}${code}${detail}`;
}
