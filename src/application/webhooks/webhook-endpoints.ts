import { Inject, Injectable } from '@nestjs/common';
import { InvalidRequest, NotFound } from '../shared/errors.js';
import { CLOCK, ID_GENERATOR, type Clock, type IdGenerator } from '../ports/clock.port.js';
import { EVENT_STORE, type EventStore } from '../ports/event-store.port.js';
import {
  WEBHOOK_STORE,
  WEBHOOK_URL_POLICY,
  type Delivery,
  type FeedRow,
  type FeedScope,
  type MerchantEventType,
  type WebhookEndpoint,
  type WebhookStore,
  type WebhookUrlPolicy,
} from '../ports/webhook-store.port.js';
import { WebhookDispatcher } from './webhook-dispatcher.js';

/** Endpoints one merchant may have: enough for every environment of a shop, few enough that one event can't fan out unbounded. */
export const MAX_ENDPOINTS = 20;

/**
 * A merchant's webhook endpoints and its feed. `merchantId` null is the open service's own (no
 * API keys): it gets the events of orders placed without a merchant key. Another merchant's
 * endpoint is answered as not found.
 */
@Injectable()
export class WebhookEndpoints {
  constructor(
    @Inject(WEBHOOK_STORE) private readonly store: WebhookStore,
    @Inject(WEBHOOK_URL_POLICY) private readonly urls: WebhookUrlPolicy,
    @Inject(EVENT_STORE) private readonly events: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    private readonly dispatcher: WebhookDispatcher,
  ) {}

  async create(merchantId: string | null, url: string, events: readonly MerchantEventType[]): Promise<WebhookEndpoint> {
    const refusal = await this.urls.refusal(url);
    if (refusal !== null) throw new InvalidRequest([{ field: 'url', message: refusal }]);
    if ((await this.store.endpointsOf(merchantId)).length >= MAX_ENDPOINTS) {
      throw new InvalidRequest([{ field: 'url', message: `a merchant has at most ${MAX_ENDPOINTS} webhook endpoints; delete one first` }]);
    }
    const endpoint: WebhookEndpoint = {
      id: `we_${this.ids.token(24)}`,
      merchantId,
      url,
      events: [...new Set(events)],
      // About 238 bits: it signs deliveries, and only the merchant (told it once) may know it.
      secret: `whsec_${this.ids.token(40)}`,
      createdAt: this.clock.now().toISOString(),
      createdAfter: await this.events.headPosition(),
    };
    await this.store.createEndpoint(endpoint);
    return endpoint;
  }

  list(merchantId: string | null): Promise<WebhookEndpoint[]> {
    return this.store.endpointsOf(merchantId);
  }

  async remove(merchantId: string | null, id: string): Promise<void> {
    await this.owned(merchantId, id);
    await this.store.deleteEndpoint(id);
  }

  async deliveries(merchantId: string | null, id: string, limit: number): Promise<Delivery[]> {
    await this.owned(merchantId, id);
    return this.store.deliveries(id, limit);
  }

  /** Sends the event to the endpoint again now, whatever became of it before (the retries start over). */
  async resend(merchantId: string | null, id: string, eventId: string): Promise<Delivery> {
    await this.owned(merchantId, id);
    if (!(await this.store.resend(id, eventId, this.clock.now().toISOString()))) throw new NotFound(`no delivery of event ${eventId} to webhook endpoint ${id}`);
    this.dispatcher.wake();
    return (await this.store.delivery(id, eventId))!;
  }

  feed(scope: FeedScope, after: number, limit: number, types?: readonly MerchantEventType[]): Promise<FeedRow[]> {
    return this.store.feed({ scope, after, limit, types });
  }

  private async owned(merchantId: string | null, id: string): Promise<WebhookEndpoint> {
    const endpoint = await this.store.endpoint(id);
    if (endpoint === null || endpoint.merchantId !== merchantId) throw new NotFound(`no webhook endpoint ${id}`);
    return endpoint;
  }
}
