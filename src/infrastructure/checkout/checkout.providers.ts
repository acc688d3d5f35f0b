import { Logger, type Provider, type Type } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { CheckoutSessions } from '../../application/checkout/checkout-sessions.js';
import { CHECKOUT_OPTIONS, CHECKOUT_TOKENS, type CheckoutOptions } from '../../application/checkout/checkout-tokens.port.js';
import type { AppConfig } from '../config/config.js';
import { sameOrigin } from '../config/origins.js';
import { CheckoutSessionsController } from './checkout-sessions.controller.js';
import { CheckoutController } from './checkout.controller.js';
import { HmacCheckoutTokens } from './hmac-checkout-tokens.js';

export const CHECKOUT_CONTROLLERS: Type[] = [CheckoutSessionsController, CheckoutController];

/**
 * The hosted checkout's providers. Without CHECKOUT_SECRET the tokens are signed with a random key
 * made at start-up: fine on one machine for a demo, but every session link stops working at a
 * restart, and on another instance. Set it (the same on every instance) wherever payers pay.
 */
export function checkoutProviders(config: Pick<AppConfig, 'checkoutSecret' | 'checkoutGraceSeconds' | 'apiKeys'>): Provider[] {
  const options: CheckoutOptions = { graceSeconds: config.checkoutGraceSeconds };
  return [
    {
      provide: CHECKOUT_TOKENS,
      useFactory: () => {
        if (config.checkoutSecret !== null) return new HmacCheckoutTokens(config.checkoutSecret);
        const logger = new Logger('Checkout');
        const why = 'checkout session links end at a restart and do not work on other instances';
        if (config.apiKeys !== null) logger.warn(`CHECKOUT_SECRET is not set while API_KEYS is: a random key signs checkout sessions, so ${why}; set CHECKOUT_SECRET (32+ characters) in production`);
        else logger.warn(`CHECKOUT_SECRET is not set: a random key signs checkout sessions (${why})`);
        return new HmacCheckoutTokens(randomBytes(32).toString('base64url'));
      },
    },
    { provide: CHECKOUT_OPTIONS, useValue: options },
    CheckoutSessions,
  ];
}

/** Whether a URL is one of this service's checkout pages (`{PUBLIC_BASE_URL}/checkout/...`): where session payments bring payers back. */
export function isCheckoutPageUrl(url: string, publicBaseUrl: string): boolean {
  return sameOrigin(url, publicBaseUrl) && url.startsWith(`${publicBaseUrl.replace(/\/+$/, '')}/checkout/`);
}
