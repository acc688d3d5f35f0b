import { randomBytes, randomUUID } from 'node:crypto';
import type { NewEvent } from '../../src/application/ports/event-store.port.js';
import { EventStoreDbEventStore } from '../../src/infrastructure/event-store/eventstoredb.event-store.js';
import { EventStoreStandIn } from '../support/eventstoredb-stand-in.js';
import { eventually, startTestApp } from '../support/harness.js';
import { until, withDeadline } from '../support/wait.js';

/**
 * The EventStoreDB adapter against server behaviour that only the in-process stand-in
 * (test/support/eventstoredb-stand-in.ts) can be made to show on purpose: system records, a
 * server without BatchAppend, a server before 23.10 or one that never ends a catch-up,
 * dropped subscriptions, positions shared by an append. Always run.
 */
const RUN = randomBytes(3).toString('hex');
let namespaces = 0;

/** A namespace no other test (or run) uses. */
function freshNamespace(): string {
  return `stand-in-${RUN}-${++namespaces}:`;
}

describe('EventStoreDB adapter on what only the in-process stand-in can show (not EventStoreDB: see eventstoredb.event-store.spec.ts)', () => {
  let standIn: EventStoreStandIn;
  beforeAll(async () => {
    standIn = await EventStoreStandIn.start();
  });
  afterAll(async () => {
    await standIn?.stop();
  });

  const stores: EventStoreDbEventStore[] = [];
  async function open(options: { namespace?: string; url?: string; onError?: (e: unknown) => void } = {}) {
    const store = await EventStoreDbEventStore.open({
      connectionString: options.url ?? standIn.url,
      namespace: options.namespace ?? freshNamespace(),
      onError: options.onError ?? (() => undefined),
    });
    stores.push(store);
    return store;
  }
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });

  it('keeps system streams, system event types and checkpoint streams out of the log (default namespace)', async () => {
    const own = await EventStoreStandIn.start(); // the default namespace needs a database of its own
    try {
      const store = await open({ namespace: '', url: own.url });
      expect(await store.headPosition()).toBe(0);

      const first = await store.append('order-1', [newEvent()], 'no-stream');
      own.write('$stats-127.0.0.1:2113', [{ type: '$statsCollected', data: {} }]);
      own.write('$$order-1', [{ type: '$metadata', data: { $maxAge: 100000 } }]);
      await store.save('projector', first.lastPosition, { seen: 1 });
      own.write('order-1', [{ type: '$>', data: {} }]); // a system event type in one of our streams

      expect((await store.readAll(0, 100)).map((e) => [e.streamName, e.position])).toEqual([['order-1', first.lastPosition]]);
      expect(await store.headPosition()).toBe(first.lastPosition); // past the trailing system event
      expect(await store.readStream('order-1')).toHaveLength(1);
      expect(await store.load('projector')).toEqual({ position: first.lastPosition, state: { seen: 1 } });
    } finally {
      await own.stop();
    }
  });

  it('appends through Append on a server without BatchAppend (older servers), with the same answers', async () => {
    const old = await EventStoreStandIn.start({ batchAppend: false });
    try {
      const store = await open({ url: old.url });
      const batch = [newEvent(), newEvent({ eventId: 'refund-p-1' })];

      expect(await store.append('order-1', batch, 'no-stream')).toMatchObject({ lastRevision: 1, duplicate: false });
      expect(await store.append('order-1', batch, 'no-stream')).toMatchObject({ lastRevision: 1, duplicate: true });
      await expect(store.append('order-1', [newEvent()], 0)).rejects.toMatchObject({ name: 'ConcurrencyError', actual: 1 });
      await expect(store.append('order-2', [newEvent()], 3)).rejects.toMatchObject({ name: 'ConcurrencyError', actual: 'no-stream' });
      expect(await store.append('order-1', [newEvent()], 'any')).toMatchObject({ lastRevision: 2, duplicate: false });
      expect((await store.readAll(0, 10)).map((e) => e.eventId)).toEqual([...batch.map((e) => e.eventId), expect.any(String)]);
    } finally {
      await old.stop();
    }
  });

  it('runs Payguard on it: a duplicate payment across two channels is refunded exactly once', async () => {
    const own = await EventStoreStandIn.start(); // the app uses the default namespace: a database of its own
    const app = await startTestApp({ EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: own.url });
    try {
      await app.request('POST', '/orders', { orderId: 'dup-1', amount: 1999, currency: 'CNY' });
      const bank = await app.request('POST', '/orders/dup-1/payments', { channel: 'sandbox-bank' });
      const wallet = await app.request('POST', '/orders/dup-1/payments', { channel: 'sandbox-wallet' });
      expect([bank.status, wallet.status]).toEqual([201, 201]);
      await app.pay(bank.body.paymentId);
      await app.pay(wallet.body.paymentId);

      const settled = await eventually(
        () => app.request('GET', '/orders/dup-1'),
        (answer) => answer.body.refunds?.length === 1 && answer.body.refunds[0].status === 'succeeded',
        10_000,
        'refund of the duplicate',
      );
      expect(settled.body).toMatchObject({ status: 'paid', paidBy: bank.body.paymentId, anomalies: [{ kind: 'duplicate-payment' }] });
      await app.settle();
      const log = (await app.request('GET', '/audit/events?limit=1000')).body.events as { type: string; position: number }[];
      expect(log.filter((e) => e.type.startsWith('Refund')).map((e) => e.type)).toEqual(['RefundRequested', 'RefundSucceeded']);
      expect(log.map((e) => e.position)).toEqual([...log.map((e) => e.position)].sort((a, b) => a - b));
    } finally {
      await app.close();
      await own.stop();
    }
  });

  it('reads the log on a server before 23.10 (no caught-up message: it stops at the checkpoint sent as it turns live)', async () => {
    const older = await EventStoreStandIn.start({ endOfCatchUp: 'checkpoint' });
    try {
      const store = await open({ url: older.url });
      const a = await store.append('order-1', [newEvent(), newEvent()], 'no-stream');
      older.write('elsewhere-1', [{ type: 'X', data: {} }]);
      const b = await store.append('order-2', [newEvent()], 'no-stream');
      older.write('elsewhere-1', [{ type: 'X', data: {} }]);

      const log = await store.readAll(0, 10);
      expect(log.map((e) => [e.streamName, e.revision])).toEqual([['order-1', 0], ['order-1', 1], ['order-2', 0]]);
      expect(log[1].position).toBe(a.lastPosition);
      expect((await store.readAll(log[0].position, 1)).map((e) => e.position)).toEqual([a.lastPosition]);
      expect(await store.readAll(b.lastPosition, 10)).toEqual([]);
      expect(await store.headPosition()).toBe(b.lastPosition);
    } finally {
      await older.stop();
    }
  });

  it('fails a read of the log, leaving no subscription open, when the server never says it has caught up', async () => {
    const silent = await EventStoreStandIn.start({ endOfCatchUp: 'nothing' });
    try {
      const store = await EventStoreDbEventStore.open({ connectionString: silent.url, namespace: freshNamespace(), readSilenceMs: 200 });
      stores.push(store);
      await store.append('order-1', [newEvent()], 'no-stream');
      silent.write('elsewhere-1', [{ type: 'X', data: {} }]); // the newest record is not the store's

      await expect(store.readAll(0, 10)).rejects.toThrow(/sent nothing for 200 ms/);
      await until(() => silent.liveSubscriptions === 1); // the store's own live one
    } finally {
      await silent.stop();
    }
  });

  it('takes at most `limit` events per read from its catch-up subscription and leaves none of them open', async () => {
    const own = await EventStoreStandIn.start(); // counting subscriptions needs a server of its own
    try {
      const store = await open({ url: own.url });
      for (let i = 0; i < 5; i++) await store.append(`order-${i}`, [newEvent()], 'no-stream');
      const positions: number[] = [];
      for (let page = await store.readAll(0, 2); page.length > 0; page = await store.readAll(positions.at(-1)!, 2)) {
        expect(page.length).toBeLessThanOrEqual(2);
        positions.push(...page.map((e) => e.position));
      }
      expect(positions).toHaveLength(5);
      expect([...positions].sort((x, y) => x - y)).toEqual(positions);
      await until(() => own.liveSubscriptions === 1); // only the store's own live one remains
    } finally {
      await own.stop();
    }
  });

  it('finds its head behind more records of others than one backwards page holds, then reads on from what it scanned', async () => {
    const store = await open();
    const others = (n: number) => standIn.write(`${store.namespace}payguard_leader`, Array.from({ length: n }, () => ({ type: 'X', data: {} })));
    const first = await store.append('order-1', [newEvent()], 'no-stream');
    others(300);
    expect(await store.headPosition()).toBe(first.lastPosition);
    expect(await store.headPosition()).toBe(first.lastPosition); // nothing new: from what it remembers
    others(10);
    expect(await store.headPosition()).toBe(first.lastPosition);
    const second = await store.append('order-1', [newEvent()], 0);
    others(300);
    expect(await store.headPosition()).toBe(second.lastPosition);
    expect((await store.readAll(first.lastPosition, 10)).map((e) => e.position)).toEqual([second.lastPosition]);
  });

  it('gives the events of one multi-event append distinct positions although they share a prepare position', async () => {
    const store = await open();
    const result = await store.append('order-1', [newEvent(), newEvent(), newEvent()], 'no-stream');

    const positions = (await store.readAll(0, 10)).map((e) => e.position);
    expect(positions).toHaveLength(3);
    expect(new Set(positions).size).toBe(3);
    expect(result.lastPosition).toBe(positions[2]);
  });

  it('opens its $all subscription again after it is dropped, and then wakes its listeners', async () => {
    const errors: unknown[] = [];
    const store = await open({ onError: (e) => errors.push(e) });
    const other = await open({ namespace: store.namespace });
    const woken = new Promise<void>((resolve) => store.onAppended(resolve));

    expect(standIn.dropSubscriptions()).toBeGreaterThanOrEqual(2);

    await withDeadline(woken); // told on resubscription: appends may have been missed meanwhile
    expect(errors.length).toBeGreaterThan(0);
    await until(() => standIn.liveSubscriptions >= 2);
    const again = new Promise<void>((resolve) => store.onAppended(resolve));
    await other.append('order-1', [newEvent()], 'no-stream');
    await withDeadline(again);
  });
});

function newEvent(overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    eventId: randomUUID(),
    type: 'Tested',
    data: { amount: 1999, nested: { ok: true, none: null } },
    metadata: { occurredAt: '2025-01-02T03:04:05.678Z', correlationId: randomUUID(), causationId: null, schemaVersion: 1 },
    ...overrides,
  };
}

