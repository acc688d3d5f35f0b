/**
 * The channel port: how Payguard talks to a payment provider. One adapter per provider
 * (sandbox-bank and sandbox-wallet share the sandbox adapter; alipay and wechatpay have their own).
 * The paymentId is the provider's out_trade_no, and the refundId its out_request_no, so a
 * repeated call is recognised by the provider and never takes or returns money twice.
 */
import type { Money } from '../../domain/shared/money.js';

export interface CreateTradeRequest {
  readonly paymentId: string;
  readonly orderId: string;
  readonly amount: Money;
  readonly description?: string;
  /** Payment-valid-time given to the provider (ISO 8601). */
  readonly timeExpire: string;
  /** Where the provider posts its asynchronous result. */
  readonly notifyUrl: string;
  /** Where the provider sends the payer back (same window). */
  readonly returnUrl: string;
  /** The payer's IP address, as the merchant's page saw it; given to channels that need it (`needsPayerIp`). */
  readonly payerIp?: string;
}

export interface CreatedTrade {
  /** Where the payer goes, in the same window. */
  readonly payUrl: string;
}

/** What the provider says a trade is. */
export type TradeState =
  | { readonly state: 'not-found' }
  | { readonly state: 'pending' }
  | {
      readonly state: 'paid';
      readonly channelTradeNo: string;
      /** What the provider captured (which may differ from what the trade asked for). */
      readonly amount: Money;
      /** When the payer paid, by the provider's clock (Alipay gmt_payment, WeChat success_time). */
      readonly paidAt: string;
      /** What has been refunded of it, all refunds together, when the provider's query says so (absent: it does not). */
      readonly refundedAmount?: number;
    }
  | { readonly state: 'closed' }
  | { readonly state: 'failed'; readonly reason: string };

/** Result of closing a trade: a trade that was already paid can't be closed and is reported paid. */
export type CloseResult =
  | { readonly result: 'closed' }
  | { readonly result: 'not-found' }
  | { readonly result: 'already-paid'; readonly channelTradeNo: string; readonly amount: Money; readonly paidAt: string };

export interface RefundRequest {
  readonly refundId: string;
  readonly paymentId: string;
  readonly amount: Money;
  readonly reason: string;
}

/**
 * What became of a refund call. `succeeded` carries the amount the provider says it refunded,
 * which may be less than asked. `failed` is `final` when the provider refuses for good (the amount
 * exceeds what is left, the trade is not paid, the refund is closed...): retrying cannot help.
 * A provider that can't be reached throws ChannelUnavailableError instead (transient).
 */
export type RefundResult =
  | { readonly result: 'succeeded'; readonly channelRefundNo: string; readonly amount: Money }
  | { readonly result: 'failed'; readonly reason: string; readonly final: boolean };

/** What the provider says of one refund (looked up by the refundId we gave it). */
export type RefundState =
  | { readonly state: 'not-found' }
  | { readonly state: 'pending' }
  | { readonly state: 'succeeded'; readonly channelRefundNo: string; readonly amount: Money }
  | { readonly state: 'failed'; readonly reason: string };

/** A provider's asynchronous notification, once verified and parsed. */
export interface VerifiedNotification {
  readonly notificationId: string;
  readonly paymentId: string;
  /** `closed`: the trade was closed unpaid (it can no longer be paid), as distinct from a declined payment. */
  readonly status: 'succeeded' | 'failed' | 'closed';
  readonly amount: Money;
  readonly channelTradeNo: string;
  readonly occurredAt: string;
  /** What the provider sent, minus secrets, kept for auditors. */
  readonly raw: Record<string, unknown>;
}

export interface IncomingNotification {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly rawBody: Buffer;
}

/** The provider can't be reached or answered with an error: retry later. */
export class ChannelUnavailableError extends Error {
  constructor(readonly channel: string, message: string) {
    super(`${channel}: ${message}`);
    this.name = 'ChannelUnavailableError';
  }
}

/** A notification whose signature, timestamp or format is not acceptable. */
export class NotificationRejectedError extends Error {
  /** `errors`: for a malformed body, what is wrong with which field (the whole body when not given). */
  constructor(
    readonly code: 'bad-signature' | 'malformed',
    message: string,
    readonly errors: readonly { readonly field: string; readonly message: string }[] = [{ field: 'body', message }],
  ) {
    super(message);
    this.name = 'NotificationRejectedError';
  }
}

/** What became of a notification, for the provider's answer. */
export type NotificationOutcome =
  | { readonly outcome: 'recorded' }
  | { readonly outcome: 'rejected'; readonly status: number; readonly code: string; readonly detail: string };

/** The HTTP answer a provider expects to a notification (its retry logic reads it). */
export interface NotificationAnswer {
  readonly status: number;
  readonly contentType?: string;
  readonly body?: string;
}

export interface PaymentChannel {
  readonly id: string;
  /** True when the provider must be told the payer's IP address to open a trade (WeChat Pay H5). */
  readonly needsPayerIp?: boolean;
  /** The currencies the provider takes (absent: any); checked before anything is recorded. */
  readonly currencies?: readonly string[];
  createTrade(request: CreateTradeRequest): Promise<CreatedTrade>;
  queryTrade(paymentId: string): Promise<TradeState>;
  closeTrade(paymentId: string): Promise<CloseResult>;
  refund(request: RefundRequest): Promise<RefundResult>;
  /** Looks one refund up by its refundId (out_request_no / out_refund_no), for the provider-side verify. */
  queryRefund(paymentId: string, refundId: string): Promise<RefundState>;
  /** Verifies and parses a notification; throws NotificationRejectedError. `now` is the service clock. */
  verifyNotification(notification: IncomingNotification, now: Date): VerifiedNotification;
  /** The answer in the provider's own format; without it, `200 {"received":true}` or problem+json. */
  notificationAnswer?(outcome: NotificationOutcome): NotificationAnswer;
  /**
   * Verifies the parameters a provider signs onto the payer's return and names the payment;
   * undefined when they carry no signature; throws NotificationRejectedError when it is wrong.
   * A return only names a payment: it never proves it was paid (the caller queries).
   */
  verifyReturn?(params: Readonly<Record<string, string>>): { readonly paymentId: string } | undefined;
}

