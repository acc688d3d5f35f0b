import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CHECKOUT_LOCALES, type CheckoutLocale, type CheckoutSessionClaims, type CheckoutTokens } from '../../application/checkout/checkout-tokens.port.js';

/** Separates this MAC's purpose from any other use of the secret. */
const PURPOSE = 'payguard-checkout-session.v1.';
const TOKEN = /^([A-Za-z0-9_-]{16,8192})\.([A-Za-z0-9_-]{43})$/;

/**
 * Checkout session tokens as `<payload>.<mac>`: the payload is the session's claims (base64url
 * JSON, with 128 random bits so no two sessions share a token), the MAC an HMAC-SHA256 of it with
 * CHECKOUT_SECRET. Unguessable because the MAC is 256 bits of a keyed function: without the secret,
 * no token can be made or altered. The claims are readable by whoever holds the token, the payer:
 * they name the order and the shop's page, nothing secret.
 */
export class HmacCheckoutTokens implements CheckoutTokens {
  constructor(private readonly secret: string) {}

  issue(claims: CheckoutSessionClaims): string {
    const { orderKey: k, merchantId: m, orderId: o, returnUrl: r, locale: l, expiresAt } = claims;
    const body = { k, m, o, r, l, e: Math.floor(Date.parse(expiresAt) / 1000), n: randomBytes(16).toString('base64url') };
    const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  read(token: string): CheckoutSessionClaims | null {
    const match = TOKEN.exec(token);
    if (match === null) return null;
    const [, payload, mac] = match;
    if (!timingSafeEqual(Buffer.from(mac), Buffer.from(this.mac(payload)))) return null;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return null;
    }
    const { k, m, o, r, l, e } = body;
    const nullableString = (value: unknown): value is string | null => value === null || typeof value === 'string';
    if (typeof k !== 'string' || typeof o !== 'string' || !nullableString(m) || !nullableString(r) || typeof e !== 'number') return null;
    if (l !== null && !CHECKOUT_LOCALES.includes(l as CheckoutLocale)) return null;
    return { orderKey: k, merchantId: m, orderId: o, returnUrl: r, locale: l as CheckoutLocale | null, expiresAt: new Date(e * 1000).toISOString() };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.secret).update(PURPOSE).update(payload).digest('base64url');
  }
}
