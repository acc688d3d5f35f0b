/** Rows of the webhook tables as both SQL adapters read and write them. */
import type { Delivery, DeliveryStatus, FeedRow, MerchantEvent, MerchantEventType, WebhookEndpoint } from '../../application/ports/webhook-store.port.js';

/** The open service's merchant in a NOT NULL column: ids are never empty, so '' can't be a merchant's. */
export const merchantColumn = (merchantId: string | null): string => merchantId ?? '';
const merchantOf = (column: unknown): string | null => (column === '' ? null : (column as string));

export function toEndpoint(row: Record<string, unknown>): WebhookEndpoint {
  return {
    id: row.id as string,
    merchantId: merchantOf(row.merchant_id),
    url: row.url as string,
    events: JSON.parse(row.events as string) as MerchantEventType[],
    secret: row.secret as string,
    createdAt: row.created_at as string,
    createdAfter: Number(row.created_after),
  };
}

export const endpointParams = (e: WebhookEndpoint): unknown[] => [e.id, merchantColumn(e.merchantId), e.url, JSON.stringify(e.events), e.secret, e.createdAt, e.createdAfter];

export function toDelivery(row: Record<string, unknown>): Delivery {
  return {
    endpointId: row.endpoint_id as string,
    eventId: row.event_id as string,
    type: row.type as MerchantEventType,
    position: Number(row.position),
    status: row.status as DeliveryStatus,
    attempts: Number(row.attempts),
    history: JSON.parse(row.history as string) as Delivery['history'],
    nextAttemptAt: (row.next_attempt_at as string | null) ?? null,
    retriesSince: (row.retries_since as string | null) ?? null,
    createdAt: row.created_at as string,
  };
}

export function toFeedRow(row: Record<string, unknown>): FeedRow {
  return { position: Number(row.position), merchantId: merchantOf(row.merchant_id), event: JSON.parse(row.body as string) as MerchantEvent };
}

/** Columns of the endpoint joined to a due delivery, renamed so they don't clash with the delivery's. */
export function endpointOfJoin(row: Record<string, unknown>): WebhookEndpoint {
  return toEndpoint({
    id: row.endpoint_id,
    merchant_id: row.e_merchant_id,
    url: row.e_url,
    events: row.e_events,
    secret: row.e_secret,
    created_at: row.e_created_at,
    created_after: row.e_created_after,
  });
}
