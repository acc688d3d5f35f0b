/**
 * What the payer reads, in Chinese (zh-CN) and English: the hosted checkout, its error pages and
 * the channels' return page. `{name}` marks a value filled in where the text is used.
 */
import { CHECKOUT_LOCALES, type CheckoutLocale } from '../../application/checkout/checkout-tokens.port.js';

export type Locale = CheckoutLocale;

/** A supported locale for a language tag (`zh`, `zh-Hans-CN`, `en-GB`...), or null. */
export function localeOf(tag: string | null | undefined): Locale | null {
  const lower = tag?.trim().toLowerCase() ?? '';
  if (lower === 'zh' || lower.startsWith('zh-')) return 'zh-CN';
  if (lower === 'en' || lower.startsWith('en-')) return 'en';
  return null;
}

/** The payer's choice (`?lang=`) first, then the shop's (the session's locale), then the browser's (Accept-Language), else English. */
export function chooseLocale(choices: { query?: unknown; session?: Locale | null; acceptLanguage?: string }): Locale {
  const asked = typeof choices.query === 'string' ? localeOf(choices.query) : null;
  return asked ?? choices.session ?? fromAcceptLanguage(choices.acceptLanguage ?? '') ?? 'en';
}

function fromAcceptLanguage(header: string): Locale | null {
  const ranked = header
    .split(',')
    .map((part, index) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.map((param) => /^\s*q=([0-9.]+)\s*$/.exec(param)?.[1]).find((value) => value !== undefined);
      return { locale: localeOf(tag), q: q === undefined ? 1 : Number(q), index };
    })
    .filter((entry) => entry.locale !== null && entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  return ranked[0]?.locale ?? null;
}

export function isLocale(value: unknown): value is Locale {
  return CHECKOUT_LOCALES.includes(value as Locale);
}

/** Channel names as payers know them; a channel missing here is shown by its id. */
export const CHANNEL_NAMES: Record<Locale, Record<string, string>> = {
  en: { 'sandbox-bank': 'Sandbox Bank', 'sandbox-wallet': 'Sandbox Wallet', alipay: 'Alipay', wechatpay: 'WeChat Pay' },
  'zh-CN': { 'sandbox-bank': '沙箱银行', 'sandbox-wallet': '沙箱钱包', alipay: '支付宝', wechatpay: '微信支付' },
};

const CHECKOUT_EN = {
  title: 'Pay for your order',
  order: 'Order {orderId}',
  language: 'Language',
  noScript: 'This page needs JavaScript to take your payment.',
  checking: 'Checking your order…',
  choose: 'Choose how to pay',
  timeLeft: 'Time left to pay: {time}',
  tooLate: 'Less than {seconds} seconds are left: a payment can no longer be started.',
  opening: 'Taking you to {channel}…',
  declined: 'Your payment with {channel} was declined. Nothing was charged; you can try again.',
  cancelled: 'Your payment with {channel} was cancelled. Nothing was charged; you can choose again.',
  switchNote: 'You started paying with {channel}. Choosing another way to pay cancels that payment.',
  unavailable: 'The payment could not be started right now. Please try again in a moment.',
  offline: 'We cannot reach the payment service. Trying again…',
  dialogTitle: 'Have you already completed the payment?',
  dialogText: 'You started paying with {channel}. If you completed it, we will ask {channel} for the result. Otherwise, pay now.',
  yes: 'Yes, I have paid',
  no: 'No, pay now',
  syncing: 'Asking {channel} for the result…',
  notArrived: 'Your payment has not arrived from {channel} yet. We keep checking; this can take a minute.',
  stillNotArrived: 'Still no payment from {channel}. If you paid, it will show here as soon as {channel} confirms it: do not pay again.',
  paidTitle: 'Payment received',
  paidText: 'Thank you. Order {orderId} is paid.',
  expiredTitle: 'This order has expired',
  expiredText: 'The time to pay has run out. This order can no longer be paid.',
  closedTitle: 'This order was cancelled',
  closedText: 'The shop cancelled this order. It can no longer be paid.',
  refundPending: 'A payment that could not be kept is being refunded to you automatically.',
  refunded: 'A payment that could not be kept has been refunded to you.',
  backToShop: 'Back to the shop',
  invalidTitle: 'This payment link is not valid',
  invalidText: 'Check the link the shop gave you, or go back to the shop and start again.',
  endedTitle: 'This payment link has expired',
  endedText: 'Go back to the shop to see your order.',
  errorTitle: 'Something went wrong',
  errorText: 'Please try again in a moment.',
};

/** The hosted checkout page: the server's part and the script's part (handed to it as data). */
export const CHECKOUT_TEXT: Record<Locale, Record<keyof typeof CHECKOUT_EN, string>> = {
  en: CHECKOUT_EN,
  'zh-CN': {
    title: '支付订单',
    order: '订单 {orderId}',
    language: '语言',
    noScript: '此页面需要启用 JavaScript 才能完成支付。',
    checking: '正在查询订单状态…',
    choose: '请选择支付方式',
    timeLeft: '剩余支付时间：{time}',
    tooLate: '剩余时间不足 {seconds} 秒，已无法发起新的支付。',
    opening: '正在前往{channel}…',
    declined: '您通过{channel}的支付未成功，未扣款，可以重新支付。',
    cancelled: '您通过{channel}发起的支付已取消，未扣款，请重新选择支付方式。',
    switchNote: '您已通过{channel}发起支付。选择其他支付方式将关闭该笔支付。',
    unavailable: '暂时无法发起支付，请稍后重试。',
    offline: '无法连接支付服务，正在重试…',
    dialogTitle: '您是否已完成支付？',
    dialogText: '您已通过{channel}发起支付。如已完成，我们将向{channel}查询结果；如未完成，请现在支付。',
    yes: '是，我已支付',
    no: '否，现在支付',
    syncing: '正在向{channel}查询支付结果…',
    notArrived: '尚未收到{channel}的付款，我们会继续查询，可能需要一分钟。',
    stillNotArrived: '仍未收到{channel}的付款。如您已支付，{channel}确认后这里会立即显示，请勿重复支付。',
    paidTitle: '已收到付款',
    paidText: '谢谢！订单 {orderId} 已支付。',
    expiredTitle: '订单已过期',
    expiredText: '支付时间已结束，此订单无法再支付。',
    closedTitle: '订单已关闭',
    closedText: '商家已关闭此订单，无法再支付。',
    refundPending: '一笔无法保留的付款正在自动退还给您。',
    refunded: '一笔无法保留的付款已退还给您。',
    backToShop: '返回商家',
    invalidTitle: '支付链接无效',
    invalidText: '请检查商家提供的链接，或返回商家重新下单支付。',
    endedTitle: '支付链接已过期',
    endedText: '请返回商家查看您的订单。',
    errorTitle: '出错了',
    errorText: '请稍后重试。',
  },
};

export type CheckoutText = Record<keyof typeof CHECKOUT_EN, string>;

const RETURN_EN = {
  paidTitle: 'Payment received',
  paidText: 'Thank you. Order {orderId} is paid.',
  paidByOtherTitle: 'This order was already paid',
  paidByOtherText: 'This second payment will be refunded to you automatically.',
  notKeptTitle: 'This payment will be refunded',
  notKeptText: 'It could not be kept for this order (it came after the order ended, or for another amount). It will be refunded to you automatically.',
  declinedTitle: 'Payment declined',
  declinedText: 'Nothing was charged. You can go back to the shop and try again.',
  cancelledTitle: 'Payment cancelled',
  cancelledText: 'This payment was cancelled and can no longer be paid. Nothing was charged.',
  pendingTitle: 'Waiting for the payment result',
  pendingText: 'The payment provider has not confirmed your payment yet. This page checks again every few seconds; do not pay again.',
  expiredTitle: 'This order has expired',
  closedTitle: 'This order was cancelled',
  endedText: 'Nothing was charged for this payment.',
  unknownTitle: 'Unknown payment',
  unknownText: 'We do not know this payment. Check the link, or go back to the shop.',
  checkAgain: 'Check again',
  reference: 'Order {orderId} · payment {paymentId}',
};

/** The channels' return page, for a payment that has no returnUrl (or an unknown payment). */
export const RETURN_TEXT: Record<Locale, Record<keyof typeof RETURN_EN, string>> = {
  en: RETURN_EN,
  'zh-CN': {
    paidTitle: '已收到付款',
    paidText: '谢谢！订单 {orderId} 已支付。',
    paidByOtherTitle: '此订单已支付',
    paidByOtherText: '这笔重复的付款将自动退还给您。',
    notKeptTitle: '这笔付款将被退还',
    notKeptText: '这笔付款无法用于此订单（在订单结束后才到账，或金额不符），将自动退还给您。',
    declinedTitle: '支付未成功',
    declinedText: '未扣款。您可以返回商家重新支付。',
    cancelledTitle: '支付已取消',
    cancelledText: '这笔支付已取消，无法再支付，未扣款。',
    pendingTitle: '正在等待支付结果',
    pendingText: '支付机构尚未确认您的付款。本页面每隔几秒自动查询一次，请勿重复支付。',
    expiredTitle: '订单已过期',
    closedTitle: '订单已关闭',
    endedText: '这笔支付未扣款。',
    unknownTitle: '未知的支付',
    unknownText: '找不到这笔支付。请检查链接，或返回商家。',
    checkAgain: '重新查询',
    reference: '订单 {orderId} · 支付 {paymentId}',
  },
};

/** `{name}` placeholders filled from `values`. */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(values, name) ? String(values[name]) : whole));
}

/** Minor units in the payer's language, with the currency's own number of decimals (JPY has none). */
export function formatMoney(amount: number, currency: string, locale: Locale): string {
  const format = new Intl.NumberFormat(locale, { style: 'currency', currency });
  return format.format(amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
}
