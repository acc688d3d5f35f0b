/**
 * Idempotency-Key over HTTP, driven as a merchant's service would: a retry with the same key and
 * body gets the first answer again (status, body, content type) and runs nothing; the same key
 * with another request is 409 idempotency-conflict; keys are per merchant; copies sent at once run
 * the command once; answers a retry could change (5xx) are not kept; keys expire after 24 h.
 */
import type { Clock } from '../../src/application/ports/clock.port.js';
import { startTestApp, type Answer, type TestApp } from '../support/harness.js';

const PROBLEM = 'https://payguard.dev/problems/';

/** The service's clock, moved by the test (it starts at the real time, which the in-process sandbox also uses). */
class TestClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

const keyed = (key: string, headers: Record<string, string> = {}) => ({ 'Idempotency-Key': key, ...headers });

async function eventsOfType(app: TestApp, type: string): Promise<any[]> {
  const found: any[] = [];
  for (let after = 0; ; ) {
    const page = await app.request('GET', `/audit/events?after=${after}&limit=1000`);
    expect(page.status).toBe(200);
    found.push(...page.body.events.filter((event: any) => event.type === type));
    if (page.body.events.length < 1000) return found;
    after = page.body.next;
  }
}

function expectReplayOf(replay: Answer, first: Answer): void {
  expect(replay.status).toBe(first.status);
  expect(replay.body).toEqual(first.body);
  expect(replay.headers.get('content-type')).toBe(first.headers.get('content-type'));
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
}

describe('Idempotency-Key, open service', () => {
  let app: TestApp;
  const clock = new TestClock();

  beforeAll(async () => {
    app = await startTestApp({}, { clock });
  });

  afterAll(async () => {
    await app.close();
  });

  it('answers a repeated POST /orders without orderId with the first order, and places one', async () => {
    const body = { amount: 1999, currency: 'CNY', description: 'idem-once' };
    const first = await app.request('POST', '/orders', body, keyed('order-once'));
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await app.request('POST', '/orders', body, keyed('order-once'));
    expectReplayOf(again, first);
    expect(again.body.orderId).toBe(first.body.orderId);
    const placed = (await eventsOfType(app, 'OrderPlaced')).filter((event) => event.data.description === 'idem-once');
    expect(placed).toHaveLength(1);
  });

  it('takes the same fields in another order and spacing as the same request', async () => {
    const first = await app.request('POST', '/orders', { amount: 500, currency: 'CNY' }, keyed('order-canonical'));
    const again = await app.request('POST', '/orders', '{ "currency": "CNY",\n  "amount": 500 }', keyed('order-canonical', { 'content-type': 'application/json' }));
    expectReplayOf(again, first);
  });

  it('refuses the same key with another body: 409 idempotency-conflict, nothing placed', async () => {
    const first = await app.request('POST', '/orders', { amount: 700, currency: 'CNY', description: 'idem-conflict' }, keyed('order-conflict'));
    expect(first.status).toBe(201);
    const other = await app.request('POST', '/orders', { amount: 701, currency: 'CNY', description: 'idem-conflict' }, keyed('order-conflict'));
    expect(other.status).toBe(409);
    expect(other.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(other.body.type).toBe(`${PROBLEM}idempotency-conflict`);
    // Another path with the key is another request too.
    const elsewhere = await app.request('POST', `/orders/${first.body.orderId}/close`, {}, keyed('order-conflict'));
    expect(elsewhere.body.type).toBe(`${PROBLEM}idempotency-conflict`);
    expect((await eventsOfType(app, 'OrderPlaced')).filter((event) => event.data.description === 'idem-conflict')).toHaveLength(1);
    expect((await app.request('GET', `/orders/${first.body.orderId}`)).body.status).toBe('pending');
    const page = await app.request('GET', '/problems/idempotency-conflict');
    expect(page.body).toMatchObject({ status: 409, slug: 'idempotency-conflict' });
  });

  it('leaves a POST without the header as it was: each one places an order', async () => {
    const body = { amount: 300, currency: 'CNY', description: 'idem-none' };
    const [a, b] = [await app.request('POST', '/orders', body), await app.request('POST', '/orders', body)];
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.orderId).not.toBe(b.body.orderId);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
  });

  it('refuses a malformed key with 400 validation and records nothing', async () => {
    const before = await app.running.store.headPosition();
    for (const key of ['k'.repeat(256), 'tab\there']) {
      const answer = await app.request('POST', '/orders', { amount: 100, currency: 'CNY' }, keyed(key));
      expect(answer.status).toBe(400);
      expect(answer.body.type).toBe(`${PROBLEM}validation`);
      expect(answer.body.errors).toEqual([{ field: 'Idempotency-Key', message: expect.any(String) }]);
    }
    expect(await app.running.store.headPosition()).toBe(before);
    expect((await app.request('POST', '/orders', { amount: 100, currency: 'CNY' }, keyed('k'.repeat(255)))).status).toBe(201);
  });

  it('keeps a 4xx final answer as it was sent: the same bad body again is the same problem, replayed', async () => {
    const first = await app.request('POST', '/orders', { amount: -1, currency: 'CNY' }, keyed('bad-body'));
    expect(first.status).toBe(400);
    expect(first.body.type).toBe(`${PROBLEM}validation`);
    expectReplayOf(await app.request('POST', '/orders', { amount: -1, currency: 'CNY' }, keyed('bad-body')), first);
  });

  it('replays a payment start with the same paymentId and appends nothing', async () => {
    const order = await app.request('POST', '/orders', { amount: 1200, currency: 'CNY' });
    const path = `/orders/${order.body.orderId}/payments`;
    const first = await app.request('POST', path, { channel: 'sandbox-bank' }, keyed('pay-once'));
    expect(first.status).toBe(201);
    const head = await app.running.store.headPosition();
    const again = await app.request('POST', path, { channel: 'sandbox-bank' }, keyed('pay-once'));
    expectReplayOf(again, first);
    expect(again.body.paymentId).toBe(first.body.paymentId);
    expect(await app.running.store.headPosition()).toBe(head);
  });

  it('replays a close, and closes once', async () => {
    const order = await app.request('POST', '/orders', { amount: 1300, currency: 'CNY' });
    const path = `/orders/${order.body.orderId}/close`;
    const first = await app.request('POST', path, { reason: 'customer left' }, keyed('close-once'));
    expect(first.status).toBe(200);
    expectReplayOf(await app.request('POST', path, { reason: 'customer left' }, keyed('close-once')), first);
    expect((await eventsOfType(app, 'OrderClosed')).filter((event) => event.data.orderId === order.body.orderId)).toHaveLength(1);
  });

  it('does not keep a 5xx: a retry runs again, and its final answer is then kept', async () => {
    const order = await app.request('POST', '/orders', { amount: 1400, currency: 'CNY' });
    const payment = await app.request('POST', `/orders/${order.body.orderId}/payments`, { channel: 'sandbox-wallet' });
    const path = `/payments/${payment.body.paymentId}/sync`;
    await app.faults({ apiDown: true });
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const down = await app.request('POST', path, undefined, keyed('sync-retry'));
        expect(down.status).toBe(503);
        expect(down.body.type).toBe(`${PROBLEM}channel-unavailable`);
        expect(down.headers.get('idempotent-replayed')).toBeNull();
      }
    } finally {
      await app.faults({});
    }
    const up = await app.request('POST', path, undefined, keyed('sync-retry'));
    expect(up.status).toBe(200);
    expect(up.headers.get('idempotent-replayed')).toBeNull();
    expectReplayOf(await app.request('POST', path, undefined, keyed('sync-retry')), up);
  });

  it('runs copies sent at once a single time: one order, every other answer a replay of it or 409 idempotency-in-flight', async () => {
    const body = { amount: 2500, currency: 'CNY', description: 'idem-race' };
    const answers = await Promise.all(Array.from({ length: 12 }, () => app.request('POST', '/orders', body, keyed('order-race'))));
    const ran = answers.filter((answer) => answer.status === 201 && answer.headers.get('idempotent-replayed') === null);
    expect(ran).toHaveLength(1);
    for (const answer of answers) {
      if (answer === ran[0]) continue;
      if (answer.status === 409) {
        expect(answer.body.type).toBe(`${PROBLEM}idempotency-in-flight`);
        expect(answer.headers.get('retry-after')).toBe('1');
      } else {
        expectReplayOf(answer, ran[0]);
      }
    }
    expectReplayOf(await app.request('POST', '/orders', body, keyed('order-race')), ran[0]);
    expect((await eventsOfType(app, 'OrderPlaced')).filter((event) => event.data.description === 'idem-race')).toHaveLength(1);
  });

  it('forgets a key after 24 hours by the service clock', async () => {
    const body = { amount: 800, currency: 'CNY', expiresInSeconds: 7 * 24 * 3600, description: 'idem-expiry' };
    const first = await app.request('POST', '/orders', body, keyed('order-expiry'));
    expect(first.status).toBe(201);
    clock.advance(24 * 3600_000 - 1000);
    expectReplayOf(await app.request('POST', '/orders', body, keyed('order-expiry')), first);
    clock.advance(2000);
    const later = await app.request('POST', '/orders', body, keyed('order-expiry'));
    expect(later.status).toBe(201);
    expect(later.headers.get('idempotent-replayed')).toBeNull();
    expect(later.body.orderId).not.toBe(first.body.orderId);
  });
});

describe('Idempotency-Key, with API keys', () => {
  let app: TestApp;
  const A = { authorization: 'Bearer key-a' };
  const B = { authorization: 'Bearer key-b' };

  beforeAll(async () => {
    app = await startTestApp({ API_KEYS: 'key-a:shop-a,key-b:shop-b,key-o:*:operator', WEBHOOK_ALLOW_PRIVATE: 'true' });
  });

  afterAll(async () => {
    await app.close();
  });

  it('keeps each merchant its own keys: the same key for two merchants is two requests', async () => {
    const body = { amount: 1999, currency: 'CNY' };
    const a = await app.request('POST', '/orders', body, keyed('shared-key', A));
    const b = await app.request('POST', '/orders', body, keyed('shared-key', B));
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
    expect(a.body.orderId).not.toBe(b.body.orderId);
    // Another body under B's key is no conflict with A's request.
    const bOther = await app.request('POST', '/orders', { amount: 1, currency: 'CNY' }, keyed('shared-key-2', B));
    expect(bOther.status).toBe(201);
    expectReplayOf(await app.request('POST', '/orders', body, keyed('shared-key', A)), a);
    expectReplayOf(await app.request('POST', '/orders', body, keyed('shared-key', B)), b);
    expect((await app.request('GET', `/orders/${a.body.orderId}`, undefined, B)).status).toBe(404);
  });

  it('replays a webhook endpoint creation: one endpoint, the same id and secret', async () => {
    const body = { url: 'http://127.0.0.1:9/hooks', events: ['order.paid'] };
    const first = await app.request('POST', '/webhook-endpoints', body, keyed('hook-once', A));
    expect(first.status).toBe(201);
    expectReplayOf(await app.request('POST', '/webhook-endpoints', body, keyed('hook-once', A)), first);
    const listed = await app.request('GET', '/webhook-endpoints', undefined, A);
    expect(listed.body.endpoints.map((endpoint: any) => endpoint.id)).toEqual([first.body.id]);
  });

  it('keeps nothing for a request the auth guard refused: the key is still free for another request', async () => {
    const O = { authorization: 'Bearer key-o' };
    const refused = await app.request('POST', '/orders', { amount: 600, currency: 'CNY' }, keyed('after-403', O));
    expect(refused.status).toBe(403);
    // Kept, the 403 would make this other request (another path) a conflict.
    const resolve = await app.request('POST', '/refunds/refund-nope/resolve', { resolution: 'written-off', note: 'n' }, keyed('after-403', O));
    expect(resolve.status).toBe(404);
    expect(resolve.body.type).toBe(`${PROBLEM}not-found`);
    expectReplayOf(await app.request('POST', '/refunds/refund-nope/resolve', { resolution: 'written-off', note: 'n' }, keyed('after-403', O)), resolve);
  });
});
