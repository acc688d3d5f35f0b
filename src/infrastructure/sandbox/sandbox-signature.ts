/**
 * The sandbox provider's notification signature:
 * `Sandbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
 * The timestamp is signed with the body, so a captured notification can't be replayed
 * outside the tolerance window.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SANDBOX_SIGNATURE_HEADER = 'Sandbox-Signature';
export const SANDBOX_SIGNATURE_TOLERANCE_SECONDS = 300;

export type SignatureCheck =
  | { readonly valid: true; readonly timestamp: number }
  | { readonly valid: false; readonly reason: 'missing' | 'malformed' | 'out-of-tolerance' | 'mismatch' };

const HEX_SHA256 = /^[0-9a-f]{64}$/;

function hmacHex(secret: string, timestamp: number, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

/** The header value for `rawBody`, signed at `now`. */
export function signSandboxBody(secret: string, rawBody: string | Buffer, now: Date): string {
  const timestamp = Math.floor(now.getTime() / 1000);
  return `t=${timestamp},v1=${hmacHex(secret, timestamp, rawBody)}`;
}

/** Checks a header value against the exact bytes received; `now` is the receiver's clock. */
export function verifySandboxSignature(
  secret: string,
  header: string | undefined,
  rawBody: string | Buffer,
  now: Date,
  toleranceSeconds = SANDBOX_SIGNATURE_TOLERANCE_SECONDS,
): SignatureCheck {
  if (!header) return { valid: false, reason: 'missing' };

  let timestamp: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2);
    if (key === 't' && value !== undefined && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    // Several v1 values are allowed, so the provider could rotate its secret without downtime.
    if (key === 'v1' && value !== undefined && HEX_SHA256.test(value)) candidates.push(value);
  }
  if (timestamp === undefined || candidates.length === 0) return { valid: false, reason: 'malformed' };

  // Both directions: a timestamp from the future is as suspect as a stale one.
  if (Math.abs(now.getTime() / 1000 - timestamp) > toleranceSeconds) {
    return { valid: false, reason: 'out-of-tolerance' };
  }

  const expected = Buffer.from(hmacHex(secret, timestamp, rawBody), 'hex');
  const matches = candidates.some((candidate) => timingSafeEqual(expected, Buffer.from(candidate, 'hex')));
  return matches ? { valid: true, timestamp } : { valid: false, reason: 'mismatch' };
}
