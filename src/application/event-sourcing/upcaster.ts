import { isPayguardEventType, type PayguardEvent } from '../../domain/events.js';
import type { RecordedEvent } from '../ports/event-store.port.js';

/** A recorded event of a type this release knows, its data in the current shape and typed by its `type`. */
export type StoredEvent = Omit<RecordedEvent, 'type' | 'data'> & PayguardEvent;

/**
 * The one place older event shapes become current ones, on read; stored history is never
 * rewritten. Each step takes one schema version to the next and is keyed by version and type.
 * `metadata.schemaVersion` keeps the version the event was written in (what an auditor sees in
 * the store); `data` always comes out in the current shape, and upcasting it again changes nothing.
 *
 * Schema version 0 (written before merchants and flat money; see test/fixtures/schema-v0.ndjson):
 * - money was a nested value, `price: { amount, currency }`, on every event that carries money;
 * - `OrderPlaced` had no `merchantId` (one merchant per installation) and no `requestedExpiry`
 *   (only the resulting `expiresAt`), and `description` could be absent.
 * Version 1: flat `amount` and `currency`; `OrderPlaced` with `merchantId` (null: no merchant,
 * as when the service runs without API keys) and `requestedExpiry`.
 * Version 2 (current): refunds have an end. `RefundFailed` says whether it is `final` (every v1
 * failure was a transient one, retried at its retryAt); `RefundSucceeded` carries the
 * `requestedAmount` beside the refunded `amount` (in v1 a success was always the whole amount).
 * `PaymentInitiated`, `PaymentSucceeded` and `RefundSucceeded` name the merchant of their order (`merchantId`); in
 * v1 order ids were not scoped by merchant, so null (the order's stream is `order-{orderId}`).
 */
/**
 * The one place a stored event becomes a typed one: upcast to the current shape, then its type
 * checked against the domain's list. Null for a type this release does not know (a reader decides
 * whether that is an error: the deciders and the verifier say so, the read models skip it).
 */
export function narrow(recorded: RecordedEvent): StoredEvent | null {
  const event = upcast(recorded);
  // The data is trusted to match its type: every event was written by a decider of this or an
  // earlier release, and upcast has just brought earlier shapes to the current one.
  return isPayguardEventType(event.type) ? (event as unknown as StoredEvent) : null;
}

export function upcast(event: RecordedEvent): RecordedEvent {
  const version = event.metadata.schemaVersion;
  if (version >= 2) return event;
  const v1 = version >= 1 ? event.data : v0ToV1(event.type, event.data);
  return { ...event, data: v1ToV2(event.type, v1) };
}

function v1ToV2(type: string, data: Record<string, unknown>): Record<string, unknown> {
  if (type === 'RefundFailed') return { ...data, final: data.final ?? false };
  if (type === 'RefundSucceeded') return { ...data, requestedAmount: data.requestedAmount ?? data.amount, merchantId: data.merchantId ?? null };
  if (type === 'PaymentInitiated' || type === 'PaymentSucceeded') return { ...data, merchantId: data.merchantId ?? null };
  return data;
}

interface V0Money {
  readonly amount: number;
  readonly currency: string;
}

function v0ToV1(type: string, data: Record<string, unknown>): Record<string, unknown> {
  const { price, ...rest } = data as { price?: V0Money } & Record<string, unknown>;
  const flat: Record<string, unknown> =
    price !== undefined && typeof price === 'object' && price !== null ? { ...rest, amount: price.amount, currency: price.currency } : data;
  if (type !== 'OrderPlaced') return flat;
  return {
    ...flat,
    // A v0 order belonged to the installation's only merchant: no merchant id, like an order placed without API keys.
    merchantId: flat.merchantId ?? null,
    // The caller's original request is not known any more; its outcome, the deadline, is.
    requestedExpiry: flat.requestedExpiry ?? { expiresAt: flat.expiresAt },
    description: flat.description ?? null,
  };
}
