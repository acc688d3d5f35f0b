/** What the webhook endpoints API answers with: the stored rows without what is not the caller's to see again (the secret). */
import type { Delivery, MerchantEvent, WebhookEndpoint } from '../../application/ports/webhook-store.port.js';
import { Forbidden } from '../../application/shared/errors.js';
import type { Viewer } from '../../application/shared/viewer.js';

export interface EndpointView {
  readonly id: string;
  readonly url: string;
  readonly events: readonly string[];
  readonly createdAt: string;
}

export const endpointView = ({ id, url, events, createdAt }: WebhookEndpoint): EndpointView => ({ id, url, events, createdAt });

export interface DeliveryView {
  readonly eventId: string;
  readonly type: string;
  readonly status: Delivery['status'];
  readonly attemptCount: number;
  /** The most recent tries, oldest first: when, and the receiver's status code or why there was none. */
  readonly attempts: Delivery['history'];
  readonly nextAttemptAt: string | null;
  readonly createdAt: string;
}

export const deliveryView = (d: Delivery): DeliveryView => ({
  eventId: d.eventId,
  type: d.type,
  status: d.status,
  attemptCount: d.attempts,
  attempts: d.history,
  nextAttemptAt: d.nextAttemptAt,
  createdAt: d.createdAt,
});

export interface EventsPage {
  readonly events: MerchantEvent[];
  readonly next: number;
}

/** Whose endpoints: a merchant key's own, or the open service's (null). Auditor and operator keys have none. */
export function endpointOwner(viewer: Viewer): string | null {
  if (viewer.kind === 'merchant') return viewer.merchantId;
  if (viewer.kind === 'open') return null;
  throw new Forbidden('webhook endpoints belong to merchant keys');
}
