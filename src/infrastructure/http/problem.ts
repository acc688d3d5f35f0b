import type { FieldError } from '../../application/shared/errors.js';

export type { FieldError };

/** RFC 9457 problem documents: every error the API returns has this shape. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly errors?: readonly FieldError[];
  readonly [extension: string]: unknown;
}

export const PROBLEM_BASE = 'https://payguard.dev/problems/';

const TITLES: Record<string, [number, string]> = {
  validation: [400, 'The request is not valid'],
  unauthorized: [401, 'Authentication required'],
  'bad-signature': [401, 'The notification signature is not valid'],
  forbidden: [403, 'Not allowed for this key'],
  'not-found': [404, 'Not found'],
  'order-conflict': [409, 'The order exists with other details'],
  'order-not-payable': [409, 'The order can no longer be paid'],
  'order-not-closable': [409, 'The order can no longer be closed'],
  'payment-not-refundable': [409, 'The payment cannot be refunded'],
  'refund-not-requested': [409, 'No such refund was requested'],
  'refund-not-resolvable': [409, 'The refund cannot be resolved'],
  'concurrency-conflict': [409, 'Too many concurrent changes; retry'],
  'idempotency-conflict': [409, 'The Idempotency-Key was used for another request'],
  'idempotency-in-flight': [409, 'A request with this Idempotency-Key is still running'],
  'payload-too-large': [413, 'The body is larger than 64 KiB'],
  'unsupported-media-type': [415, 'The body must be application/json'],
  'validity-too-short': [422, 'Too little validity left to pay'],
  'amount-mismatch': [422, 'The amount does not match the payment'],
  'channel-unavailable': [503, 'The payment channel cannot be reached'],
  'not-ready': [503, 'The service is not ready'],
  internal: [500, 'Internal error'],
};

/** Every slug this service answers with (the `<slug>` of `type`), each served as a page at `/problems/<slug>`. */
export const PROBLEM_SLUGS: readonly string[] = Object.freeze(Object.keys(TITLES));

/** The status and title of a slug, or undefined for one this service does not know. */
export function problemTitle(slug: string): { readonly status: number; readonly title: string } | undefined {
  if (!Object.hasOwn(TITLES, slug)) return undefined;
  const [status, title] = TITLES[slug];
  return { status, title };
}

export function problem(slug: string, detail: string, extensions: Record<string, unknown> = {}): Problem {
  const [status, title] = TITLES[slug] ?? [500, slug];
  return { type: `${PROBLEM_BASE}${slug}`, title, status, detail, ...extensions };
}
