/** The sandbox provider's trades and refunds, its error codes and its faults, as the gateway keeps and answers them. */

export const SANDBOX_PROVIDERS = ['bank', 'wallet'] as const;
export type SandboxProvider = (typeof SANDBOX_PROVIDERS)[number];

export type SandboxTradeStatus = 'WAIT_PAY' | 'PAID' | 'CLOSED' | 'FAILED';

export interface SandboxTradeParams {
  readonly outTradeNo: string;
  readonly amount: number;
  readonly currency: string;
  readonly timeExpire: string;
  readonly notifyUrl: string;
  readonly returnUrl: string;
  readonly subject?: string;
}

export interface SandboxRefund {
  readonly outRequestNo: string;
  readonly refundNo: string;
  /** What was actually paid back (less than asked under `refundShortfall`). */
  readonly amount: number;
  /** What the merchant asked for: a repeat of the outRequestNo is compared with this. */
  readonly requestedAmount: number;
  readonly currency: string;
  readonly reason?: string;
  readonly refundedAt: string;
}

export interface SandboxTrade extends SandboxTradeParams {
  readonly provider: SandboxProvider;
  readonly tradeNo: string;
  readonly createdAt: string;
  status: SandboxTradeStatus;
  paidAt?: string;
  /** What the payer was charged, set when paid; differs from `amount` under `captureAmountDelta`. */
  capturedAmount?: number;
  closedAt?: string;
  failReason?: string;
  refunds: SandboxRefund[];
}

/** How the provider misbehaves; every field optional, `{}` is good behaviour. */
export interface SandboxFaults {
  readonly notifyDelayMs?: number;
  /** Send no notifications at all (the merchant must ask). */
  readonly dropNotifications?: boolean;
  /** Extra copies of each notification. */
  readonly duplicateNotifications?: number;
  /** Query, close and refund answer "service unavailable". */
  readonly apiDown?: boolean;
  /** Take money after `timeExpire` or after the trade was closed. */
  readonly ignoreTimeExpire?: boolean;
  /** Capture `amount + n` when the payer pays (n may be negative; a total that is not > 0 captures `amount`). */
  readonly captureAmountDelta?: number;
  /** A new refund pays back `max(1, asked - n)`. */
  readonly refundShortfall?: number;
  /** Create-trade stores the trade at once but answers only after n ms (the merchant may give up first). */
  readonly createStallMs?: number;
}

export type SandboxErrorCode =
  | 'API_DOWN'
  | 'TRADE_NOT_FOUND'
  | 'TRADE_CONFLICT'
  | 'TRADE_PAID'
  | 'TRADE_NOT_PAYABLE'
  | 'TRADE_NOT_PAID'
  | 'REFUND_CONFLICT'
  | 'REFUND_CURRENCY_MISMATCH'
  | 'REFUND_AMOUNT_EXCEEDED'
  | 'NOTIFY_URL_NOT_ALLOWED'
  | 'RETURN_URL_NOT_ALLOWED'
  | 'SANDBOX_FULL';

/** A request the provider refuses; `trade` is what it refers to, when there is one. */
export class SandboxGatewayError extends Error {
  constructor(
    readonly code: SandboxErrorCode,
    message: string,
    readonly trade?: SandboxTrade,
  ) {
    super(message);
    this.name = 'SandboxGatewayError';
  }
}

/** Why a trade can't take the payer's money now; undefined when it can. */
export type PayBlocker = 'paid' | 'closed' | 'expired' | 'failed';

/** What was actually paid back, over every refund of the trade. */
export function refundedAmount(trade: SandboxTrade): number {
  return trade.refunds.reduce((sum, refund) => sum + refund.amount, 0);
}

/** What the payer was charged: what refunds are bounded by. */
export function capturedAmount(trade: SandboxTrade): number {
  return trade.capturedAmount ?? trade.amount;
}

export function tradeKey(provider: SandboxProvider, outTradeNo: string): string {
  return `${provider}:${outTradeNo}`;
}

export function sameParams(trade: SandboxTradeParams, params: SandboxTradeParams): boolean {
  return (
    trade.amount === params.amount &&
    trade.currency === params.currency &&
    Date.parse(trade.timeExpire) === Date.parse(params.timeExpire) &&
    trade.notifyUrl === params.notifyUrl &&
    trade.returnUrl === params.returnUrl &&
    trade.subject === params.subject
  );
}
