/** The hosted checkout's HTML: its page, and the pages a payer sees when its link does not work. */
import type { CheckoutState } from '../../application/checkout/checkout-sessions.js';
import { CHANNEL_NAMES, CHECKOUT_TEXT, fill, formatMoney, type Locale } from './i18n.js';
import { escapeHtml, messagePage, renderPage } from './layout.js';

/** From /checkout/{token}: where the assets are. */
const ASSETS = 'assets/';

const LANGUAGES: readonly { locale: Locale; label: string }[] = [
  { locale: 'zh-CN', label: '中文' },
  { locale: 'en', label: 'English' },
];

/**
 * The page's shell: what the order is, and every part the script may show, all hidden. No button
 * is in it: the script adds the channels' buttons only once the service said the order may be paid.
 */
export function checkoutPage(token: string, state: CheckoutState, locale: Locale): string {
  const text = CHECKOUT_TEXT[locale];
  const data = `id="checkout" data-token="${escapeHtml(token)}" data-text="${escapeHtml(JSON.stringify(text))}" data-channels="${escapeHtml(JSON.stringify(CHANNEL_NAMES[locale]))}"`;
  const languages = LANGUAGES.map(
    ({ locale: other, label }) => `<a href="?lang=${other}" lang="${other}" hreflang="${other}"${other === locale ? ' aria-current="true"' : ''}>${label}</a>`,
  ).join('');
  const main = `<nav class="lang" aria-label="${escapeHtml(text.language)}">${languages}</nav>
<header class="summary">
<h1>${escapeHtml(text.title)}</h1>
<p class="amount">${escapeHtml(formatMoney(state.amount, state.currency, locale))}</p>
${state.description === null ? '' : `<p>${escapeHtml(state.description)}</p>\n`}<p class="ref">${escapeHtml(fill(text.order, { orderId: state.orderId }))}</p>
<p id="countdown" class="countdown" hidden></p>
</header>
<p id="status" class="status" role="status" aria-live="polite">${escapeHtml(text.checking)}</p>
<noscript><p class="note">${escapeHtml(text.noScript)}</p></noscript>
<section id="pay" aria-labelledby="choose" hidden>
<h2 id="choose">${escapeHtml(text.choose)}</h2>
<div id="channels" class="channels"></div>
<p id="pay-note" class="note" role="status" hidden></p>
</section>
<section id="result" class="result" aria-live="polite" hidden>
<div class="mark" aria-hidden="true"></div>
<h2 id="result-title"></h2>
<p id="result-text"></p>
<p id="result-note" class="muted" hidden></p>
<a id="back" class="button" hidden>${escapeHtml(text.backToShop)}</a>
</section>
<div id="dialog" class="overlay" hidden>
<div class="dialog" role="dialog" aria-modal="true" aria-labelledby="dialog-title" aria-describedby="dialog-text">
<h2 id="dialog-title">${escapeHtml(text.dialogTitle)}</h2>
<p id="dialog-text"></p>
<p id="dialog-status" class="muted" role="status" aria-live="polite"></p>
<div class="actions"><button id="yes" type="button">${escapeHtml(text.yes)}</button><button id="no" type="button" class="secondary">${escapeHtml(text.no)}</button></div>
</div>
</div>`;
  return renderPage({ locale, title: text.title, main, assets: ASSETS, script: 'checkout.js', mainAttributes: data });
}

/** A link that is not a session (`invalid`), a session that ended (`ended`), or a failure of ours (`error`). */
export function sessionProblemPage(kind: 'invalid' | 'ended' | 'error', locale: Locale): string {
  const text = CHECKOUT_TEXT[locale];
  return messagePage({ locale, assets: ASSETS, tone: 'bad', title: text[`${kind}Title`], text: [text[`${kind}Text`]] });
}
