import { createHash } from 'node:crypto';
import { InvalidRequest } from '../../application/shared/errors.js';
import type { Viewer } from '../../application/shared/viewer.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Set on an answer that is a stored one sent again. */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/**
 * The POSTs that take an Idempotency-Key: every POST of the merchant and operator API. Not the
 * channels' notifications, the payer's pages (hosted checkout, sandbox pay page) nor the sandbox
 * provider's own API: those are called by providers and browsers and are idempotent by their own
 * ids (a notification id, a payment attempt reused per channel).
 */
const NOT_COVERED = [/^\/channels\//i, /^\/sandbox(\/|$)/i, /^\/checkout\//i];

export function takesIdempotencyKey(method: string, path: string): boolean {
  return method === 'POST' && !NOT_COVERED.some((pattern) => pattern.test(path));
}

/** 1 to 255 printable ASCII characters (a UUID is the usual choice). */
const KEY = /^[\x20-\x7e]{1,255}$/;

/** The header's value, or `400 validation` naming it. */
export function checkIdempotencyKey(value: string | string[]): string {
  const key = Array.isArray(value) ? value.join(', ') : value;
  if (!KEY.test(key)) {
    throw new InvalidRequest([{ field: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters (e.g. a UUID)' }]);
  }
  return key;
}

/** Whose keys these are: each merchant has its own; operators share one space, and so does the open service. */
export function idempotencyScope(viewer: Viewer): string {
  return viewer.kind === 'merchant' ? `merchant:${viewer.merchantId}` : viewer.kind;
}

/**
 * What a request asks, as a hash: method, path and the body in canonical JSON (keys sorted at
 * every level), so the same fields in another order or with other spacing are the same request.
 */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  const canonical = body === undefined ? '' : canonicalJson(body);
  return createHash('sha256').update(`${method} ${path}\n${canonical}`).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
