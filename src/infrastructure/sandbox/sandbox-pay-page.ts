/** The sandbox's pages for the payer (the pay page and its stylesheet): text in zh-CN and en, markup, money as the payer reads it. */
import { headerOf, type HttpRequest } from '../http/http-types.js';
import { formatMinorUnits } from '../../domain/shared/currencies.js';

/** What a sandbox route answers: a status and a body (JSON unless `type` says otherwise), or a redirect. */
export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly type?: string;
  readonly location?: string;
}

/** The payer's page in Chinese (zh-CN) or English: `?lang=`, else Accept-Language, else English. */
export type PayerLocale = 'zh-CN' | 'en';

export function payerLocale(req: HttpRequest): PayerLocale {
  const lang = req.query.lang;
  const asked = typeof lang === 'string' ? lang.toLowerCase() : '';
  if (asked.startsWith('zh')) return 'zh-CN';
  if (asked.startsWith('en')) return 'en';
  const first = (headerOf(req, 'accept-language') ?? '')
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .find((tag) => tag.startsWith('zh') || tag.startsWith('en'));
  return first?.startsWith('zh') ? 'zh-CN' : 'en';
}

export const PAY_PAGE_TEXT = {
  en: {
    bank: 'Sandbox Bank',
    wallet: 'Sandbox Wallet',
    pay: 'Pay',
    decline: 'Decline',
    back: 'Back to the merchant',
    reference: 'Payment {payment} · trade {trade}',
    paid: 'This payment has already been made. Nothing more will be charged.',
    closed: 'This payment was cancelled by the merchant and can no longer be paid.',
    expired: 'The time to pay has run out. This payment can no longer be paid.',
    failed: 'This payment was declined and can no longer be paid.',
    unknownTitle: 'Unknown payment',
    unknownText: 'There is no such payment.',
  },
  'zh-CN': {
    bank: '沙箱银行',
    wallet: '沙箱钱包',
    pay: '支付',
    decline: '拒绝',
    back: '返回商家',
    reference: '支付 {payment} · 交易 {trade}',
    paid: '这笔款项已支付，不会重复扣款。',
    closed: '商家已取消这笔支付，无法再支付。',
    expired: '支付时间已结束，这笔支付无法再支付。',
    failed: '这笔支付未成功，无法再支付。',
    unknownTitle: '未知的支付',
    unknownText: '找不到这笔支付。',
  },
} as const satisfies Record<PayerLocale, Record<string, string>>;

export function html(status: number, body: string): Reply {
  return { status, body, type: 'text/html' };
}

export function unknownPaymentPage(locale: PayerLocale): Reply {
  const text = PAY_PAGE_TEXT[locale];
  return html(404, page(locale, text.unknownTitle, `<p>${escapeHtml(text.unknownText)}</p>`));
}

/** From /sandbox/pay/{paymentId}: the stylesheet at /sandbox/assets/pay.css (relative, so a gateway under a path prefix works). */
export function page(locale: PayerLocale, title: string, content: string): string {
  return `<!doctype html>
<html lang="${locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="../assets/pay.css"></head>
<body><main><h1>${escapeHtml(title)}</h1>${content}</main></body></html>`;
}

export const PAY_PAGE_CSS = `*{box-sizing:border-box}
body{margin:0;min-height:100vh;background:#f3f5f4;color:#1f2622;font:16px/1.5 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;display:flex;justify-content:center;align-items:flex-start;padding:2rem 1rem}
main{width:100%;max-width:26rem;background:#fff;border:1px solid #dde3df;border-radius:14px;padding:1.5rem;box-shadow:0 6px 24px rgba(20,40,30,.08)}
h1{font-size:1.2rem;margin:0 0 .5rem}
.amount{font-size:2rem;font-weight:700;margin:.25rem 0}
.ref{color:#5f6b64;font-size:.85rem}
.notice{padding:.75rem;background:#fff4e5;color:#7a4a00;border-radius:8px}
form{display:grid;gap:.6rem;margin-top:1rem}
button,.button{display:block;width:100%;font:inherit;font-weight:600;text-align:center;text-decoration:none;padding:.8rem 1rem;border:1px solid #1a7f37;border-radius:10px;background:#1a7f37;color:#fff;cursor:pointer}
button.secondary,.button.secondary{background:#fff;color:#1a7f37}
`;

/** Minor units shown with the currency's own number of decimals (JPY has none). */
/** The amount for the payer, from its exact decimal text (no float division of minor units). */
export function formatMoney(amount: number, currency: string, locale: PayerLocale): string {
  const format = new Intl.NumberFormat(locale, { style: 'currency', currency });
  // Intl formats a decimal string exactly (ES2023); the lib typing here still says number.
  return format.format(formatMinorUnits(amount, currency) as unknown as number);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
