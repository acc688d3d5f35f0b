import {
  DELIVERY_HISTORY,
  deliveryKey,
  type AttemptOutcome,
  type Delivery,
  type DueDelivery,
  type FeedQuery,
  type FeedRow,
  type NewDelivery,
  type WebhookEndpoint,
  type WebhookStore,
} from '../../application/ports/webhook-store.port.js';

/** The webhook store in memory (EVENT_STORE=memory, and tests): gone with the process, like the events. */
export class MemoryWebhookStore implements WebhookStore {
  private recorded = 0;
  private readonly rows = new Map<number, FeedRow>();
  private readonly endpoints = new Map<string, WebhookEndpoint>();
  private readonly deliveryRows = new Map<string, Delivery>();

  async position(): Promise<number> {
    return this.recorded;
  }

  async record(rows: readonly FeedRow[], deliveries: readonly NewDelivery[], position: number): Promise<void> {
    for (const row of rows) if (!this.rows.has(row.position)) this.rows.set(row.position, row);
    for (const created of deliveries) {
      const key = deliveryKey(created.endpointId, created.eventId);
      if (this.deliveryRows.has(key) || !this.endpoints.has(created.endpointId)) continue;
      this.deliveryRows.set(key, {
        ...created,
        status: 'pending',
        attempts: 0,
        history: [],
        nextAttemptAt: created.createdAt,
        retriesSince: null,
      });
    }
    this.recorded = Math.max(this.recorded, position);
  }

  async createEndpoint(endpoint: WebhookEndpoint): Promise<void> {
    if (this.endpoints.has(endpoint.id)) throw new Error(`webhook endpoint ${endpoint.id} exists`);
    this.endpoints.set(endpoint.id, endpoint);
  }

  async allEndpoints(): Promise<WebhookEndpoint[]> {
    return [...this.endpoints.values()];
  }

  async endpointsOf(merchantId: string | null): Promise<WebhookEndpoint[]> {
    return [...this.endpoints.values()].filter((endpoint) => endpoint.merchantId === merchantId);
  }

  async endpoint(id: string): Promise<WebhookEndpoint | null> {
    return this.endpoints.get(id) ?? null;
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    if (!this.endpoints.delete(id)) return false;
    for (const [key, delivery] of this.deliveryRows) if (delivery.endpointId === id) this.deliveryRows.delete(key);
    return true;
  }

  async due(now: string, limit: number, except: ReadonlySet<string> = new Set()): Promise<DueDelivery[]> {
    return [...this.deliveryRows.values()]
      .filter((d) => d.status === 'pending' && d.nextAttemptAt !== null && d.nextAttemptAt <= now && !except.has(deliveryKey(d.endpointId, d.eventId)))
      .sort((a, b) => (a.nextAttemptAt! < b.nextAttemptAt! ? -1 : a.nextAttemptAt! > b.nextAttemptAt! ? 1 : a.position - b.position))
      .slice(0, limit)
      .map((delivery) => ({ delivery, endpoint: this.endpoints.get(delivery.endpointId)!, event: this.rows.get(delivery.position)!.event }));
  }

  async nextDueAt(): Promise<string | null> {
    let next: string | null = null;
    for (const d of this.deliveryRows.values()) {
      if (d.status === 'pending' && d.nextAttemptAt !== null && (next === null || d.nextAttemptAt < next)) next = d.nextAttemptAt;
    }
    return next;
  }

  async recordAttempt(endpointId: string, eventId: string, outcome: AttemptOutcome): Promise<void> {
    const key = deliveryKey(endpointId, eventId);
    const delivery = this.deliveryRows.get(key);
    if (delivery === undefined) return;
    this.deliveryRows.set(key, {
      ...delivery,
      status: outcome.status,
      attempts: delivery.attempts + 1,
      history: [...delivery.history, outcome.attempt].slice(-DELIVERY_HISTORY),
      nextAttemptAt: outcome.nextAttemptAt,
      retriesSince: outcome.retriesSince,
    });
  }

  async deliveries(endpointId: string, limit: number): Promise<Delivery[]> {
    return [...this.deliveryRows.values()]
      .filter((d) => d.endpointId === endpointId)
      .sort((a, b) => b.position - a.position)
      .slice(0, limit);
  }

  async delivery(endpointId: string, eventId: string): Promise<Delivery | null> {
    return this.deliveryRows.get(deliveryKey(endpointId, eventId)) ?? null;
  }

  async resend(endpointId: string, eventId: string, now: string): Promise<boolean> {
    const key = deliveryKey(endpointId, eventId);
    const delivery = this.deliveryRows.get(key);
    if (delivery === undefined) return false;
    this.deliveryRows.set(key, { ...delivery, status: 'pending', nextAttemptAt: now, retriesSince: null });
    return true;
  }

  async feed(query: FeedQuery): Promise<FeedRow[]> {
    const { scope, after, limit, types } = query;
    return [...this.rows.values()]
      .filter((row) => row.position > after && (scope === 'all' || row.merchantId === scope.merchantId) && (types === undefined || types.includes(row.event.type)))
      .sort((a, b) => a.position - b.position)
      .slice(0, limit);
  }

  async close(): Promise<void> {}
}
