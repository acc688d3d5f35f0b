/**
 * WeChat Pay API v3 wire formats: the WECHATPAY2-SHA256-RSA2048 request signature, the
 * SHA256withRSA signature of answers and notifications, AEAD_AES_256_GCM resources, and
 * RFC 3339 times in China time.
 */
import { createDecipheriv, createSign, createVerify, randomBytes, type KeyObject } from 'node:crypto';

export const AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';

/** `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`: URL is the path with its query; BODY empty for a GET. */
export function requestMessage(method: string, pathAndQuery: string, timestamp: string, nonce: string, body: string): string {
  return `${method}\n${pathAndQuery}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** `TIMESTAMP\nNONCE\nBODY\n`, what WeChat Pay signs on its answers and notifications. */
export function answerMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

export interface Merchant {
  readonly mchid: string;
  readonly serialNo: string;
  readonly privateKey: KeyObject;
}

/** The Authorization header of one request. */
export function authorization(merchant: Merchant, method: string, pathAndQuery: string, body: string, now: Date): string {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const nonce = randomBytes(16).toString('hex').toUpperCase();
  const signature = createSign('RSA-SHA256').update(requestMessage(method, pathAndQuery, timestamp, nonce, body)).sign(merchant.privateKey, 'base64');
  const fields = { mchid: merchant.mchid, nonce_str: nonce, signature, timestamp, serial_no: merchant.serialNo };
  return `${AUTH_SCHEMA} ${Object.entries(fields).map(([name, value]) => `${name}="${value}"`).join(',')}`;
}

export interface SignedHeaders {
  readonly serial: string | undefined;
  readonly timestamp: string | undefined;
  readonly nonce: string | undefined;
  readonly signature: string | undefined;
  readonly signatureType?: string | undefined;
}

export type SignatureCheck = { readonly valid: true } | { readonly valid: false; readonly reason: string };

/**
 * Checks Wechatpay-Signature over the exact body with the platform key, that Wechatpay-Serial
 * names that key, and (when `toleranceSeconds` is given) that Wechatpay-Timestamp is recent.
 */
export function verifySigned(
  headers: SignedHeaders,
  body: string,
  platform: { readonly serial: string; readonly publicKey: KeyObject },
  now: Date,
  toleranceSeconds?: number,
): SignatureCheck {
  const { serial, timestamp, nonce, signature, signatureType } = headers;
  if (!serial || !timestamp || !nonce || !signature) return { valid: false, reason: 'Wechatpay-Serial, -Timestamp, -Nonce or -Signature missing' };
  if (signatureType !== undefined && signatureType !== AUTH_SCHEMA) return { valid: false, reason: `signature type ${signatureType}` };
  if (serial !== platform.serial) return { valid: false, reason: `Wechatpay-Serial ${serial} is not the configured platform key` };
  if (!/^\d{1,12}$/.test(timestamp)) return { valid: false, reason: 'Wechatpay-Timestamp is not unix seconds' };
  if (toleranceSeconds !== undefined && Math.abs(now.getTime() / 1000 - Number(timestamp)) > toleranceSeconds) {
    return { valid: false, reason: `Wechatpay-Timestamp is more than ${toleranceSeconds} s away` };
  }
  const verifier = createVerify('RSA-SHA256').update(answerMessage(timestamp, nonce, body));
  return verifier.verify(platform.publicKey, signature, 'base64') ? { valid: true } : { valid: false, reason: 'Wechatpay-Signature does not verify' };
}

export interface EncryptedResource {
  readonly algorithm: string;
  readonly ciphertext: string;
  readonly nonce: string;
  readonly associated_data?: string;
  readonly original_type?: string;
}

/** AEAD_AES_256_GCM with the APIv3 key: base64 ciphertext whose last 16 bytes are the tag. */
export function decryptResource(resource: EncryptedResource, apiV3Key: string): string {
  if (resource.algorithm !== 'AEAD_AES_256_GCM') throw new Error(`algorithm ${resource.algorithm}`);
  const data = Buffer.from(resource.ciphertext, 'base64');
  if (data.length <= 16) throw new Error('ciphertext too short');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(resource.nonce, 'utf8'));
  decipher.setAuthTag(data.subarray(data.length - 16));
  decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
  return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
}

/** RFC 3339 in China time, as time_expire wants it: 2026-11-26T18:00:00+08:00. */
export function rfc3339China(instant: Date | string): string {
  const shifted = new Date(new Date(instant).getTime() + 8 * 3600 * 1000);
  return `${shifted.toISOString().slice(0, 19)}+08:00`;
}

/** An RFC 3339 time with an offset (WeChat Pay's success_time) as ISO 8601 UTC; null when it isn't one. */
export function isoFromRfc3339(text: unknown): string | null {
  if (typeof text !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** Cuts a UTF-8 string to at most `bytes` bytes without splitting a character (description is string(127)). */
export function truncateUtf8(text: string, bytes: number): string {
  let out = '';
  let used = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (used + size > bytes) break;
    out += char;
    used += size;
  }
  return out;
}

/**
 * Error codes of a 4xx answer to POST /v3/refund/domestic/refunds that the same out_refund_no can
 * never get past: the request breaks a rule (INVALID_REQUEST: not refundable, more than is left...),
 * is malformed, names a trade WeChat Pay doesn't have or that isn't paid, or the merchant or
 * payer account can't take it. NOT_ENOUGH (the merchant's balance), FREQUENCY_LIMITED and
 * SYSTEM_ERROR clear up by themselves; so, until known otherwise, does any code not listed here
 * (REFUND_MAX_ATTEMPTS still bounds the retries).
 */
const FINAL_REFUND_ERRORS = new Set([
  'INVALID_REQUEST',
  'PARAM_ERROR',
  'RESOURCE_NOT_EXISTS',
  'ORDER_NOT_EXIST',
  'USER_ACCOUNT_ABNORMAL',
  'MCH_NOT_EXISTS',
  'NO_AUTH',
  'SIGN_ERROR',
]);

export function isFinalRefundError(code: unknown): boolean {
  return typeof code === 'string' && FINAL_REFUND_ERRORS.has(code);
}
