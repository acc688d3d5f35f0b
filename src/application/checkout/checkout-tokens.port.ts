/** The languages of the hosted checkout (and of every page a payer sees). */
export const CHECKOUT_LOCALES = ['zh-CN', 'en'] as const;
export type CheckoutLocale = (typeof CHECKOUT_LOCALES)[number];

/** A checkout session: what its token says, and all the service needs to serve it (no session is stored). */
export interface CheckoutSessionClaims {
  /** The order's key: where its stream is (merchant and orderId). */
  readonly orderKey: string;
  /** The merchant that opened the session (null: the service ran open). */
  readonly merchantId: string | null;
  readonly orderId: string;
  /** The shop's page the payer goes back to once the order is settled. */
  readonly returnUrl: string | null;
  /** The shop's choice of language; `?lang=` and Accept-Language come after it. */
  readonly locale: CheckoutLocale | null;
  /** The hard end of the session (ISO 8601): the order's expiresAt plus the grace. */
  readonly expiresAt: string;
}

/**
 * Issues and reads checkout session tokens. A token must be unguessable (at least 128 bits an
 * attacker cannot predict) and tamper-evident: `read` answers null for anything it did not issue.
 */
export interface CheckoutTokens {
  issue(claims: CheckoutSessionClaims): string;
  read(token: string): CheckoutSessionClaims | null;
}

export const CHECKOUT_TOKENS = Symbol('CheckoutTokens');

/** The hosted checkout's settings (CHECKOUT_GRACE_SECONDS). */
export interface CheckoutOptions {
  /** How long a session lives on after its order ended (paid, expired or closed), to show the result. */
  readonly graceSeconds: number;
}

export const CHECKOUT_OPTIONS = Symbol('CheckoutOptions');
