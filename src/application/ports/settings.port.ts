/** What the use cases need from configuration (read from the environment by infrastructure). */
export interface PayguardSettings {
  /** Where channels send notifications and payers return. */
  readonly publicBaseUrl: string;
  readonly paymentMinValiditySeconds: number;
  readonly channelExpiryMarginSeconds: number;
  readonly reconcileIntervalSeconds: number;
  /** How long expiry waits for a channel to answer a close before it expires the order anyway. */
  readonly expiryCloseBudgetMs: number;
  /** How long after its timeExpire a trade recorded closed (or failed) is still asked about. */
  readonly tradeWatchSeconds: number;
  /** Transient refund failures before a refund is given up as failed. */
  readonly refundMaxAttempts: number;
  /** The IANA zone whose days the reports are by (REPORT_TIMEZONE). */
  readonly reportTimeZone: string;
}

export const SETTINGS = Symbol('PayguardSettings');
