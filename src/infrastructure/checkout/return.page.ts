/**
 * The channels' return page (GET /channels/{channel}/return), for a payment that has no returnUrl
 * to send its payer on to, and for a payment it does not know. Its wording follows what is known
 * now: paid, declined, cancelled, still pending (it checks again by itself), or the order ended.
 */
import type { OrderStatus } from '../../domain/order/order.events.js';
import type { PaymentStatus } from '../../domain/payment/payment.events.js';
import { CHECKOUT_TEXT, RETURN_TEXT, fill, type Locale } from './i18n.js';
import { escapeHtml, messagePage } from './layout.js';

/** From /channels/{channel}/return: where the checkout's assets are. */
const ASSETS = '../../checkout/assets/';
/** A pending payment's page asks the channel again this often (a meta refresh: no script). */
export const RETURN_REFRESH_SECONDS = 5;

export interface ReturnFacts {
  readonly orderId: string;
  readonly paymentId: string;
  readonly orderStatus: OrderStatus;
  readonly paymentStatus: PaymentStatus;
  /** This payment paid the order (or, recorded a moment ago, is about to: see paysPendingOrder). */
  readonly paidTheOrder: boolean;
}

export function returnPage(facts: ReturnFacts, locale: Locale): string {
  const text = RETURN_TEXT[locale];
  const { orderId, paymentId, orderStatus, paymentStatus, paidTheOrder } = facts;
  // The reference, and the raw statuses for support staff (and programs reading the page).
  const footerHtml =
    `${escapeHtml(fill(text.reference, { orderId, paymentId }))} · ` +
    `<strong data-order-status>${escapeHtml(orderStatus)}</strong> / <strong data-payment-status>${escapeHtml(paymentStatus)}</strong>`;
  const page = (tone: 'ok' | 'wait' | 'ended' | 'bad', title: string, line: string, refresh = false) =>
    messagePage({
      locale,
      assets: ASSETS,
      tone,
      title,
      text: [line],
      footerHtml,
      ...(refresh && { refreshSeconds: RETURN_REFRESH_SECONDS, link: { href: '', label: text.checkAgain } }),
    });
  if (paymentStatus === 'succeeded') {
    if (paidTheOrder) return page('ok', text.paidTitle, fill(text.paidText, { orderId }));
    if (orderStatus === 'paid') return page('wait', text.paidByOtherTitle, text.paidByOtherText);
    return page('wait', text.notKeptTitle, text.notKeptText);
  }
  if (orderStatus === 'paid') return page('ended', text.paidByOtherTitle, text.endedText);
  if (paymentStatus === 'failed') return page('bad', text.declinedTitle, text.declinedText);
  if (paymentStatus === 'closed') return page('ended', text.cancelledTitle, text.cancelledText);
  if (orderStatus === 'expired') return page('ended', text.expiredTitle, text.endedText);
  if (orderStatus === 'closed') return page('ended', text.closedTitle, text.endedText);
  return page('wait', text.pendingTitle, text.pendingText, true);
}

/** A payment the service does not know (or a return it cannot read): never a raw error document. */
export function unknownPaymentPage(locale: Locale): string {
  const text = RETURN_TEXT[locale];
  return messagePage({ locale, assets: ASSETS, tone: 'bad', title: text.unknownTitle, text: [text.unknownText] });
}

export function returnErrorPage(locale: Locale): string {
  const text = CHECKOUT_TEXT[locale];
  return messagePage({ locale, assets: ASSETS, tone: 'bad', title: text.errorTitle, text: [text.errorText] });
}
