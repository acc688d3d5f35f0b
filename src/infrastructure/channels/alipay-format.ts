/**
 * Alipay OpenAPI (v2 gateway) wire formats that Payguard needs beside alipay-sdk: amounts in
 * yuan, China-time timestamps, and the RSA2 check of signed key=value parameters (notifications
 * and the payer's return).
 */
import { createVerify, type KeyObject } from 'node:crypto';
import { formatMinorUnits, parseMinorUnits } from '../../domain/shared/currencies.js';

/** Integer fen to Alipay's yuan string with two decimals (1999 -> "19.99"), by the currency table, without floats. */
export function yuanFromFen(fen: number): string {
  return formatMinorUnits(fen, 'CNY');
}

/** Alipay's yuan string back to integer fen; null when it is not a plain amount with at most two decimals. */
export function fenFromYuan(yuan: unknown): number | null {
  return parseMinorUnits(yuan, 'CNY');
}

const CHINA_OFFSET_MS = 8 * 3600 * 1000;

/** `yyyy-MM-dd HH:mm:ss` in China time (UTC+8, no daylight saving): Alipay's timestamp and time_expire. */
export function chinaTime(instant: Date | string): string {
  const shifted = new Date(new Date(instant).getTime() + CHINA_OFFSET_MS);
  return shifted.toISOString().slice(0, 19).replace('T', ' ');
}

/** Alipay's `yyyy-MM-dd HH:mm:ss` China time as ISO 8601 UTC; null when it isn't one. */
export function isoFromChinaTime(text: unknown): string | null {
  if (typeof text !== 'string' || !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text)) return null;
  const ms = Date.parse(`${text.replace(' ', 'T')}+08:00`);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/**
 * The content Alipay signs for notifications and returns: every parameter but `sign` and
 * `sign_type`, empty values left out, sorted by name, as `name=value` joined by `&` (values
 * as received, url-decoded once).
 */
export function signedContent(params: ReadonlyMap<string, string>): string {
  return [...params.entries()]
    .filter(([name, value]) => name !== 'sign' && name !== 'sign_type' && value !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

export type SignedParamsCheck = { readonly valid: true } | { readonly valid: false; readonly reason: string };

/** RSA2 (SHA256withRSA) over signedContent, with Alipay's public key. Only RSA2 is accepted. */
export function verifySignedParams(params: ReadonlyMap<string, string>, alipayPublicKey: KeyObject): SignedParamsCheck {
  const signature = params.get('sign');
  if (signature === undefined || signature === '') return { valid: false, reason: 'no sign' };
  const signType = params.get('sign_type');
  if (signType !== undefined && signType !== 'RSA2') return { valid: false, reason: `sign_type ${signType} is not RSA2` };
  const verifier = createVerify('RSA-SHA256').update(signedContent(params), 'utf8');
  return verifier.verify(alipayPublicKey, signature, 'base64') ? { valid: true } : { valid: false, reason: 'sign does not verify' };
}

/** Form or query parameters; a name given twice is refused (which one was signed?). */
export function uniqueParams(entries: Iterable<[string, string]>): Map<string, string> | null {
  const params = new Map<string, string>();
  for (const [name, value] of entries) {
    if (params.has(name)) return null;
    params.set(name, value);
  }
  return params;
}

/**
 * How Payguard reads an alipay.trade.refund refusal. `unavailable`: Alipay could not answer
 * (system errors, code 20000), so the call is retried like a network error. `retry`: Alipay
 * answered but may say yes later with the same request (the merchant's balance is short).
 * `final`: the same out_request_no can never succeed (no such trade, not paid, closed or finished,
 * amount over what is left, out_request_no reused with other terms...); an operator must look.
 * A sub_code not listed here is `retry`: only what is known to be hopeless is given up at once,
 * and REFUND_MAX_ATTEMPTS still bounds the rest.
 */
export type AlipayRefusal = 'unavailable' | 'retry' | 'final';

const FINAL_REFUND_SUB_CODES = new Set([
  'ACQ.TRADE_NOT_EXIST',
  'ACQ.TRADE_STATUS_ERROR',
  'ACQ.TRADE_HAS_CLOSE',
  'ACQ.TRADE_HAS_FINISHED',
  'ACQ.TRADE_NOT_ALLOW_REFUND',
  'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL',
  'ACQ.REFUND_FEE_ERROR',
  'ACQ.REASON_TRADE_REFUND_FEE_ERR',
  'ACQ.DISCORDANT_REPEAT_REQUEST',
  'ACQ.INVALID_PARAMETER',
  // A frozen trade waits for Alipay's staff, not for a retry.
  'ACQ.REASON_TRADE_BEEN_FREEZEN',
]);

const RETRY_REFUND_SUB_CODES = new Set(['ACQ.SELLER_BALANCE_NOT_ENOUGH']);

/** Gateway codes about the request itself (missing or invalid arguments, permissions): it stays wrong. */
const FINAL_GATEWAY_CODES = new Set(['20001', '40001', '40002', '40006']);

export function classifyRefundRefusal(code: unknown, subCode: unknown): AlipayRefusal {
  const sub = typeof subCode === 'string' ? subCode : '';
  // ACQ.SYSTEM_ERROR, isp/aop/isv SYSTEM_ERROR and isp.unknow-error: "call again with the same parameters".
  if (code === '20000' || /\.SYSTEM_ERROR$/i.test(sub) || /\.unknow(n)?-error$/i.test(sub)) return 'unavailable';
  if (RETRY_REFUND_SUB_CODES.has(sub)) return 'retry';
  if (FINAL_REFUND_SUB_CODES.has(sub) || FINAL_GATEWAY_CODES.has(String(code))) return 'final';
  return 'retry';
}
