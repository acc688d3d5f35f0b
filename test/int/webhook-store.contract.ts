/** The promises every webhook store adapter keeps (memory, SQLite, PostgreSQL): the same assertions for each. */
import type { FeedRow, MerchantEventType, NewDelivery, WebhookEndpoint, WebhookStore } from '../../src/application/ports/webhook-store.port.js';
import { DELIVERY_HISTORY } from '../../src/application/ports/webhook-store.port.js';

export interface WebhookStoreFactory {
  open(): Promise<WebhookStore>;
  /** Closes `store` and opens the same storage again (absent: nothing outlives the process). */
  reopen?: (store: WebhookStore) => Promise<WebhookStore>;
}

const T0 = '2026-11-30T10:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

function row(position: number, merchantId: string | null, type: MerchantEventType = 'order.paid'): FeedRow {
  return { position, merchantId, event: { id: `event-${position}`, type, createdAt: at(position), data: { orderId: `o-${position}`, amount: 100 * position, currency: 'CNY' } } };
}

function endpoint(id: string, merchantId: string | null, events: MerchantEventType[] = ['order.paid'], createdAfter = 0): WebhookEndpoint {
  return { id, merchantId, url: `https://${id}.example/hooks`, events, secret: `whsec_${id}`, createdAt: at(0), createdAfter };
}

const delivery = (endpointId: string, position: number, type: MerchantEventType = 'order.paid'): NewDelivery => ({ endpointId, position, eventId: `event-${position}`, type, createdAt: at(position) });

export function describeWebhookStoreContract(name: string, factory: WebhookStoreFactory): void {
  describe(`${name} webhook store`, () => {
    let store: WebhookStore;
    beforeEach(async () => {
      store = await factory.open();
    });
    afterEach(() => store.close());

    it('records feed rows and deliveries with the position, and a repeated batch adds nothing', async () => {
      await store.createEndpoint(endpoint('we_a', 'merchant-a'));
      expect(await store.position()).toBe(0);
      const rows = [row(1, 'merchant-a'), row(2, 'merchant-b'), row(3, null)];
      await store.record(rows, [delivery('we_a', 1)], 5);
      await store.record(rows, [delivery('we_a', 1)], 5);
      expect(await store.position()).toBe(5);
      expect(await store.feed({ scope: 'all', after: 0, limit: 10 })).toEqual(rows);
      const [only] = await store.deliveries('we_a', 10);
      expect(only).toEqual({ endpointId: 'we_a', eventId: 'event-1', type: 'order.paid', position: 1, status: 'pending', attempts: 0, history: [], nextAttemptAt: at(1), retriesSince: null, createdAt: at(1) });
      expect(await store.deliveries('we_a', 10)).toHaveLength(1);
    });

    it('never moves the position back, and records no delivery for an endpoint that is gone', async () => {
      await store.record([], [], 9);
      await store.record([row(4, 'merchant-a')], [delivery('we_gone', 4)], 4);
      expect(await store.position()).toBe(9);
      expect(await store.deliveries('we_gone', 10)).toEqual([]);
    });

    it("pages a merchant's feed by position, by type, and keeps merchants (and the open service) apart", async () => {
      await store.record([row(1, 'merchant-a'), row(2, 'merchant-b'), row(3, 'merchant-a', 'refund.failed'), row(4, null), row(5, 'merchant-a')], [], 5);
      const ofA = { merchantId: 'merchant-a' };
      expect((await store.feed({ scope: ofA, after: 0, limit: 2 })).map((r) => r.position)).toEqual([1, 3]);
      expect((await store.feed({ scope: ofA, after: 3, limit: 2 })).map((r) => r.position)).toEqual([5]);
      expect((await store.feed({ scope: ofA, after: 0, limit: 10, types: ['refund.failed'] })).map((r) => r.position)).toEqual([3]);
      expect((await store.feed({ scope: ofA, after: 0, limit: 10, types: ['order.paid', 'refund.failed'] })).map((r) => r.position)).toEqual([1, 3, 5]);
      expect((await store.feed({ scope: { merchantId: null }, after: 0, limit: 10 })).map((r) => r.position)).toEqual([4]);
      expect((await store.feed({ scope: { merchantId: 'merchant-b' }, after: 0, limit: 10 }))[0]).toEqual(row(2, 'merchant-b'));
    });

    it('keeps endpoints per merchant, with their secrets, and deletes one with its deliveries', async () => {
      await store.createEndpoint(endpoint('we_a1', 'merchant-a', ['order.paid', 'refund.failed'], 7));
      await store.createEndpoint(endpoint('we_b1', 'merchant-b'));
      await store.createEndpoint(endpoint('we_open', null));
      // Refused, whatever the store's error: a driver's error class may come from another realm
      // than the test's (jest shares native modules between test files), so not toThrow().
      const again = await store.createEndpoint(endpoint('we_a1', 'merchant-a')).then(() => 'stored', (error: unknown) => error);
      expect(again).not.toBe('stored');
      expect(await store.endpoint('we_a1')).toEqual(endpoint('we_a1', 'merchant-a', ['order.paid', 'refund.failed'], 7));
      expect((await store.endpointsOf('merchant-a')).map((e) => e.id)).toEqual(['we_a1']);
      expect((await store.endpointsOf(null)).map((e) => e.id)).toEqual(['we_open']);
      expect((await store.allEndpoints()).map((e) => e.id).sort()).toEqual(['we_a1', 'we_b1', 'we_open']);
      await store.record([row(8, 'merchant-a')], [delivery('we_a1', 8)], 8);
      expect(await store.deleteEndpoint('we_a1')).toBe(true);
      expect(await store.deleteEndpoint('we_a1')).toBe(false);
      expect(await store.endpoint('we_a1')).toBeNull();
      expect(await store.deliveries('we_a1', 10)).toEqual([]);
      expect(await store.due(at(100), 10)).toEqual([]);
    });

    it('gives due deliveries soonest first with their endpoint and event, skipping those in flight', async () => {
      await store.createEndpoint(endpoint('we_a', 'merchant-a'));
      await store.record([row(1, 'merchant-a'), row(2, 'merchant-a'), row(3, 'merchant-a')], [delivery('we_a', 1), delivery('we_a', 2), delivery('we_a', 3)], 3);
      expect(await store.nextDueAt()).toBe(at(1));
      expect((await store.due(at(2), 10)).map((d) => d.delivery.eventId)).toEqual(['event-1', 'event-2']);
      const [first] = await store.due(at(2), 1, new Set(['we_a event-1']));
      expect(first).toEqual({ delivery: expect.objectContaining({ eventId: 'event-2', status: 'pending' }), endpoint: endpoint('we_a', 'merchant-a'), event: row(2, 'merchant-a').event });
    });

    it('records attempts: a retry is due later, a success or a give-up is not due again; a resend reopens it', async () => {
      await store.createEndpoint(endpoint('we_a', 'merchant-a'));
      await store.record([row(1, 'merchant-a')], [delivery('we_a', 1)], 1);
      const failed = { at: at(1), statusCode: 500, error: null };
      await store.recordAttempt('we_a', 'event-1', { attempt: failed, status: 'pending', nextAttemptAt: at(2), retriesSince: at(1) });
      expect(await store.due(at(1), 10)).toEqual([]);
      expect(await store.due(at(2), 10)).toHaveLength(1);
      const timedOut = { at: at(2), statusCode: null, error: 'no answer within 10000 ms' };
      await store.recordAttempt('we_a', 'event-1', { attempt: timedOut, status: 'failed', nextAttemptAt: null, retriesSince: at(1) });
      expect(await store.delivery('we_a', 'event-1')).toMatchObject({ status: 'failed', attempts: 2, history: [failed, timedOut], nextAttemptAt: null, retriesSince: at(1) });
      expect(await store.nextDueAt()).toBeNull();
      expect(await store.resend('we_a', 'event-1', at(50))).toBe(true);
      expect(await store.resend('we_a', 'event-404', at(50))).toBe(false);
      expect(await store.delivery('we_a', 'event-1')).toMatchObject({ status: 'pending', attempts: 2, nextAttemptAt: at(50), retriesSince: null });
      await store.recordAttempt('we_a', 'event-1', { attempt: { at: at(50), statusCode: 204, error: null }, status: 'succeeded', nextAttemptAt: null, retriesSince: at(50) });
      expect(await store.delivery('we_a', 'event-1')).toMatchObject({ status: 'succeeded', attempts: 3 });
      expect(await store.due(at(1000), 10)).toEqual([]);
      await store.recordAttempt('we_a', 'event-404', { attempt: failed, status: 'pending', nextAttemptAt: at(2), retriesSince: at(1) });
      expect(await store.delivery('we_a', 'event-404')).toBeNull();
    });

    it(`keeps the last ${DELIVERY_HISTORY} attempts and counts them all`, async () => {
      await store.createEndpoint(endpoint('we_a', 'merchant-a'));
      await store.record([row(1, 'merchant-a')], [delivery('we_a', 1)], 1);
      for (let i = 0; i < DELIVERY_HISTORY + 3; i++) {
        await store.recordAttempt('we_a', 'event-1', { attempt: { at: at(i), statusCode: 500, error: null }, status: 'pending', nextAttemptAt: at(i + 1), retriesSince: at(0) });
      }
      const stored = await store.delivery('we_a', 'event-1');
      expect(stored!.attempts).toBe(DELIVERY_HISTORY + 3);
      expect(stored!.history).toHaveLength(DELIVERY_HISTORY);
      expect(stored!.history[0].at).toBe(at(3));
    });

    it('lists deliveries newest event first, up to a limit', async () => {
      await store.createEndpoint(endpoint('we_a', 'merchant-a'));
      await store.record([row(1, 'merchant-a'), row(2, 'merchant-a'), row(3, 'merchant-a')], [delivery('we_a', 1), delivery('we_a', 2), delivery('we_a', 3)], 3);
      expect((await store.deliveries('we_a', 2)).map((d) => d.position)).toEqual([3, 2]);
    });

    if (factory.reopen) {
      it('keeps endpoints, deliveries, the feed and the position across a restart', async () => {
        await store.createEndpoint(endpoint('we_a', 'merchant-a'));
        await store.record([row(1, 'merchant-a')], [delivery('we_a', 1)], 2);
        store = await factory.reopen!(store);
        expect(await store.position()).toBe(2);
        expect(await store.endpoint('we_a')).toEqual(endpoint('we_a', 'merchant-a'));
        expect(await store.feed({ scope: 'all', after: 0, limit: 10 })).toEqual([row(1, 'merchant-a')]);
        expect((await store.due(at(5), 10)).map((d) => d.delivery.eventId)).toEqual(['event-1']);
      });
    }
  });
}
